"""pytest-qt tests on the real window: nothing stale after a project switch, views remembered per image,
one Ctrl+Z for labels and masks, New project creates its folder, the Patient column follows the privacy toggle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from test_gui_segmentation import drag, saved, show

CTRL = Qt.KeyboardModifier.ControlModifier


def _image(win, **wanted) -> int:
    return next(r.id for r in win.project.images() if all(getattr(r, k) == v for k, v in wanted.items()))


def test_new_project_creates_its_folder_and_the_old_image_leaves_the_screen(qtbot, main_window, tmp_path,
                                                                            monkeypatch) -> None:
    win = main_window
    assert win.viewer.scan is not None and win.metadata_panel.table.rowCount() > 0
    target = tmp_path / "not" / "yet" / "there"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kwargs: "")  # cannot name a new one
    with qtbot.waitSignal(win.project_ready, timeout=20000):
        win.actions_by_name["new_project"].trigger()  # File ▸ New project
    assert (target / "project.sqlite").is_file()
    assert Path(win.project.folder) == target.resolve() and win.browser.model.rows == []
    assert win.viewer.scan is None and win.viewer.image_item.image is None
    assert win.viewer.preset_names() == [] and not win.viewer.slice_slider.isVisible()
    assert win.metadata_panel.table.rowCount() == 0
    assert win.label_panel.current.text() == "No image"
    assert win.editor.document is None


def test_window_and_slice_are_remembered_per_image_and_across_restarts(qtbot, main_window, demo_project_dir) -> None:
    from medtl_gui.gui.main_window import MainWindow

    win = main_window
    volume, flat = _image(win, kind="volume"), _image(win, kind="raster", label="normal")
    show(qtbot, win, volume)
    qtbot.waitUntil(lambda: win.viewer.n_slices > 1, timeout=20000)
    assert win.viewer.slice_index == 12 and win.viewer.preset_box.currentText().startswith("Auto")
    win.viewer.set_slice(5)
    win.viewer.set_preset("Lung")
    show(qtbot, win, flat)
    assert win.viewer.n_slices == 1
    show(qtbot, win, volume)
    qtbot.waitUntil(lambda: win.viewer.n_slices > 1, timeout=20000)
    assert win.viewer.slice_index == 5 and win.viewer.window == (-600.0, 1500.0)
    assert win.viewer.preset_box.currentText() == "Lung"
    assert len(win.view_memory) == 1, "only views the user changed are kept (images merely passed are not)"
    win.viewer.drag_window(win.viewer.window, 30, 10)  # a window of the user's own
    dragged = win.viewer.window
    win.close()  # the view is kept on closing too

    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    with qtbot.waitSignal(again.project_ready, timeout=20000):
        assert again.open_project(demo_project_dir)
    show(qtbot, again, volume)
    qtbot.waitUntil(lambda: again.viewer.n_slices > 1, timeout=20000)
    assert again.viewer.slice_index == 5 and again.viewer.window == dragged
    assert again.viewer.preset_box.currentIndex() == -1, "no preset claims a window the user dragged"
    again.close()


def test_ctrl_z_undoes_a_wrong_label_through_the_store_then_a_stroke(qtbot, main_window) -> None:
    win = main_window
    project = win.project
    image_id = _image(win, kind="raster", label="normal", has_mask=False)
    show(qtbot, win, image_id)
    qtbot.keyClick(win, Qt.Key.Key_B)  # brush
    drag(qtbot, win, [(20.5, 30.5), (60.5, 30.5)])
    saved(win)
    assert project.mask(image_id) is not None
    qtbot.keyClick(win, Qt.Key.Key_2)  # "lesion": a wrong label, and labelling moves on to the next image
    assert project.label(image_id).class_name == "lesion" and win.current_id != image_id
    assert win.actions_by_name["undo"].isEnabled()

    qtbot.keyClick(win, Qt.Key.Key_Z, CTRL)  # the label first (the newest edit), from the next image
    label = project.label(image_id)
    assert label.class_name == "normal" and label.origin == "human"
    last = [h for h in project.history(image_id) if h.action == "label"][-1]
    assert last.origin == "human" and last.new_value["class"] == "normal", "the undo is in the annotation history"
    qtbot.waitUntil(lambda: win.current_id == image_id and win.editor.document is not None
                    and win.editor.document.image_id == image_id, timeout=20000)
    assert "normal" in win.label_panel.current.text()
    row = win.browser.model.rows[win.browser.model.source_row(image_id)]
    assert row.label == "normal"

    qtbot.keyClick(win, Qt.Key.Key_Z, CTRL)  # then the stroke
    saved(win)
    assert project.mask(image_id) is None and project.label(image_id).class_name == "normal"

    qtbot.keyClick(win, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)  # redo: the stroke
    saved(win)
    assert project.mask(image_id) is not None and project.label(image_id).class_name == "normal"
    qtbot.keyClick(win, Qt.Key.Key_Y, CTRL)  # redo: the label
    assert project.label(image_id).class_name == "lesion"
    assert not win.actions_by_name["redo"].isEnabled()


def test_patient_column_follows_the_privacy_toggle(qtbot, main_window, isolated_settings) -> None:
    from medtl_gui.gui.app_settings import show_identifying
    from medtl_gui.gui.browser_model import PATIENT_COLUMN

    win = main_window
    proxy = win.browser.proxy

    def patients() -> list[str]:
        return [proxy.index(r, PATIENT_COLUMN).data() for r in range(proxy.rowCount())]

    assert any(r.patient for r in win.browser.model.rows)
    assert set(patients()) == {"(hidden)"}, "PatientIDs hidden, as in the metadata panel"
    win.metadata_panel.reveal_box.setChecked(True)
    assert "DEMO-P000" in patients()
    assert show_identifying(win.settings), "the choice is remembered"
    win.metadata_panel.reveal_box.setChecked(False)
    assert "DEMO-P000" not in patients() and not show_identifying(win.settings)


def test_opacity_sliders_show_their_value(main_window) -> None:
    seg, saliency = main_window.seg_panel, main_window.saliency.panel
    seg.opacity_slider.setValue(35)
    assert seg.opacity_value.text() == "35 %"
    saliency.opacity_slider.setValue(80)
    assert saliency.opacity_value.text() == "80 %"


def test_saliency_heat_map_draws_a_colour_bar(qtbot, main_window) -> None:
    from medtl_gui.core.review.heatmap_colors import COLORMAPS

    win = main_window
    layer = win.saliency.layer
    assert not layer.color_bar.isVisible()
    rows, cols = win.viewer.current_image().shape[:2]
    layer.set_heatmap(np.tile(np.linspace(0, 1, cols, dtype=np.float32), (rows, 1)))
    layer.set_visible(True)
    assert layer.shown and layer.color_bar.isVisible()
    win.resize(1200, 800)
    qtbot.wait(50)
    image = win.viewer.graphics.grab().toImage()
    # the top of the bar ("high") is the colour map's hottest colour, drawn at the view's top right
    view_rect = win.viewer.view.sceneBoundingRect()
    x = int(view_rect.right()) - 10 - 6 - layer.color_bar.b[5] - 4 - 7
    top = image.pixelColor(x, int(view_rect.top()) + 10 + 3)
    hottest = COLORMAPS["jet"][-1]
    assert abs(top.red() - hottest[0]) < 40 and top.green() < 60 and top.blue() < 60, top.name()
    layer.set_colormap("viridis")
    assert layer.color_bar.gradient.stops()[-1][1].name() == "#fde725"
    layer.set_visible(False)
    assert not layer.color_bar.isVisible()
