"""The training GUI's parts without the main window: figures, event relay, run records, setup checks, panel."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score

from medtl_gui.core.training.config import TrainConfig
from medtl_gui.core.training.events import (
    BatchEnd,
    EpochEnd,
    RunPaused,
    RunStarted,
    ValidationSample,
    ValidationSamples,
)
from medtl_gui.core.evaluation.epoch_figures import (
    ValidationFigures,
    ValidationPrediction,
    per_class_figures,
    roc_curve,
    roc_curves,
    row_percentages,
    validation_figures,
)
from medtl_gui.gui.training.run_progress import ProgressRelay, error_hint
from medtl_gui.core.runs.history import config_differences, list_runs, read_validation, summarise_run
from medtl_gui.core.training.setup_checks import (
    DataSummary,
    preset_config,
    setup_problems,
    training_threads,
    weight_choices,
)


# ------------------------------------------------------------------------------ figures
def test_per_class_figures_match_scikit_learn():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 200)
    predicted = np.where(rng.random(200) < 0.6, truth, rng.integers(0, 3, 200))
    cm = confusion_matrix(truth, predicted, labels=[0, 1, 2])
    figures = per_class_figures(cm, ["a", "b", "c"])
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=[0, 1, 2])
    for c, f in enumerate(figures):
        assert f.support == support[c]
        assert f.precision == pytest.approx(precision[c]) and f.recall == pytest.approx(recall[c])
        assert f.f1 == pytest.approx(f1[c])
        negatives = truth != c
        assert f.specificity == pytest.approx(np.mean(predicted[negatives] != c))


def test_undefined_figures_are_none_and_empty_rows_stay_zero():
    figures = per_class_figures([[3, 0], [0, 0]], ["x", "y"])
    assert figures[1].recall is None and figures[1].precision is None and figures[1].f1 is None
    np.testing.assert_allclose(row_percentages([[1, 3], [0, 0]]), [[25.0, 75.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="does not fit"):
        per_class_figures([[1, 2], [3, 4]], ["only one"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_area_matches_scikit_learn_with_ties(seed):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, 150)
    scores = np.round(rng.random(150) * 0.5 + truth * 0.3, 1)  # rounded: many tied scores
    fpr, tpr = roc_curve(truth, scores)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc_score(truth, scores))
    with pytest.raises(ValueError):
        roc_curve(np.ones(5), np.arange(5))


def test_roc_curves_binary_positive_class_and_one_vs_rest():
    names = ["normal", "lesion"]
    probs = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]]
    curves = roc_curves(["normal", "lesion", "lesion", "normal"], probs, names)
    assert [c.label for c in curves] == ["lesion"]
    assert curves[0].auc == pytest.approx(roc_auc_score([0, 1, 1, 0], [p[1] for p in probs]))
    three = roc_curves(["a", "b", "c", "a"], np.eye(3)[[0, 1, 2, 1]], ["a", "b", "c"])
    assert [c.label for c in three] == ["a", "b", "c"]
    assert roc_curves(["a", "a"], [[0.9, 0.1], [0.8, 0.2]], ["a", "b"]) == [], "one class only: no curve"


def test_validation_figures_list_cells_and_round_trip_json():
    predictions = [ValidationPrediction("7", "normal", "normal", (0.8, 0.2)),
                   ValidationPrediction("8", "lesion", "normal", (0.6, 0.4)),
                   ValidationPrediction("9", "lesion", "lesion", (0.1, 0.9))]
    figures = validation_figures(3, ["normal", "lesion"], predictions)
    assert figures.image_ids_in_cell(1, 0) == ["8"] and figures.image_ids_in_cell(0, 1) == []
    again = ValidationFigures.from_json(json.loads(json.dumps(figures.to_json())))
    assert again.predictions == figures.predictions and again.epoch == 3
    assert again.curves[0].auc == pytest.approx(figures.curves[0].auc)


# ------------------------------------------------------------------------------- relay
class RecordingSink:
    def __init__(self):
        self.calls: list[tuple[str, object]] = []

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name, args[0] if len(args) == 1 else args))

    def of(self, name):
        return [payload for call, payload in self.calls if call == name]


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _started(epochs=2, batches=100, n_train=800):
    return RunStarted("r", "/tmp/r", "cpu", "fp32", False, n_train, 20, batches, epochs, 0)


def test_relay_coalesces_batches_to_10_hz_and_keeps_every_loss():
    sink, clock = RecordingSink(), FakeClock()
    relay = ProgressRelay(sink, ["a", "b"], clock=clock)
    relay(_started())
    losses = []
    for b in range(100):
        clock.now += 0.002  # 500 batches per second
        loss = 1.0 / (b + 1)
        losses.append(loss)
        relay(BatchEnd(0, b, 100, b + 1, loss, 0.01))
    updates = sink.of("batches")
    assert 2 <= len(updates) <= 4, "about one update per 100 ms plus the epoch's last batch"
    assert [l for u in updates for l in u.losses] == losses
    assert updates[-1].batch == 99
    assert updates[-1].items_per_s == pytest.approx(8 / 0.002)  # 8 images per batch
    assert updates[-1].eta_s == pytest.approx(100 * 0.002, rel=0.05)  # one more epoch of batches
    clock.now += 0.5  # validation
    relay(EpochEnd(0, {"train_loss": 0.5, "val_loss": 0.6}, [[5, 5], [2, 8]], True, ["head"]))
    report = sink.of("epoch_finished")[0]
    assert report.class_names == ["a", "b"] and report.per_class[1].recall == pytest.approx(0.8)
    relay(ValidationSamples(0, [ValidationSample("1", "a", "a", [0.9, 0.1]), ValidationSample("2", "b", "a", [0.6, 0.4])]))
    assert sink.of("validation")[0].image_ids_in_cell(1, 0) == ["2"]
    clock.now += 0.01
    relay(BatchEnd(1, 0, 100, 101, 0.2, 0.01))
    assert sink.of("batches")[-1].eta_s >= 0.5, "the next validation is part of the time left"


def test_relay_flushes_pending_batches_before_a_pause():
    sink, clock = RecordingSink(), FakeClock()
    relay = ProgressRelay(sink, [], clock=clock)
    relay(_started())
    relay(BatchEnd(0, 0, 100, 1, 0.9, 0.1))  # first one goes out at once
    clock.now += 0.001
    relay(BatchEnd(0, 1, 100, 2, 0.8, 0.1))  # held back (< 100 ms)
    assert len(sink.of("batches")) == 1
    relay(RunPaused(0, 2))
    assert [u.losses for u in sink.of("batches")] == [[0.9], [0.8]]
    assert sink.of("paused")


def test_error_hints_name_what_to_do():
    assert "batch size" in error_hint("OutOfMemoryError: CUDA out of memory")
    assert "learning rate" in error_hint("DivergedError: the loss became nan")
    assert "could not be read" in error_hint("ScanReadError: /x.png: cannot read")


# ----------------------------------------------------------------------------- records
def _fake_run(folder: Path, name: str, epochs: int, report: dict | None, created: str) -> Path:
    run = folder / name
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.safetensors").write_bytes(b"x")
    config = TrainConfig(model="baseline_cnn", epochs=3, lr=0.01).to_dict()
    (run / "config.json").write_text(json.dumps({"run_id": name, "config": config, "created": created,
                                                 "resolved": {"monitor": "val_auc"}}))
    lines = [{"epoch": e, "train_loss": 1 - e / 10, "val_auc": 0.5 + e / 10, "seconds": 2.0,
              "confusion_matrix": [[1, 0], [0, 1]]} for e in range(epochs)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines) + "{broken\n")
    if report is not None:
        (run / "report.json").write_text(json.dumps(report))
    return run


def test_run_records_summarise_finished_and_interrupted_runs(tmp_path):
    _fake_run(tmp_path, "a", 3, {"status": "completed", "best_epoch": 2, "best_metric": 0.7, "monitor": "val_auc",
                                 "seconds": 75.0}, "2026-01-01T10:00:00+00:00")
    _fake_run(tmp_path, "b", 1, None, "2026-01-02T10:00:00+00:00")
    (tmp_path / "not-a-run").mkdir()
    runs = list_runs(tmp_path)
    assert [r.run_id for r in runs] == ["b", "a"], "newest first; folders without config.json are ignored"
    interrupted, done = runs
    assert done.status == "completed" and done.best_text() == "val_auc 0.700 (epoch 3)"
    assert done.duration_text() == "1 min 15 s" and done.val_metrics["val_auc"] == pytest.approx(0.7)
    assert not done.can_resume and done.usable_model
    assert interrupted.status == "interrupted" and interrupted.can_resume
    assert interrupted.best_metric == pytest.approx(0.5) and interrupted.seconds == pytest.approx(2.0)
    assert config_differences(done, interrupted) == []
    assert summarise_run(tmp_path / "b", active={"b"}).status == "running"
    assert read_validation(tmp_path / "a") is None


# ------------------------------------------------------------------------------- setup
def _summary(train=(4, 4), masks=0) -> DataSummary:
    return DataSummary(["normal", "lesion"], {"train": dict(zip(["normal", "lesion"], train)),
                                              "val": {"normal": 1, "lesion": 1}},
                       {"train": masks, "val": masks}, ["lesion"])


def test_setup_problems_explain_what_to_fix():
    ok = preset_config("balanced", n_train=8)
    assert ok.batch_size == 8 and setup_problems(ok, _summary()) == []
    few = setup_problems(ok, _summary(train=(4, 1)))
    assert "'lesion' has 1" in few[0] and "at least 2" in few[0]
    big = TrainConfig.from_dict(ok.to_dict() | {"batch_size": 64})
    assert any("Batch size 64" in p and "at most 8" in p for p in setup_problems(big, _summary()))
    frozen = TrainConfig.from_dict(ok.to_dict() | {"strategy": "feature_extraction"})
    assert any("Feature extraction" in p for p in setup_problems(frozen, _summary()))
    wrong = TrainConfig(model="baseline_cnn", epochs=0)
    assert any("'epochs'" in p for p in setup_problems(wrong, _summary()))
    regression = TrainConfig.from_dict(ok.to_dict() | {"task": "regression"})
    assert any("regression" in p for p in setup_problems(regression, _summary()))
    seg = preset_config("balanced", task="segmentation")
    assert seg.model == "unet_small" and seg.validation_samples == 0
    assert any("mask" in p for p in setup_problems(seg, _summary(masks=0)))
    assert setup_problems(seg, _summary(masks=3)) == []


class FakeStore:
    def __init__(self, entries):
        self._entries = entries

    def entries(self):
        return self._entries

    def missing_message(self, model, wanted):
        return f"import {wanted} with medtl weights import"


def test_weight_choices_disable_missing_and_foreign_weights():
    from medtl_gui.core.models.weights import WeightsEntry

    entries = [WeightsEntry("ssl-chest", "resnet18", "a.safetensors", "0" * 64, "self-supervised on chest", "x"),
               WeightsEntry("big", "resnet50", "b.safetensors", "1" * 64, "supervised", "y")]
    choices = {c.value: c for c in weight_choices(FakeStore(entries), "resnet18", "classification")}
    assert choices[None].enabled and choices["ssl-chest"].enabled
    assert not choices["imagenet"].enabled and "medtl weights import" in choices["imagenet"].reason
    assert not choices["big"].enabled and "resnet50" in choices["big"].reason
    unet = weight_choices(FakeStore(entries), "unet_small", "segmentation")
    assert [c.value for c in unet] == [None], "a plain U-Net has no pretrained encoder"
    encoder = {c.value for c in weight_choices(FakeStore(entries), "resnet18", "segmentation")}
    assert "ssl-chest" in encoder


def test_torch_threads_leave_the_gui_a_core_on_larger_machines():
    assert training_threads(1) == 1 and training_threads(2) == 2
    assert training_threads(8) == 7 and training_threads(32) == 30


# ------------------------------------------------------------------------------- panel
def test_panel_copies_every_field_into_a_new_config(qtbot):
    from medtl_gui.gui.training.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    wanted = TrainConfig(model="baseline_cnn", strategy="gradual_unfreezing", unfreeze_every=2, retention="l2sp",
                         alpha=0.05, beta=0.8, lr=3e-4, lr_decay=0.5, epochs=7, batch_size=16, image_size=48,
                         augmentation="standard", imbalance="balanced_sampler", val_fraction=0.2, device="cpu",
                         seed=11, validation_samples=4096)
    panel.set_config(wanted)
    got = panel.config()
    assert got == TrainConfig.from_dict(wanted.to_dict() | {"recipe": None})
    assert got is not panel.config(), "each call makes a new copy"
    panel.alpha.setValue(panel.alpha.minimum())
    panel.lr_decay.setValue(0)
    assert panel.config().alpha is None and panel.config().lr_decay is None, "'default' means: the strategy's"
    assert not panel.stages.isEnabled() and panel.unfreeze_every.isEnabled()
    panel.apply_preset("best")
    assert panel.config().image_size == 96 and panel.config().augmentation == "standard"


def test_panel_keeps_the_segmentation_input_row_and_refreshes_an_open_preview(qtbot):
    from medtl_gui.gui.training.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.show()
    wanted = TrainConfig(task="segmentation", model="unet_small", image_size=96, epochs=5, patches_per_image=40,
                         augmentation="light", colour_channel="green", contrast="clahe", input_scale=1.5,
                         validation_samples=0)
    panel.set_config(wanted)
    assert panel._data_form.isRowVisible(panel._seg_input)
    got = panel.config()
    assert (got.colour_channel, got.contrast, got.input_scale) == ("green", "clahe", 1.5)
    with qtbot.waitSignal(panel.preview_requested) as opened:
        panel.preview_button.click()
    assert opened.args[0] == "light"
    with qtbot.waitSignal(panel.preview_requested) as refreshed:
        panel.set_config(TrainConfig.from_dict(wanted.to_dict() | {"augmentation": "strong"}))
    assert refreshed.args[0] == "strong", "an open preview must not keep showing the old preset"
    panel.set_task("classification")
    assert not panel._data_form.isRowVisible(panel._seg_input)
    assert panel.config().contrast == "none" and panel.config().colour_channel == "all"


def test_augmentation_preview_shows_the_engines_augmentations(qtbot, demo_project_dir):
    from medtl_gui.core.project import Project
    from medtl_gui.gui.training.augmentation_preview import SAMPLES, AugmentationPreview

    preview = AugmentationPreview()
    qtbot.addWidget(preview)
    with Project.open(demo_project_dir) as project:
        with qtbot.waitSignal(preview.ready, timeout=60_000):
            preview.request(project, 1, "strong", 48)
    assert len(preview.samples) == SAMPLES and preview.samples[0].shape == (48, 48)
    assert any(not np.array_equal(preview.samples[0], s) for s in preview.samples[1:])
    assert not preview.tiles[0].pixmap().isNull()


def test_overlay_draws_prediction_filled_and_truth_outlined():
    from medtl_gui.gui.training.segmentation_strip import PREDICTED_RGB, TRUE_RGB, outline, overlay_rgb
    from medtl_gui.gui.training.training_data import SegmentationOverlay, foreground_dice

    truth = np.zeros((9, 9), np.uint8)
    truth[2:7, 2:7] = 1
    predicted = np.zeros_like(truth)
    predicted[4:9, 4:9] = 1
    edge = outline(truth > 0)
    assert edge.sum() == 16 and not edge[4, 4]
    rgb = overlay_rgb(SegmentationOverlay("1", np.full((9, 9), 100, np.uint8), truth, predicted, None))
    assert tuple(rgb[2, 2]) == tuple(TRUE_RGB)
    assert rgb[8, 8, 0] > 100 and rgb[8, 8, 2] < 100 and tuple(rgb[0, 0]) == (100, 100, 100)
    assert PREDICTED_RGB[0] == 255
    assert foreground_dice(truth, predicted) == pytest.approx(2 * 9 / 50)
    assert foreground_dice(np.zeros(3), np.zeros(3)) is None


def test_openmp_threads_spin_briefly_unless_the_user_chose():
    from medtl_gui.core.training.setup_checks import limit_openmp_spinning

    env: dict[str, str] = {}
    assert limit_openmp_spinning(env) and env == {"GOMP_SPINCOUNT": "1000", "KMP_BLOCKTIME": "1"}
    chosen = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert not limit_openmp_spinning(chosen) and chosen == {"OMP_WAIT_POLICY": "ACTIVE"}
