"""Apply model in the real window: progress in the status bar, a summary with the counts, and the model's scope
(DICOM CT/MR/US and the CT volume of the demo project are skipped by a model trained on its 2D grey PNGs unless
the user ticks "Include images outside the model's scope")."""

from __future__ import annotations

from test_gui_training import RUN_TIMEOUT_MS, tiny_run


def test_apply_model_shows_progress_and_a_summary_and_skips_images_outside_the_scope(qtbot, main_window) -> None:
    win = main_window
    ctl = win.training
    tiny_run(ctl.panel, epochs=1)
    with qtbot.waitSignal(ctl.session.finished, timeout=RUN_TIMEOUT_MS) as finished:
        assert ctl.start_training()
    assert finished.args[0].status == "completed", finished.args[0].error
    headline = ctl.monitor.headline  # the honest headline: balanced accuracy and recall per class at the threshold
    assert not headline.isHidden() and "balanced accuracy" in headline.text() and "threshold fixed 0.50" in \
        headline.text() and "recall normal" in headline.text()
    qtbot.waitUntil(lambda: any(r.usable_model for r in ctl.history.runs), timeout=10_000)
    unlabelled = win.project.images(unlabelled=True)
    in_scope = {r.id for r in unlabelled if r.kind == "raster" and not r.is_color}
    outside = {r.id for r in unlabelled} - in_scope
    assert in_scope and outside, "the demo has unlabelled phantoms and DICOM/volume images"

    shown: list[tuple[int, int]] = []
    ctl.progress.bar.valueChanged.connect(lambda value: shown.append((value, ctl.progress.bar.maximum())))
    with qtbot.waitSignal(ctl.prediction_done, timeout=RUN_TIMEOUT_MS) as done:
        assert ctl.apply_model() is not None
        assert ctl.progress.isVisible() and "Predicting with" in ctl.progress.label.text()
    summary = done.args[0]
    assert shown and shown[-1] == (len(unlabelled), len(unlabelled)), "the bar counted every image"
    assert set(summary.proposals) == in_scope and len(summary.out_of_scope) == len(outside)
    assert all("outside" not in reason and reason for _, reason in summary.out_of_scope)
    assert win.project.proposal(next(iter(outside))) is None
    box = ctl.last_prediction_box
    assert box is not None and box.isVisible()
    text = box.text()
    assert f"Predicted: {len(in_scope)} of {len(unlabelled)} image(s)" in text
    assert f"Skipped: {len(outside)} ({len(outside)} outside the model's scope, 0 unreadable)" in text
    assert "Disagreeing with an existing label: 0" in text
    assert "Include images outside the model's scope" in box.informativeText()
    assert "modality CT" in box.detailedText() and "a volume; trained on 2D images" in box.detailedText()
    box.close()
    qtbot.waitUntil(lambda: not ctl.progress.busy and not ctl.progress.isVisible(), timeout=10_000)

    ctl.history.include_out_of_scope.setChecked(True)  # the user includes them: stored for the project
    assert win.project.meta("prediction_include_out_of_scope") == "1"
    with qtbot.waitSignal(ctl.prediction_done, timeout=RUN_TIMEOUT_MS) as again:
        assert ctl.apply_model() is not None
    summary = again.args[0]
    assert summary.out_of_scope == [] and in_scope <= set(summary.proposals)
    volume = next(r.id for r in unlabelled if r.kind == "volume")
    assert volume in summary.proposals and summary.included_out_of_scope == len(set(summary.proposals) & outside)
    assert win.project.proposal(volume) is not None
    assert "Predicted although outside the model's scope" in ctl.last_prediction_box.text()


def test_apply_model_with_every_image_labelled_says_there_is_nothing_to_predict() -> None:
    from medtl_gui.gui.training.prediction_job import PredictionSummary

    text = PredictionSummary(run_id="r", task="classification", total=0).counts_text()
    assert text.startswith("Nothing to predict: every image has a label")
