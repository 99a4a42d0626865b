"""pytest-qt tests that drive the real main window on a small demo project."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from medtl_gui.core.project import Project


@pytest.fixture
def window(main_window):
    return main_window


def _wait_shown(qtbot, win, image_id):
    qtbot.waitUntil(lambda: win.viewer.scan is not None and win.current_id == image_id, timeout=20000)


def test_opens_demo_project_and_shows_first_image(window):
    rows = window.browser.model.rows
    assert len(rows) == window.project.info()["images"] > 0
    assert window.viewer.scan is not None
    assert window.viewer.image_item.image is not None
    assert window.current_id == window.browser.current_image_id()


def test_keyboard_labelling_writes_label_and_history(qtbot, window):
    first = window.current_id
    window.browser.select_row(0)
    qtbot.keyClick(window, Qt.Key.Key_2)  # second class, then advance
    project = window.project
    label = project.label(first)
    assert label is not None and label.class_name == project.classes()[1].name
    assert label.origin == "human"
    assert window.current_id != first  # advanced to the next image
    entries = [h for h in project.history(first) if h.action == "label"]
    assert entries and entries[-1].origin == "human"
    # the label is in the store, not only in the GUI: reopen independently
    other = Project.open(project.folder)
    try:
        assert other.label(first).class_name == project.classes()[1].name
    finally:
        other.close()


def test_arrow_keys_move_through_images(qtbot, window):
    window.browser.select_row(0)
    first = window.current_id
    qtbot.keyClick(window, Qt.Key.Key_Down)
    second = window.current_id
    assert second != first
    qtbot.keyClick(window, Qt.Key.Key_Up)
    assert window.current_id == first


def test_uncertain_and_clear(qtbot, window):
    window.browser.select_row(0)
    image_id = window.current_id
    qtbot.keyClick(window, Qt.Key.Key_U)
    assert window.project.label(image_id).status == "uncertain"
    window.browser.select_row(0)
    qtbot.keyClick(window, Qt.Key.Key_0)
    label = window.project.label(image_id)
    assert label is None or label.class_name is None


def test_ct_window_presets_change_levels(qtbot, window):
    ct = [r for r in window.project.images() if (r.modality or "").upper() == "CT"]
    assert ct, "the demo project has CT images"
    row = next(i for i, r in enumerate(window.browser.proxy.sourceModel().rows) if r.image_id == ct[0].id)
    proxy_row = window.browser.proxy.mapFromSource(window.browser.model.index(row, 0)).row()
    window.browser.select_row(proxy_row)
    _wait_shown(qtbot, window, ct[0].id)
    window.viewer.set_preset("Lung")
    assert window.viewer.image_item.levels is not None
    lo, hi = np.asarray(window.viewer.image_item.levels, dtype=float)
    assert (lo, hi) == (-600 - 750, -600 + 750)
    window.viewer.set_preset("Bone")
    lo2, hi2 = np.asarray(window.viewer.image_item.levels, dtype=float)
    assert (lo2, hi2) == (400 - 900, 400 + 900)


def test_right_drag_changes_window(window):
    before = window.viewer.window
    window.viewer.drag_window(before, 50, -20)
    after = window.viewer.window
    assert after[1] > before[1] and after[0] > before[0]


def test_import_folder_with_broken_file_reports_skip(qtbot, window, tmp_path):
    from PIL import Image

    src = tmp_path / "incoming"
    src.mkdir()
    Image.fromarray((np.arange(64 * 64) % 251).reshape(64, 64).astype(np.uint8)).save(src / "good.png")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    before = window.project.info()["images"]
    window.import_paths([str(src)])
    qtbot.waitUntil(lambda: getattr(window, "last_import_summary", None) is not None, timeout=30000)
    box = window.last_import_summary
    assert "1 file(s) skipped" in box.text()
    assert "broken.png" in box.detailed_text()
    assert window.project.info()["images"] == before + 1
    assert len(window.browser.model.rows) == before + 1


def test_metadata_hides_patient_identity(qtbot, window):
    dicom = [r for r in window.project.images() if r.kind == "dicom-file"]
    assert dicom
    window.current_id = dicom[0].id
    window.show_image(dicom[0].id)
    _wait_shown(qtbot, window, dicom[0].id)
    shown = window.metadata_panel.shown()
    assert shown["Modality"] in ("CT", "MR")  # real DICOM attributes are listed
    assert shown["PatientName"] == "(hidden)"
    window.metadata_panel.reveal_box.setChecked(True)
    assert window.metadata_panel.shown()["PatientName"] not in ("(hidden)", "")


def test_opened_project_is_remembered_as_recent(window):
    assert window.recent_projects()[0] == str(window.project.folder)
    menu = window.window_actions.recent_menu
    assert [a.text() for a in menu.actions()][0] == str(window.project.folder)


def test_zoom_keys_and_fit(qtbot, window):
    view = window.viewer.view
    width = view.viewRange()[0][1] - view.viewRange()[0][0]
    qtbot.keyClick(window, Qt.Key.Key_Plus)
    zoomed = view.viewRange()[0][1] - view.viewRange()[0][0]
    assert zoomed < width * 0.9
    qtbot.keyClick(window, Qt.Key.Key_F)
    fitted = view.viewRange()[0][1] - view.viewRange()[0][0]
    assert fitted > zoomed


def test_invert_key_reverses_the_grey_scale(qtbot, window):
    assert window.viewer.image_item.lut is None
    qtbot.keyClick(window, Qt.Key.Key_I)
    lut = np.asarray(window.viewer.image_item.lut)
    assert lut[0] == 255 and lut[-1] == 0
    qtbot.keyClick(window, Qt.Key.Key_I)
    assert window.viewer.image_item.lut is None
