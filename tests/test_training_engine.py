"""The training engine: run folders, resume, cancel, pause, offline operation, failures."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from medtl_gui.core.data import DataSplits, ImageItem, LabelledImages
from medtl_gui.core.data.synthetic import synthetic_splits
from medtl_gui.core.models.builder import build_model
from medtl_gui.core.models.weights import MissingWeightsError, WeightStore
from medtl_gui.core.training import (
    BatchEnd,
    EpochEnd,
    Message,
    RunControl,
    RunFailed,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    TrainConfig,
    ValidationSamples,
    train,
)


@pytest.fixture
def phantoms(tmp_path: Path) -> DataSplits:
    return synthetic_splits(tmp_path, n_train=64, n_val=24, n_test=24, size=24)


def _config(**changes) -> TrainConfig:
    base = dict(model="baseline_cnn", epochs=2, batch_size=16, image_size=24, precision="fp32", lr=3e-3)
    return TrainConfig(**(base | changes))


class Recorder:
    """An event sink (``emit`` method) that keeps every event."""

    def __init__(self) -> None:
        self.events: list = []

    def emit(self, event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def test_run_folder_records_config_metrics_checkpoints_and_report(phantoms: DataSplits, tmp_path: Path) -> None:
    recorder = Recorder()
    result = train(_config(), phantoms, recorder, run_dir=tmp_path / "run")
    assert result.status == "completed" and result.epochs_completed == 2
    run = tmp_path / "run"
    record = json.loads((run / "config.json").read_text())
    assert TrainConfig.from_dict(record["config"]) == _config()
    assert record["seed"] == 0 and record["versions"]["torch"] and record["versions"]["python"]
    assert record["code_version"] and record["data"]["splits"]["train"][:2] == ["train:0", "train:1"]
    assert record["data"]["class_names"] == ["clear", "opacity"] and record["preprocessing"]["fingerprint"]
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [0, 1]
    assert {"train_loss", "val_loss", "val_accuracy", "val_auc", "confusion_matrix", "lr"} <= set(lines[0])
    for name in ("best.safetensors", "best.json", "last.safetensors", "last.optim.safetensors", "last.json"):
        assert (run / "checkpoints" / name).is_file()
    report = json.loads((run / "report.json").read_text())
    assert report["status"] == "completed" and report["test"]["n"] == 24
    assert set(report["test"]["ci95"]) >= {"accuracy", "auc"}
    # events: start, batches, epochs with confusion matrices, samples, finish
    assert len(recorder.of(RunStarted)) == 1 and len(recorder.of(RunFinished)) == 1
    assert len(recorder.of(BatchEnd)) == 2 * 4
    epochs = recorder.of(EpochEnd)
    assert len(epochs) == 2 and np.array(epochs[0].confusion_matrix).sum() == 24
    samples = recorder.of(ValidationSamples)[0].samples
    assert len(samples) == 8 and samples[0].true_label in ("clear", "opacity")


def test_cancel_from_the_batch_callback_stops_within_one_batch(phantoms: DataSplits, tmp_path: Path) -> None:
    control = RunControl()
    batches: list[BatchEnd] = []

    def on_event(event) -> None:
        if isinstance(event, BatchEnd):
            batches.append(event)
            if len(batches) == 3:
                control.cancel()

    result = train(_config(epochs=5), phantoms, on_event, control, run_dir=tmp_path / "run")
    assert result.status == "cancelled"
    assert len(batches) == 3
    assert json.loads((tmp_path / "run" / "report.json").read_text())["status"] == "cancelled"


def test_resume_continues_from_the_saved_epoch_with_identical_next_batch_loss(
    phantoms: DataSplits, tmp_path: Path
) -> None:
    config = _config(epochs=3, augmentation="standard", head_dropout=0.3, imbalance="balanced_sampler")
    reference = Recorder()
    train(config, phantoms, reference, run_dir=tmp_path / "uninterrupted")
    expected = [e.loss for e in reference.of(BatchEnd) if e.epoch == 1]

    control = RunControl()
    first = Recorder()

    def stop_after_first_epoch(event) -> None:
        first.emit(event)
        if isinstance(event, EpochEnd):
            control.cancel()

    interrupted = train(config, phantoms, stop_after_first_epoch, control, run_dir=tmp_path / "interrupted")
    assert interrupted.status == "cancelled" and interrupted.epochs_completed == 1

    second = Recorder()
    resumed = train(config, phantoms, second, resume_from=tmp_path / "interrupted")
    assert resumed.status == "completed" and resumed.epochs_completed == 3
    assert second.of(RunStarted)[0].start_epoch == 1
    resumed_losses = [e.loss for e in second.of(BatchEnd) if e.epoch == 1]
    assert resumed_losses[0] == expected[0]
    assert resumed_losses == pytest.approx(expected, rel=1e-6)
    lines = (tmp_path / "interrupted" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [0, 1, 2]


def test_resume_refuses_a_different_config(phantoms: DataSplits, tmp_path: Path) -> None:
    train(_config(epochs=1), phantoms, run_dir=tmp_path / "run")
    with pytest.raises(ValueError, match="'lr'.*differs"):
        train(_config(epochs=1, lr=0.5), phantoms, resume_from=tmp_path / "run")


def test_pause_holds_between_batches_until_resumed(phantoms: DataSplits, tmp_path: Path) -> None:
    control = RunControl()
    recorder = Recorder()

    def on_event(event) -> None:
        recorder.emit(event)
        if isinstance(event, BatchEnd) and event.step == 2:
            control.pause()
        if isinstance(event, RunPaused):  # resume only once the engine has really paused
            threading.Timer(0.3, control.resume).start()

    result = train(_config(epochs=1), phantoms, on_event, control, run_dir=tmp_path / "run")
    assert result.status == "completed"
    kinds = [type(e) for e in recorder.events]
    paused_at = kinds.index(RunPaused)
    assert kinds[paused_at + 1] is RunResumed and kinds[paused_at - 1] is BatchEnd
    assert len(recorder.of(BatchEnd)) == 4


def test_training_works_with_the_network_disabled(
    phantoms: DataSplits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = WeightStore(tmp_path / "weights", hub_dirs=[])
    torch.manual_seed(5)
    store.add_state_dict("cnn-pre", "baseline_cnn", build_model("baseline_cnn", in_channels=1).model.backbone.state_dict(),
                         source="test", layout="medtl-backbone")

    def no_network(*args, **kwargs):
        raise AssertionError("MedTL tried to open a network connection")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    result = train(_config(pretrained="cnn-pre", strategy="finetune_last_n"), phantoms, run_dir=tmp_path / "run",
                   weight_store=store)
    assert result.status == "completed"
    assert json.loads((tmp_path / "run" / "config.json").read_text())["weights"]["name"] == "cnn-pre"


def test_missing_pretrained_weights_fail_before_the_run_with_import_instructions(
    phantoms: DataSplits, tmp_path: Path
) -> None:
    recorder = Recorder()
    with pytest.raises(MissingWeightsError, match="medtl weights import resnet18-f37072fd.pth"):
        train(_config(model="resnet18", pretrained="imagenet", image_size=32), phantoms, recorder, run_dir=tmp_path / "run",
              weight_store=WeightStore(tmp_path / "empty", hub_dirs=[]))
    assert len(recorder.of(RunFailed)) == 1
    assert not (tmp_path / "run").exists()


def test_early_stopping_ends_the_run_when_the_monitor_stalls(phantoms: DataSplits, tmp_path: Path) -> None:
    result = train(_config(epochs=8, early_stopping_patience=1, monitor="val_loss", lr=1e-9, schedule="constant"),
                   phantoms, run_dir=tmp_path / "run")
    assert result.status == "early_stopped" and result.epochs_completed < 8


def test_divergence_is_reported_as_a_failed_run(phantoms: DataSplits, tmp_path: Path) -> None:
    recorder = Recorder()
    result = train(_config(lr=1e30, optimizer="sgd", epochs=2), phantoms, recorder, run_dir=tmp_path / "run")
    assert result.status == "failed" and "loss became" in result.error
    assert recorder.of(RunFailed)[0].reason == result.error
    assert (tmp_path / "run" / "error.log").is_file()


def test_imbalanced_data_gets_a_class_weighted_loss_by_default(tmp_path: Path) -> None:
    data = synthetic_splits(tmp_path, n_train=60, n_val=20, n_test=0, size=24, positive_fraction=0.85)
    recorder = Recorder()
    train(_config(epochs=1), data, recorder, run_dir=tmp_path / "run")
    assert any("imbalanced" in m.text and "weighted loss" in m.text for m in recorder.of(Message))
    assert json.loads((tmp_path / "run" / "config.json").read_text())["resolved"]["imbalance"] == "weighted_loss"


def test_bf16_channels_last_multiclass_and_held_out_validation(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = [(rng.random((20, 20)) * (k + 1) * 80).astype(np.uint8) for k in range(3) for _ in range(10)]
    items = [ImageItem(f"img{i}", i // 10, (lambda a=a: a)) for i, a in enumerate(arrays)]
    data = DataSplits(train=LabelledImages(items, ["a", "b", "c"], "gen"), runs_dir=tmp_path / "runs")
    recorder = Recorder()
    result = train(_config(model="lenet5", epochs=1, batch_size=8, image_size=20, precision="bf16",
                           channels_last=True, threshold_policy="youden"), data, recorder)
    assert result.status == "completed"
    started = recorder.of(RunStarted)[0]
    assert started.precision in ("bf16", "fp32") and started.n_val == 6  # 2 per class held out
    assert result.run_dir.parent == tmp_path / "runs"
    assert len(result.report["val"]["confusion_matrix"]) == 3


def test_regression_task_reports_mae_and_mse(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    values = rng.uniform(0, 1, 40)
    arrays = [(np.full((16, 16), v * 200) + rng.normal(0, 5, (16, 16))).clip(0, 255).astype(np.uint8) for v in values]
    items = [ImageItem(f"r{i}", float(v), (lambda a=a: a)) for i, (a, v) in enumerate(zip(arrays, values))]
    data = DataSplits(train=LabelledImages(items[:30], [], "reg"), val=LabelledImages(items[30:], [], "reg"))
    result = train(_config(model="lenet5", task="regression", epochs=2, batch_size=10, image_size=16), data,
                   run_dir=tmp_path / "run")
    assert result.status == "completed"
    assert {"mae", "mse"} <= set(result.report["val"]) and result.report["monitor"] == "val_mae"
