"""The run history's "Report…" button: the report is written in the background and handed to the opener."""

from __future__ import annotations

from pathlib import Path

from test_report import tiny_run  # noqa: F401 - the module-scoped run fixture


def test_report_button_writes_the_report_in_the_background_and_opens_it(qtbot, tiny_run) -> None:  # noqa: F811
    from medtl_gui.gui.training.run_history import RunHistoryPanel
    from medtl_gui.core.runs.history import list_runs

    run, _ = tiny_run
    panel = RunHistoryPanel()
    qtbot.addWidget(panel)
    opened: list[Path] = []
    panel.reports.opener = opened.append  # no browser in tests
    panel.set_runs(list_runs(run.parent, set()))
    button = panel.buttons["report"]
    assert not button.isEnabled(), "no run selected"
    assert panel.select_run(run.name)
    assert button.isEnabled()
    with qtbot.waitSignal(panel.reports.finished, timeout=60000) as blocker:
        button.click()
        assert panel.reports.running and "Writing the report" in panel.status.text()
    path = blocker.args[0]
    assert path == run / "report-test.html" and path.is_file()
    assert opened == [path] and "Report written" in panel.status.text()
    assert '<h2 id="metrics">' in path.read_text(encoding="utf-8")


def test_report_renders_to_png_offscreen(qtbot, tiny_run, tmp_path: Path) -> None:  # noqa: F811
    from PySide6.QtGui import QImage

    from medtl_gui.core.reporting import generate_report
    from medtl_gui.gui.training.report_rendering import render_png

    run, _ = tiny_run
    html = generate_report(run, tmp_path / "r.html").path.read_text(encoding="utf-8")
    png = render_png(html, tmp_path / "r.png", width=600, max_height=900, scale=1.0)
    image = QImage(str(png))
    assert (image.width(), image.height()) == (600, 900)
    banner = image.pixelColor(300, 10)
    assert (banner.red(), banner.green(), banner.blue()) == (0x0B, 0x3D, 0x61), "the banner is drawn"
