"""pytest-qt tests of the viewer-first window: the run monitor beside the viewer (tab) or in its own window,
splitters that neither collapse nor move, and a layout remembered between sessions (isolated QSettings)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

RUN_TIMEOUT_MS = 180_000


def open_window(qtbot, project_dir, size: tuple[int, int] | None = None):
    """A new MainWindow (reading the settings as they are now) on ``project_dir``, first image on screen."""
    from medtl_gui.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    if size is not None:
        win.resize(*size)
    win.show()
    with qtbot.waitSignal(win.image_shown, timeout=20_000):
        assert win.open_project(project_dir)
    return win


def viewer_share(win) -> float:
    """The viewer's on-screen area as a share of the window's."""
    viewer = win.viewer
    if not viewer.isVisible():
        return 0.0
    return viewer.width() * viewer.height() / (win.width() * win.height())


def tiny_run(panel) -> None:
    panel.apply_preset("balanced")
    panel.model.setCurrentIndex(panel.model.findData("baseline_cnn"))
    panel.image_size.setValue(32)
    panel.epochs.setValue(1)


@pytest.mark.parametrize("size", [(1440, 900), (1280, 720)])
def test_starting_a_run_keeps_the_viewer_at_least_half_the_window(qtbot, demo_project_dir, isolated_settings, size):
    win = open_window(qtbot, demo_project_dir, size)
    assert (win.width(), win.height()) == size
    before = viewer_share(win)
    assert before >= 0.5, f"the default layout gives the viewer {before:.0%} of a {size} window"
    ctl = win.training
    tiny_run(ctl.panel)
    with qtbot.waitSignal(ctl.session.run_started, timeout=RUN_TIMEOUT_MS):
        assert ctl.start_training()
    qtbot.wait(50)
    assert viewer_share(win) >= 0.5, f"after Start the viewer has {viewer_share(win):.0%} of the window"
    index = win.central_tabs.indexOf(ctl.host.page)
    assert "live" in win.central_tabs.tabText(index), "the monitor's tab shows that a run is live"
    # one click on the tab shows the monitor; one on "Viewer" brings the viewer back, the same size
    qtbot.mouseClick(win.central_tabs.tabBar(), Qt.MouseButton.LeftButton,
                     pos=win.central_tabs.tabBar().tabRect(index).center())
    assert ctl.host.is_shown() and ctl.monitor.isVisible() and not win.viewer.isVisible()
    qtbot.mouseClick(win.central_tabs.tabBar(), Qt.MouseButton.LeftButton,
                     pos=win.central_tabs.tabBar().tabRect(0).center())
    assert viewer_share(win) >= 0.5
    qtbot.waitSignal(ctl.session.finished, timeout=RUN_TIMEOUT_MS).wait()  # the run ends
    assert "live" not in win.central_tabs.tabText(index)
    win.close()


def test_splitter_cannot_collapse_the_viewer_nor_moves_between_images(qtbot, demo_project_dir, isolated_settings):
    win = open_window(qtbot, demo_project_dir, (1280, 720))
    splitter = win.splitter
    total = sum(splitter.sizes())
    splitter.setSizes([total, 0])  # as far as a drag of the handle can go
    assert splitter.sizes()[1] >= win.viewer.minimumWidth() > 0, "the viewer keeps its least width"
    splitter.setSizes([0, total])
    assert splitter.sizes()[0] >= win.browser.minimumWidth() > 0
    assert not splitter.childrenCollapsible()
    splitter.setSizes([230, total - 230])
    sizes = splitter.sizes()
    # the demo's images change the viewer's controls (preset names, slice read-out): the splitter stays put
    kinds_seen = set()
    for record in win.project.images():
        if record.kind in kinds_seen:
            continue
        kinds_seen.add(record.kind)
        with qtbot.waitSignal(win.image_shown, timeout=20_000):
            win.browser.select_image(record.id)
        qtbot.wait(20)
        assert splitter.sizes() == sizes, f"the splitter moved when {record.kind} image {record.id} was shown"
    assert len(kinds_seen) >= 3
    win.close()


def test_layout_brush_and_splitter_survive_closing_and_reopening(qtbot, demo_project_dir, isolated_settings):
    from medtl_gui.gui.window_layout import KEYS

    win = open_window(qtbot, demo_project_dir)
    win.resize(1300, 760)
    qtbot.wait(20)
    win.splitter.setSizes([300, win.splitter.width() - 300])
    win.docks["Segmentation"].hide()
    win.editor.set_radius(17)
    qtbot.wait(20)
    sizes = win.splitter.sizes()
    win.close()
    assert str(win.settings.value(KEYS["version"])) == "2"

    again = open_window(qtbot, demo_project_dir)
    assert (again.width(), again.height()) == (1300, 760)
    assert again.splitter.sizes() == sizes
    assert not again.docks["Segmentation"].isVisible(), "the dock arrangement came back"
    assert again.editor.radius == 17 and again.seg_panel.radius_box.value() == 17

    # View ▸ Reset layout: default size, docks and proportions
    again.actions_by_name["reset_layout"].trigger()
    qtbot.wait(20)
    assert (again.width(), again.height()) == (1440, 900)
    assert again.docks["Segmentation"].isVisible()
    assert viewer_share(again) >= 0.5
    again.close()


def test_layout_of_another_version_is_ignored(qtbot, demo_project_dir, isolated_settings):
    from medtl_gui.gui.window_layout import KEYS

    win = open_window(qtbot, demo_project_dir)
    win.docks["Segmentation"].hide()
    win.close()
    win.settings.setValue(KEYS["version"], 1)  # a layout saved by an older MedTL (the monitor was a dock)
    again = open_window(qtbot, demo_project_dir)
    assert again.docks["Segmentation"].isVisible(), "an old dock state is not restored"
    assert viewer_share(again) >= 0.5
    again.close()


def test_monitor_in_its_own_window_is_remembered(qtbot, demo_project_dir, isolated_settings):
    from medtl_gui.gui.app_settings import AppSettings

    win = open_window(qtbot, demo_project_dir, (1280, 720))
    ctl = win.training
    win.actions_by_name["monitor_window"].trigger()  # View ▸ Run monitor opens as ▸ Its own window
    assert ctl.host.placement == "window"
    assert win.central_tabs.count() == 1, "no monitor tab any more"
    assert AppSettings.load(win.settings).monitor_placement == "window"
    tiny_run(ctl.panel)
    with qtbot.waitSignal(ctl.session.run_started, timeout=RUN_TIMEOUT_MS):
        assert ctl.start_training()
    assert ctl.host.window.isVisible() and ctl.monitor.isVisible(), "the run shows in the monitor's window"
    assert ctl.host.window.windowTitle().endswith("live")
    assert viewer_share(win) >= 0.5, "the main window keeps its viewer"
    qtbot.waitSignal(ctl.session.finished, timeout=RUN_TIMEOUT_MS).wait()  # the run ends
    ctl.host.window.resize(700, 520)  # within the offscreen platform's 800x800 screen
    win.close()

    again = open_window(qtbot, demo_project_dir)
    assert again.training.host.placement == "window"
    assert again.actions_by_name["monitor_window"].isChecked()
    assert again.training.host.window.size().toTuple() == (700, 520)
    # the settings dialog shows the choice and changes it back to a tab
    from medtl_gui.gui.dialogs.settings_dialog import SettingsDialog

    dialog = SettingsDialog(again.preferences, again)
    assert dialog.monitor_placement.currentData() == "window"
    dialog.monitor_placement.setCurrentIndex(dialog.monitor_placement.findData("tab"))
    again.apply_preferences(dialog.settings())
    assert again.training.host.placement == "tab" and again.central_tabs.count() == 2
    assert again.actions_by_name["monitor_tab"].isChecked()
    assert AppSettings.load(again.settings).monitor_placement == "tab"
    again.close()


def test_monitor_plots_keep_legends_outside_and_fit_at_1280x720(qtbot, demo_project_dir, isolated_settings):
    win = open_window(qtbot, demo_project_dir, (1280, 720))
    ctl = win.training
    ctl.show_monitor()
    qtbot.wait(20)
    curves = ctl.monitor.curves
    for plot in (curves.loss_plot, curves.metric_plot, curves.lr_plot):
        assert plot.getPlotItem().legend is None, "no legend drawn over the curves"
    assert curves.legend(curves.metric_plot).names[:2] == ["auc", "accuracy"]
    scroll = ctl.monitor_scroll
    assert ctl.monitor.height() <= scroll.viewport().height(), "the monitor fits the tab: nothing below the fold"
    for widget in (curves.loss_plot, curves.metric_plot, curves.lr_plot, ctl.monitor.roc.plot):
        assert widget.width() >= widget.minimumWidth() and widget.height() >= widget.minimumHeight()
    win.close()
