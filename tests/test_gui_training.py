"""pytest-qt tests of background training in the real main window, on the small demo project.

Runs are tiny (baseline CNN at 32 px, a few batches) so the file takes
seconds of CPU per test; each test waits on signals, never on sleeps.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from medtl_gui.gui.browser_model import LISTED_PREFIX, ROW_ROLE

RUN_TIMEOUT_MS = 180_000


def tiny_run(panel, epochs: int = 2, batch_size: int | None = None, preset: str = "balanced") -> None:
    """Fill the panel from a preset, then shrink the run: baseline CNN at 32 px."""
    panel.apply_preset(preset)
    panel.model.setCurrentIndex(panel.model.findData("baseline_cnn"))
    panel.image_size.setValue(32)
    panel.epochs.setValue(epochs)
    if batch_size is not None:
        panel.batch_size.setValue(batch_size)


def shown_ids(browser) -> list[int]:
    proxy = browser.proxy
    return [proxy.index(r, 0).data(ROW_ROLE).image_id for r in range(proxy.rowCount())]


def run_epochs(run_dir: str) -> list[dict]:
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]


def test_preset_run_populates_monitor_with_engine_numbers_while_labelling_goes_on(qtbot, main_window):
    win = main_window
    ctl = win.training
    tiny_run(ctl.panel)
    assert ctl.panel.preset.currentText() == "Custom", "editing a preset's field makes it custom"
    ctl.panel.apply_preset("balanced")
    assert ctl.panel.preset.currentData() == "balanced"
    assert ctl.panel.config().recipe == "balanced" and ctl.panel.config().batch_size == 8, \
        "the preset adapts the batch to the 8 labelled training images"
    tiny_run(ctl.panel)
    epochs, validations, batches = [], [], []
    ctl.session.epoch_finished.connect(epochs.append)
    ctl.session.validation.connect(validations.append)
    ctl.session.batches.connect(batches.append)
    unlabelled = next(r.id for r in win.project.images(split="train") if r.label is None and r.kind == "raster")

    with qtbot.waitSignal(ctl.session.run_started, timeout=RUN_TIMEOUT_MS):
        assert ctl.start_training()
    assert ctl.host.state == "running" and "live" in ctl.host.title, "the monitor's tab says a run is live"
    assert win.viewer.isVisible(), "starting a run leaves the viewer on screen"
    # the user keeps labelling while the run trains; the run's labels were frozen before it started
    win.browser.select_image(unlabelled)
    qtbot.waitUntil(lambda: win.current_id == unlabelled, timeout=5000)
    qtbot.keyClick(win, Qt.Key.Key_2)
    assert win.project.label(unlabelled).class_name == "lesion"
    with qtbot.waitSignal(ctl.session.finished, timeout=RUN_TIMEOUT_MS) as finished:
        pass
    outcome = finished.args[0]
    assert outcome.status == "completed", outcome.error
    record = json.loads((Path(outcome.run_dir) / "config.json").read_text())
    assert str(unlabelled) not in record["data"]["splits"]["train"], "labels given during the run are not in it"

    # the monitor shows exactly the engine's numbers
    lines = run_epochs(outcome.run_dir)
    assert [e.epoch for e in epochs] == [0, 1] == [line["epoch"] for line in lines]
    monitor = ctl.monitor
    _, train_loss = monitor.curves.curve("train_loss")
    np.testing.assert_allclose(train_loss, [line["train_loss"] for line in lines])
    _, val_loss = monitor.curves.curve("val_loss")
    np.testing.assert_allclose(val_loss, [line["val_loss"] for line in lines])
    _, batch_loss = monitor.curves.curve("batch_loss")
    np.testing.assert_allclose(batch_loss, [loss for b in batches for loss in b.losses])
    assert len(batch_loss) == 2 * batches[-1].n_batches
    assert monitor.confusion.matrix.tolist() == lines[-1]["confusion_matrix"]
    assert monitor.confusion.matrix.sum() == 2  # the two labelled validation images
    assert "%" in monitor.confusion.table.item(0, 0).text()
    names = epochs[-1].class_names
    assert [f.name for f in monitor.per_class.figures] == names == ["normal", "lesion"]
    cm = np.array(lines[-1]["confusion_matrix"])
    recall = cm[1, 1] / cm[1].sum()
    assert monitor.per_class.value("lesion", "Recall") == f"{recall:.3f}"
    if lines[-1]["val_auc"] is not None:
        assert monitor.roc.aucs["lesion"] == pytest.approx(lines[-1]["val_auc"], abs=1e-6)
    assert "images/s" in monitor.stats.text() or "finished" in monitor.stats.text()

    # a confusion-matrix cell lists its validation images in the browser
    figures = validations[-1]
    true_index = 1
    predicted_index = int(np.argmax(cm[1]))
    monitor.confusion.click_cell(true_index, predicted_index)
    expected = sorted(int(i) for i in figures.image_ids_in_cell(true_index, predicted_index))
    assert win.browser.filter_box.currentText().startswith(LISTED_PREFIX)
    assert sorted(shown_ids(win.browser)) == expected and expected


def test_stop_takes_effect_within_a_second_and_the_next_run_can_start(qtbot, main_window):
    ctl = main_window.training
    tiny_run(ctl.panel, epochs=200, batch_size=2)
    with qtbot.waitSignal(ctl.session.batches, timeout=RUN_TIMEOUT_MS):
        assert ctl.start_training()
    assert main_window.actions_by_name["stop_training"].isEnabled()
    assert not main_window.actions_by_name["start_training"].isEnabled()
    started = time.perf_counter()
    with qtbot.waitSignal(ctl.session.finished, timeout=10_000) as finished:
        main_window.actions_by_name["stop_training"].trigger()
    assert time.perf_counter() - started < 1.0
    assert finished.args[0].status == "cancelled"
    assert main_window.actions_by_name["start_training"].isEnabled()
    assert "stopped by you" in ctl.monitor.stats.text()


def test_apply_model_stores_proposals_and_one_key_confirms(qtbot, main_window):
    win = main_window
    ctl = win.training
    tiny_run(ctl.panel, epochs=1)
    with qtbot.waitSignal(ctl.session.finished, timeout=RUN_TIMEOUT_MS) as finished:
        assert ctl.start_training()
    assert finished.args[0].status == "completed"
    qtbot.waitUntil(lambda: any(r.usable_model for r in ctl.history.runs), timeout=10_000)
    unlabelled = [r.id for r in win.project.images(unlabelled=True)]
    with qtbot.waitSignal(ctl.prediction_done, timeout=RUN_TIMEOUT_MS) as done:
        assert ctl.apply_model() is not None
    summary = done.args[0]
    assert summary.task == "classification" and summary.proposals
    assert set(summary.proposals) <= set(unlabelled)
    target = next(i for i in summary.proposals if win.project.image(i).kind == "raster")
    proposal = win.project.proposal(target)
    assert proposal is not None and proposal.run_id == Path(finished.args[0].run_dir).name
    assert win.project.label(target) is None, "a proposal is not a label"
    qtbot.waitUntil(lambda: win.browser.model.source_row(target) is not None and bool(
                    win.browser.model.rows[win.browser.model.source_row(target)].suggestion), timeout=10_000)
    row = win.browser.model.rows[win.browser.model.source_row(target)]
    assert row.cell(6).startswith(proposal.class_name) and row.cell(6).endswith("%")
    win.browser.set_filter("All images")
    win.browser.select_image(target)
    qtbot.waitUntil(lambda: win.current_id == target and win.label_panel.confirm_button.isEnabled(), timeout=10_000)
    assert "Model suggests" in win.label_panel.proposal.text() and "%" in win.label_panel.proposal.text()
    qtbot.keyClick(win, Qt.Key.Key_Return)
    label = win.project.label(target)
    assert label.class_name == proposal.class_name and label.origin == "model-confirmed"


def test_unreadable_image_fails_in_a_dialog_and_leaves_the_project_untouched(qtbot, main_window):
    win = main_window
    ctl = win.training
    project = win.project
    victim = next(r for r in project.images(split="train") if r.label and r.kind == "raster" and r.copied)
    labels_before = {r.id: (r.label, r.label_status) for r in project.images()}
    (Path(project.folder) / victim.path).write_bytes(b"\x89PNG\r\n\x1a\n not an image any more")
    tiny_run(ctl.panel, epochs=1)
    with qtbot.waitSignal(ctl.session.finished, timeout=RUN_TIMEOUT_MS) as finished:
        assert ctl.start_training()
    outcome = finished.args[0]
    assert outcome.status == "failed"
    assert "read" in outcome.hint.lower()
    dialog = ctl.last_error_dialog
    assert dialog is not None and dialog.isVisible() and dialog.windowTitle() == "Training failed"
    assert outcome.details, "the traceback is in the dialog's details"
    assert any(Path(outcome.run_dir).glob("*error.log")) if outcome.run_dir else \
        (Path(project.folder) / "runs" / "training-errors.log").is_file()
    assert {r.id: (r.label, r.label_status) for r in project.images()} == labels_before
    dialog.close()
    # the GUI keeps working: browsing and labelling still go to the store
    win.browser.select_row(1)
    qtbot.waitUntil(lambda: win.current_id is not None, timeout=5000)
    assert not ctl.session.running


def test_settings_are_checked_before_a_run_starts(qtbot, main_window):
    win = main_window
    ctl = win.training
    for record in win.project.images(split="train"):
        if record.label == "lesion":
            win.project.set_label(record.id, None, origin="human")
    ctl.refresh_summary(background=False)
    tiny_run(ctl.panel)
    problems = ctl.panel.refresh_problems()
    assert any("Too few labels" in p and "'lesion' has 0" in p for p in problems)
    assert not ctl.start_training()
    assert not ctl.session.running
    assert "Too few labels" in ctl.last_error_dialog.text()
    ctl.panel.strategy.setCurrentIndex(ctl.panel.strategy.findData("feature_extraction"))
    assert any("Feature extraction" in p for p in ctl.panel.problems())


def test_missing_weights_are_listed_disabled_with_how_to_import(qtbot, main_window, tmp_path):
    ctl = main_window.training
    ctl.set_weight_store_folder(str(tmp_path / "empty-store"))
    panel = ctl.panel
    panel.task.setCurrentIndex(panel.task.findData("classification"))
    panel.model.setCurrentIndex(panel.model.findData("resnet18"))
    texts = [c.text for c in panel.weight_options]
    imagenet = next(c for c in panel.weight_options if c.value == "imagenet")
    assert not imagenet.enabled and "medtl weights import resnet18-f37072fd.pth" in imagenet.reason
    item = panel.weights.model().item(texts.index(imagenet.text))
    assert not item.isEnabled() and "import" in item.toolTip()
    panel.apply_preset("quick")  # not refused on a fresh install: it says what it uses instead, and why
    assert panel.config().pretrained is None and panel.problems() == []
    assert "not installed" in panel.weights_reason.text() and "Import weights" in panel.weights_reason.text()
    panel.weights.setCurrentIndex(panel.weights.findData("imagenet"))  # chosen by hand: checked before a run
    assert any("Pretrained weights" in p and "import" in p for p in panel.problems())


def test_pause_holds_between_batches_and_resume_continues(qtbot, main_window):
    ctl = main_window.training
    tiny_run(ctl.panel, epochs=100, batch_size=2)
    with qtbot.waitSignal(ctl.session.batches, timeout=RUN_TIMEOUT_MS):
        assert ctl.start_training()
    with qtbot.waitSignal(ctl.session.state_changed, check_params_cb=lambda s: s == "paused", timeout=10_000):
        ctl.pause_or_resume()
    assert ctl.monitor.pause_button.text() == "Resume"
    steps = []
    ctl.session.batches.connect(lambda p: steps.extend(p.steps))
    qtbot.wait(300)
    assert len(steps) <= 1, "at most the batch in flight finishes after a pause"
    with qtbot.waitSignal(ctl.session.batches, timeout=10_000):
        ctl.pause_or_resume()
    with qtbot.waitSignal(ctl.session.finished, timeout=10_000):
        ctl.stop_training()


def test_history_reopens_compares_and_marks_the_active_model(qtbot, main_window):
    win = main_window
    ctl = win.training
    run_dirs = []
    for epochs in (1, 2):
        tiny_run(ctl.panel, epochs=epochs)
        with qtbot.waitSignal(ctl.session.finished, timeout=RUN_TIMEOUT_MS) as finished:
            assert ctl.start_training()
        run_dirs.append(finished.args[0].run_dir)
    qtbot.waitUntil(lambda: [r.status for r in ctl.history.runs] == ["completed", "completed"], timeout=10_000)
    first, second = (next(r for r in ctl.history.runs if str(r.path) == d) for d in run_dirs)
    assert first.epochs_completed == 1 and second.epochs_completed == 2 and second.status == "completed"
    assert second.best_text() != "–" and second.duration_text() != "–"
    ctl.history.select_run(second.run_id)
    ctl.history.buttons["open"].click()
    _, val_loss = ctl.monitor.curves.curve("val_loss")
    np.testing.assert_allclose(val_loss, [line["val_loss"] for line in run_epochs(second.path)])
    assert ctl.monitor.confusion.matrix.sum() == 2
    ctl.history.select_run(first.run_id, add=True)
    assert ctl.history.buttons["compare"].isEnabled()
    ctl.history.buttons["compare"].click()
    assert ctl.monitor.curves._comparison_items, "the second run's curves are overlaid"
    ctl.history.select_run(first.run_id)
    with qtbot.waitSignal(ctl.history.runs_loaded, timeout=10_000):
        ctl.history.buttons["activate"].click()
    assert win.project.meta("active_run") == first.run_id
    assert ctl.model_run().run_id == first.run_id
    assert "★" in [ctl.history.table.item(i, 5).text() for i in range(ctl.history.table.rowCount())]


def test_segmentation_run_refreshes_mask_overlays_and_mask_proposals_can_be_applied(qtbot, main_window):
    import threading

    from medtl_gui.gui.training.prediction_job import predict_unlabelled

    win = main_window
    ctl = win.training
    panel = ctl.panel
    panel.task.setCurrentIndex(panel.task.findData("segmentation"))
    panel.task.activated.emit(panel.task.currentIndex())
    panel.apply_preset("quick")
    assert panel.model.currentData() == "unet_small" and panel.patches.isVisibleTo(panel)
    panel.image_size.setValue(32)
    panel.epochs.setValue(1)
    panel.patches.setValue(4)
    assert panel.refresh_problems() == []
    overlays = []
    ctl.session.overlays.connect(overlays.append)
    with qtbot.waitSignal(ctl.session.finished, timeout=RUN_TIMEOUT_MS) as finished:
        assert ctl.start_training()
    outcome = finished.args[0]
    assert outcome.status == "completed", outcome.error
    assert ctl.monitor.details.currentWidget() is ctl.monitor.strip
    shown = ctl.monitor.strip.overlays
    assert shown and shown == overlays[-1]
    val_ids = {str(r.id) for r in win.project.images(split="val", has_mask=True)}
    assert {o.image_id for o in shown} <= val_ids
    truth = win.project.mask(int(shown[0].image_id))
    np.testing.assert_array_equal(shown[0].true_mask > 0, truth > 0)
    assert not ctl.monitor.strip.tiles[0].pixmap().isNull()
    lines = run_epochs(outcome.run_dir)
    _, dice = ctl.monitor.curves.curve("val_dice")
    np.testing.assert_allclose(dice, [line["val_dice"] for line in lines])

    # mask proposals from the run (stopped after the first few images to stay fast)
    cancel = threading.Event()
    summary = predict_unlabelled(win.project, outcome.run_dir, "cpu", progress=lambda *_: cancel.set(), cancel=cancel)
    assert summary.task == "segmentation" and summary.cancelled and summary.proposals
    for image_id in summary.proposals:
        if win.project.image(image_id).n_frames == 1:
            assert win.project.mask_proposal(image_id) is not None and win.project.mask(image_id) is None


def test_continue_resumes_a_stopped_run_and_fine_tunes_from_a_finished_one(qtbot, main_window, tmp_path):
    win = main_window
    ctl = win.training
    ctl.set_weight_store_folder(str(tmp_path / "store"))
    tiny_run(ctl.panel, epochs=3, batch_size=2)
    epochs = []
    ctl.session.epoch_finished.connect(epochs.append)
    with qtbot.waitSignal(ctl.session.epoch_finished, timeout=RUN_TIMEOUT_MS):
        assert ctl.start_training()
    with qtbot.waitSignal(ctl.session.finished, timeout=10_000) as stopped:
        ctl.stop_training()
    assert stopped.args[0].status == "cancelled"
    run_dir = Path(stopped.args[0].run_dir)
    qtbot.waitUntil(lambda: any(r.path == run_dir and r.status == "cancelled" for r in ctl.history.runs),
                    timeout=10_000)
    stopped_run = next(r for r in ctl.history.runs if r.path == run_dir)
    assert stopped_run.can_resume
    with qtbot.waitSignal(ctl.session.finished, timeout=RUN_TIMEOUT_MS) as resumed:
        assert ctl.continue_run(stopped_run)
    assert resumed.args[0].status == "completed" and Path(resumed.args[0].run_dir) == run_dir
    assert [line["epoch"] for line in run_epochs(run_dir)] == [0, 1, 2], "the same run, continued after its epoch"

    qtbot.waitUntil(lambda: any(r.path == run_dir and r.status == "completed" for r in ctl.history.runs),
                    timeout=10_000)
    finished = next(r for r in ctl.history.runs if r.path == run_dir)
    assert ctl.continue_run(finished)
    qtbot.waitUntil(lambda: ctl.panel.config().pretrained == f"run-{finished.run_id}", timeout=60_000)
    entry = ctl.panel.store.find(f"run-{finished.run_id}")
    assert entry.architecture == "baseline_cnn" and entry.layout == "medtl-backbone"
    assert ctl.panel.refresh_problems() == [], "the run's weights are a valid starting point"
