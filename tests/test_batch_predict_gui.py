"""The "Predict folder…" dialog: runs in the background, lists the broken file, opens the CSV's folder."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from test_batch_predict import _scan_folder, classifier_run  # noqa: F401 - the module-scoped run fixture


def test_dialog_predicts_a_folder_in_the_background_and_lists_the_broken_file(qtbot, classifier_run: Path,  # noqa: F811
                                                                              tmp_path: Path) -> None:
    from medtl_gui.gui.dialogs.batch_predict_dialog import BatchPredictDialog

    opened: list[Path] = []
    dialog = BatchPredictDialog(runs_dir=classifier_run.parent, opener=opened.append)
    qtbot.addWidget(dialog)
    assert dialog.run.findData(str(classifier_run)) >= 0, "the project's runs are offered"
    assert dialog.start() is None and "add files" in dialog.status.text().lower()  # no scans chosen yet
    dialog.set_run(classifier_run)
    dialog.add_inputs([str(_scan_folder(tmp_path / "scans"))])
    dialog.set_output(tmp_path / "out" / "predictions.csv")
    dialog.tta.setCurrentIndex(dialog.tta.findData("flips"))  # test-time augmentation passes through
    assert not dialog.mask_format.isEnabled(), "mask formats only apply to segmentation runs"
    assert not dialog.open_button.isEnabled()
    with qtbot.waitSignal(dialog.finished_prediction, timeout=60000) as blocker:
        job = dialog.start()
        assert job is not None and dialog.cancel_button.isEnabled() and not dialog.start_button.isEnabled()
    result = blocker.args[0]
    # the CT series is outside the scope of a model trained on 2D grey images: skipped with the reason
    assert result.predicted == 2 and sorted(Path(s).name for s, _ in result.failures) == ["broken.png", "series"]
    assert dialog.failures.isVisibleTo(dialog) and dialog.failures.rowCount() == 2
    reasons = {Path(dialog.failures.item(i, 0).text()).name: dialog.failures.item(i, 1).text() for i in range(2)}
    assert "unreadable" in reasons["broken.png"] and "outside the model's scope" in reasons["series"]
    assert "2 predicted, 2 skipped (1 outside the model's scope)" in dialog.status.text()
    with (tmp_path / "out" / "predictions.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and sum(r["status"] == "ok" for r in rows) == 2
    dialog.include_out_of_scope.setChecked(True)  # the user includes it: the series is predicted too
    with qtbot.waitSignal(dialog.finished_prediction, timeout=60000) as blocker:
        assert dialog.start() is not None
    assert blocker.args[0].predicted == 3 and "3 predicted, 1 skipped" in dialog.status.text()
    assert dialog.open_button.isEnabled()
    dialog.open_button.click()
    assert opened == [tmp_path / "out"]


def test_predict_folder_is_in_the_train_menu(main_window) -> None:
    action = main_window.window_actions.actions["predict_folder"]
    assert action in main_window.window_actions.train_menu.actions()
    action.trigger()
    dialog = main_window.batch_predict_dialog
    assert dialog.isVisible() and dialog.parent() is main_window
    dialog.close()
