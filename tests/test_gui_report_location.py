"""Report…: where no application can open the report, a dialog shows its path with Open folder / Copy path."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication

from test_report import tiny_run  # noqa: F401 - the module-scoped run fixture


def test_offscreen_desktop_cannot_open_reports(qtbot) -> None:
    from medtl_gui.gui.training.report_job import desktop_can_open, open_in_desktop

    assert QApplication.platformName() == "offscreen"
    assert not desktop_can_open()
    assert open_in_desktop(Path(__file__)) is False, "says so instead of pretending it opened"


def test_report_without_a_handler_shows_its_path_with_open_folder_and_copy(qtbot, tiny_run) -> None:  # noqa: F811
    from medtl_gui.gui.training.run_history import RunHistoryPanel
    from medtl_gui.core.runs.history import list_runs

    run, _ = tiny_run
    panel = RunHistoryPanel()
    qtbot.addWidget(panel)
    tried: list[Path] = []
    folders: list[Path] = []
    panel.reports.opener = lambda path: tried.append(path) or False  # no browser registered
    panel.reports.folder_opener = lambda folder: folders.append(folder) or True
    panel.set_runs(list_runs(run.parent, set()))
    assert panel.select_run(run.name)
    with qtbot.waitSignal(panel.reports.location_shown, timeout=60000) as blocker:
        panel.buttons["report"].click()
    dialog = blocker.args[0]
    path = run / "report-test.html"
    assert tried == [path] and dialog.isVisible()
    assert dialog.path_label.text() == str(path) and dialog.parent() is panel
    dialog.copy_button.click()
    assert QApplication.clipboard().text() == str(path)
    dialog.open_folder_button.click()
    assert folders == [run] and "Opened" in dialog.status.text()
    dialog.folder_opener = lambda folder: False  # no file manager either
    dialog.open_folder_button.click()
    assert "copy the path" in dialog.status.text()
    dialog.close()


def test_report_opened_by_the_desktop_shows_no_dialog(qtbot, tiny_run) -> None:  # noqa: F811
    from medtl_gui.gui.training.report_job import ReportLauncher

    run, _ = tiny_run
    launcher = ReportLauncher(opener=lambda path: True)
    with qtbot.waitSignal(launcher.finished, timeout=60000):
        launcher.generate(run)
    assert launcher.location_dialog is None
