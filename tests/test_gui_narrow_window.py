"""pytest-qt: at 1280x720 with the default layout nothing in the browser and the dock column is clipped: the
browser's Label column lies within the table's viewport, and the Segmentation and Training panels fit their
dock without a horizontal scroll bar (isolated QSettings: the default layout)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QScrollArea

SIZE = (1280, 720)


@pytest.fixture
def narrow_window(qtbot, demo_project_dir, isolated_settings):
    from medtl_gui.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(*SIZE)
    win.show()
    with qtbot.waitSignal(win.image_shown, timeout=20_000):
        assert win.open_project(demo_project_dir)
    assert (win.width(), win.height()) == SIZE
    yield win
    win.close()


def test_browser_shows_image_and_label_columns_and_its_sort_box_fits(qtbot, narrow_window):
    browser = narrow_window.browser
    table, header = browser.table, browser.table.horizontalHeader()
    assert browser.width() < 260, "the browser is narrow at 1280x720 (the viewer keeps the room)"
    viewport = table.viewport().width()
    for column in (0, 1):  # Image and Label
        left = header.sectionViewportPosition(column)
        assert left >= 0 and left + header.sectionSize(column) <= viewport, \
            f"column {column} spans {left}..{left + header.sectionSize(column)} of a {viewport} px viewport"
    assert header.sectionSize(0) >= 80, "the Image column keeps a readable width"
    label_width = header.sectionSize(1)
    assert label_width >= table.fontMetrics().horizontalAdvance("uncertain"), "the Label column fits its texts"
    # the filter and sort boxes share the row and ask for no more than their half of it
    for box in (browser.filter_box, browser.sort_box):
        assert box.geometry().right() <= browser.width()
        assert box.minimumSizeHint().width() <= browser.width() // 2
    # the columns follow the browser's width: wider browser, wider Image column, Label still in view
    splitter = narrow_window.splitter
    total = sum(splitter.sizes())
    splitter.setSizes([300, total - 300])
    qtbot.waitUntil(lambda: header.sectionSize(0) > 150)
    assert header.sectionViewportPosition(1) + header.sectionSize(1) <= table.viewport().width()
    assert header.sectionSize(1) == label_width


def test_a_column_the_user_drags_keeps_its_width(qtbot, narrow_window):
    browser = narrow_window.browser
    header = browser.table.horizontalHeader()
    header.resizeSection(0, 150)  # as a drag of the header's edge does
    splitter = narrow_window.splitter
    total = sum(splitter.sizes())
    splitter.setSizes([300, total - 300])
    qtbot.wait(50)
    assert header.sectionSize(0) == 150


def dock_scroll(win, name: str) -> QScrollArea:
    dock = win.docks.get(name) or win.training.docks[name]
    dock.show()
    dock.raise_()
    scroll = dock.widget()
    assert isinstance(scroll, QScrollArea)
    return scroll


@pytest.mark.parametrize("name", ["Segmentation", "Training"])
def test_dock_panels_fit_the_dock_column_without_sideways_scrolling(qtbot, narrow_window, name):
    win = narrow_window
    scroll = dock_scroll(win, name)
    qtbot.waitUntil(lambda: scroll.isVisible() and scroll.viewport().width() > 0)
    qtbot.wait(50)
    assert scroll.width() <= 330, f"the dock column is {scroll.width()} px wide at 1280x720"
    assert scroll.horizontalScrollBar().maximum() == 0 and not scroll.horizontalScrollBar().isVisible(), \
        f"the {name} panel needs {scroll.widget().minimumSizeHint().width()} px in a {scroll.viewport().width()} px dock"
    panel = scroll.widget()
    # every button and check box of the panel lies inside the panel (nothing cut off on the right)
    from PySide6.QtWidgets import QAbstractButton

    for button in panel.findChildren(QAbstractButton):
        if button.isVisibleTo(panel):
            right = button.mapTo(panel, button.rect().topRight()).x()
            assert right <= panel.width(), f"{button.text() or button.toolTip()!r} ends at {right} > {panel.width()}"


def test_training_panel_fits_for_segmentation_with_the_augmentation_preview(qtbot, narrow_window):
    win = narrow_window
    scroll = dock_scroll(win, "Training")
    panel = win.training.panel
    panel.task.setCurrentIndex(panel.task.findData("segmentation"))
    panel.task.activated.emit(panel.task.currentIndex())
    panel.preview.show()  # the three-by-two preview tiles
    qtbot.wait(50)
    assert panel.colour_channel.isVisible(), "the segmentation Input row is shown"
    assert scroll.horizontalScrollBar().maximum() == 0, \
        f"the panel needs {panel.minimumSizeHint().width()} px in a {scroll.viewport().width()} px dock"


def test_a_combo_box_too_narrow_for_its_text_elides_it_and_tells_it_in_its_tip(qtbot):
    from PySide6.QtCore import QEvent, QPoint
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QApplication, QToolTip

    from medtl_gui.gui.elided_combo import ElidedComboBox

    box = ElidedComboBox()
    qtbot.addWidget(box)
    box.addItems(["Short", "Model disagrees with label"])
    box.setToolTip("Show only some images")
    box.setFixedWidth(90)
    box.show()
    assert box.minimumSizeHint().width() < box.fontMetrics().horizontalAdvance("Model disagrees with label")
    assert not box.is_elided()
    box.setCurrentIndex(1)
    assert box.is_elided()
    QApplication.sendEvent(box, QHelpEvent(QEvent.Type.ToolTip, QPoint(5, 5), box.mapToGlobal(QPoint(5, 5))))
    assert QToolTip.text().startswith("Model disagrees with label") and "Show only some images" in QToolTip.text()
    QToolTip.hideText()


def test_the_weight_reason_gets_the_height_its_text_needs_after_each_preset(qtbot, narrow_window):
    """A wrapped label in a form kept the height of its previous, shorter text: its lines were cut off."""
    scroll = dock_scroll(narrow_window, "Training")
    panel = narrow_window.training.panel
    qtbot.waitUntil(lambda: panel.summary.training_images("classification") > 0)
    reason = panel.weights_reason
    for name in ("balanced", "quick", "best", "quick"):
        index = panel.preset.findData(name)
        panel.preset.setCurrentIndex(index)
        panel.preset.activated.emit(index)
        qtbot.wait(30)
        assert reason.text()
        assert reason.height() >= reason.heightForWidth(reason.width()), \
            f"{name}: the reason is {reason.height()} px high, its text needs {reason.heightForWidth(reason.width())}"
        assert panel.import_button.y() >= reason.y() + reason.height(), "the button lies below the reason"
    assert scroll.horizontalScrollBar().maximum() == 0
