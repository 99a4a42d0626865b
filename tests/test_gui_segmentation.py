"""pytest-qt tests: paint, fill, undo and redo masks with simulated mouse and key events on the real window."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from medtl_gui.core.project import Project

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier


def show(qtbot, win, image_id: int) -> None:
    """Select an image in the browser and wait until it and its masks are on screen."""
    assert win.browser.select_image(image_id)
    qtbot.waitUntil(lambda: win.current_id == image_id and win.editor.document is not None
                    and win.editor.document.image_id == image_id, timeout=20000)


def drag(qtbot, win, points: list[tuple[float, float]]) -> None:
    """Left-drag through image points with real mouse events on the graphics viewport."""
    viewport = win.viewer.graphics.viewport()
    to_view = win.viewer.image_to_viewport
    qtbot.mousePress(viewport, LEFT, NO_MOD, to_view(*points[0]))
    for point in points[1:]:
        qtbot.mouseMove(viewport, to_view(*point))
        qtbot.wait(12)  # pyqtgraph rate-limits mouse moves to 100 per second
    qtbot.mouseRelease(viewport, LEFT, NO_MOD, to_view(*points[-1]))


def click(qtbot, win, point: tuple[float, float]) -> None:
    qtbot.mouseClick(win.viewer.graphics.viewport(), LEFT, NO_MOD, win.viewer.image_to_viewport(*point))


def unmasked_raster(win) -> int:
    return next(r.id for r in win.project.images() if r.kind == "raster" and not r.has_mask)


def saved(win) -> None:
    assert win.saver.flush(10000)


def test_brush_stroke_is_stored_and_undo_redo_follow(qtbot, main_window):
    win = main_window
    image_id = unmasked_raster(win)
    show(qtbot, win, image_id)
    qtbot.keyClick(win, Qt.Key.Key_B)
    assert win.editor.tool == "brush"
    drag(qtbot, win, [(20.5, 30.5), (40.5, 30.5), (60.5, 30.5), (60.5, 50.5)])
    saved(win)
    mask = win.project.mask(image_id)
    assert mask is not None and mask[30, 20:61].all() and mask[30:51, 60].all()
    assert mask[100, 100] == 0
    assert set(np.unique(mask)) == {0, win.editor.label_value}
    history = [h for h in win.project.history(image_id) if h.action == "mask"]
    assert history and history[-1].origin == "human"
    # the browser row now says "has mask"
    qtbot.waitUntil(lambda: win.browser.model.rows[win.browser.model.source_row(image_id)].has_mask, timeout=5000)

    qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    saved(win)
    assert win.project.mask(image_id) is None, "undoing the only stroke removes the stored mask"
    qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    saved(win)
    assert np.array_equal(win.project.mask(image_id), mask)

    # independent reader: the mask is in the store, not only in the window
    other = Project.open(win.project.folder)
    try:
        assert np.array_equal(other.mask(image_id), mask)
    finally:
        other.close()


def test_eraser_and_brush_radius_keys(qtbot, main_window):
    win = main_window
    image_id = unmasked_raster(win)
    show(qtbot, win, image_id)
    qtbot.keyClick(win, Qt.Key.Key_B)
    radius = win.editor.radius
    qtbot.keyClick(win, Qt.Key.Key_BracketRight)
    assert win.editor.radius > radius
    qtbot.keyClick(win, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(win, Qt.Key.Key_BracketLeft)
    assert win.editor.radius < radius
    win.editor.set_radius(6)
    drag(qtbot, win, [(20.5, 64.5), (100.5, 64.5)])
    qtbot.keyClick(win, Qt.Key.Key_E)
    win.editor.set_radius(3)
    drag(qtbot, win, [(60.5, 50.5), (60.5, 80.5)])
    saved(win)
    mask = win.project.mask(image_id)
    assert mask[64, 30] == 1 and mask[64, 90] == 1
    assert not mask[60:70, 59:62].any(), "the eraser cut the stroke"


def test_flood_fill_and_polygon(qtbot, main_window):
    win = main_window
    win.project.add_seg_label("vessel", "#1f77b4", 2)
    win._load_seg_labels()
    image_id = unmasked_raster(win)
    show(qtbot, win, image_id)
    qtbot.keyClick(win, Qt.Key.Key_P)
    for point in [(20.5, 20.5), (70.5, 20.5), (70.5, 70.5)]:
        click(qtbot, win, point)
        qtbot.wait(QApplication.doubleClickInterval() + 50)  # separate clicks, not a double-click
    assert len(win.editor.polygon_points) == 3
    click(qtbot, win, (20.5, 70.5))  # a double-click (two quick clicks) adds the last vertex and fills
    click(qtbot, win, (20.5, 70.5))
    saved(win)
    mask = win.project.mask(image_id)
    assert mask is not None and mask[45, 45] == 1 and mask[25:65, 25:65].all()
    assert mask[10, 10] == 0 and mask[80, 80] == 0
    assert win.editor.polygon_points == []

    win.seg_panel.label_box.setCurrentIndex(win.seg_panel.label_box.findData(2))
    assert win.editor.label_value == 2
    qtbot.keyClick(win, Qt.Key.Key_G)
    click(qtbot, win, (45.5, 45.5))
    saved(win)
    mask = win.project.mask(image_id)
    assert (mask[25:65, 25:65] == 2).all(), "fill recoloured the connected polygon region"
    assert mask[10, 10] == 0, "and nothing outside it"
    qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    saved(win)
    assert (win.project.mask(image_id)[25:65, 25:65] == 1).all()


def test_lasso_fills_the_dragged_outline(qtbot, main_window):
    win = main_window
    image_id = unmasked_raster(win)
    show(qtbot, win, image_id)
    qtbot.keyClick(win, Qt.Key.Key_L)
    drag(qtbot, win, [(30.5, 30.5), (90.5, 30.5), (90.5, 90.5), (30.5, 90.5), (30.5, 31.5)])
    saved(win)
    mask = win.project.mask(image_id)
    assert mask[60, 60] == 1 and mask[35:85, 35:85].all() and mask[10, 10] == 0


def test_painting_a_slice_of_a_volume(qtbot, main_window):
    win = main_window
    volume = next(r for r in win.project.images() if r.n_frames > 1 and not r.is_color)
    show(qtbot, win, volume.id)
    before = {z: win.project.mask(volume.id, z) for z in range(volume.n_frames)}
    target = 1
    assert before[target] is None, "the demo CT nodule is not on slice 1"
    qtbot.keyClick(win, Qt.Key.Key_Up)  # Up/Down scroll slices of a volume
    win.viewer.set_slice(target)
    assert win.editor.slice_index == target
    qtbot.keyClick(win, Qt.Key.Key_B)
    drag(qtbot, win, [(30.5, 40.5), (70.5, 40.5)])
    saved(win)
    after = win.project.mask(volume.id, target)
    assert after is not None and after[40, 30:71].all()
    for z, old in before.items():
        if z != target:
            new = win.project.mask(volume.id, z)
            assert (old is None and new is None) or np.array_equal(old, new), f"slice {z} changed"
    # undo from another slice goes back to the edited one
    win.viewer.set_slice(target + 3)
    qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    saved(win)
    assert win.project.mask(volume.id, target) is None
    assert win.viewer.slice_index == target


def test_overlay_opacity_outline_and_label_visibility(qtbot, main_window):
    win = main_window
    masked = next(r for r in win.project.images() if r.kind == "raster" and r.has_mask)
    show(qtbot, win, masked.id)
    overlay = win.viewer.overlay
    assert overlay.label_item.isVisible()
    filled = overlay.displayed_rgba()
    assert filled is not None and (filled[..., 3] > 0).sum() > 0
    win.seg_panel.opacity_slider.setValue(25)
    assert overlay.label_item.opacity() == pytest.approx(0.25)
    qtbot.keyClick(win, Qt.Key.Key_O)
    outline = overlay.displayed_rgba()
    assert 0 < (outline[..., 3] > 0).sum() < (filled[..., 3] > 0).sum()
    item = win.seg_panel.visibility_list.item(0)
    item.setCheckState(Qt.CheckState.Unchecked)
    assert (overlay.displayed_rgba()[..., 3] == 0).all(), "hidden label is transparent"
    item.setCheckState(Qt.CheckState.Checked)
    qtbot.keyClick(win, Qt.Key.Key_M)
    assert not overlay.label_item.isVisible()


def test_model_proposal_is_shown_apart_and_can_be_accepted(qtbot, demo_project_dir, isolated_settings):
    from medtl_gui.gui.main_window import MainWindow

    with Project.open(demo_project_dir) as project:
        record = next(r for r in project.images() if r.kind == "raster" and not r.has_mask)
        proposal = np.zeros(record.plane_shape, np.uint8)
        proposal[40:60, 50:80] = 1
        project.set_mask_proposal(record.id, proposal, run_id="run-1")
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.image_shown, timeout=20000):
        win.open_project(demo_project_dir)
    try:
        show(qtbot, win, record.id)
        assert win.viewer.overlay.proposal_item.isVisible()
        assert win.seg_panel.accept_button.isEnabled()
        assert win.project.mask(record.id) is None, "a proposal is not a mask"
        qtbot.keyClick(win, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        saved(win)
        assert np.array_equal(win.project.mask(record.id), proposal)
        assert win.project.mask_record(record.id).origin == "model-confirmed"
    finally:
        win.close()


def test_stroke_on_512_image_does_not_stall_the_gui_thread(qtbot, tmp_path, isolated_settings):
    """The GUI-thread part of a stroke on a 512x512 image (paint, commit, queue the save) stays under 50 ms."""
    from PIL import Image

    from medtl_gui.gui.main_window import MainWindow

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (512, 512), dtype=np.uint8)).save(tmp_path / "big.png")
    with Project.create(tmp_path / "p") as project:
        image_id = project.add_image(tmp_path / "big.png")
    win = MainWindow()
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.image_shown, timeout=20000):
        win.open_project(tmp_path / "p")
    try:
        editor = win.editor
        editor.set_tool("brush")
        editor.set_radius(12)
        timings = []
        for row in range(50, 450, 40):
            started = time.perf_counter()
            editor.drag_started((40.5, row + 0.5), (60.5, row + 0.5))
            for x in range(80, 480, 20):
                editor.drag_moved((x + 0.5, row + 0.5))
            editor.drag_finished((480.5, row + 0.5))
            timings.append(time.perf_counter() - started)
        saved(win)
        moves = 21  # events per stroke
        assert np.median(timings) / moves < 0.05 and max(timings) / moves < 0.05
        assert win.project.mask(image_id)[250, 40:481].all()
        assert len([h for h in win.project.history(image_id) if h.action == "mask"]) >= 1
    finally:
        win.close()


def test_a_shaky_click_with_the_fill_tool_still_fills(qtbot, main_window):
    win = main_window
    image_id = unmasked_raster(win)
    show(qtbot, win, image_id)
    qtbot.keyClick(win, Qt.Key.Key_G)
    drag(qtbot, win, [(10.5, 10.5), (14.5, 12.5)])  # moved past the drag threshold
    saved(win)
    mask = win.project.mask(image_id)
    assert mask is not None and mask.all(), "the empty mask region (all of it) was filled"
