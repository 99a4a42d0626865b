"""pytest-qt tests: toolbar and menu shortcuts, help, the class and segmentation-label editors, settings."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QKeySequence

from medtl_gui.gui.label_styles import styled_classes, styled_seg_labels


def _keys(action) -> list[str]:
    return [s.toString(QKeySequence.SequenceFormat.PortableText) for s in action.shortcuts()]


PROBE = """
import sys, time
from PySide6.QtWidgets import QApplication
app = QApplication([])
from medtl_gui.gui.main_window import MainWindow
window = MainWindow()
window.show()
at_start = "torch" in sys.modules
window.open_project(sys.argv[1])
deadline = time.time() + 30
while window.viewer.scan is None and time.time() < deadline:
    app.processEvents()
    time.sleep(0.01)
shown = window.viewer.scan is not None
window.close()  # closing the project clears the viewer
print("shown" if shown else "not shown", at_start, "torch" in sys.modules)
"""


def test_no_torch_at_start_nor_when_showing_images(demo_project_dir, isolated_settings):
    """In a fresh process (other tests may have imported torch into this one)."""
    import os
    import subprocess

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(isolated_settings))
    result = subprocess.run([sys.executable, "-c", PROBE, str(demo_project_dir)], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["shown", "False", "False"], result.stdout + result.stderr


def test_icons_in_toolbar(main_window):
    toolbar_actions = [a for a in main_window.toolbar.actions() if not a.isSeparator()]
    assert len(toolbar_actions) >= 12
    for action in toolbar_actions:
        icon = action.icon()
        assert not icon.isNull(), action.text()
        assert icon.pixmap(QSize(64, 64)).width() == 64, "icons are rendered for high-DPI sizes"


def test_every_icon_file_is_valid_svg():
    from medtl_gui.gui.icons import icon, icon_names

    names = icon_names()
    assert {"brush", "eraser", "fill", "polygon", "lasso", "undo", "redo"} <= set(names)
    for name in names:
        assert not icon(name).isNull(), name
    with pytest.raises(FileNotFoundError, match="nope"):
        icon("nope")


def test_menus_show_shortcuts_and_help_lists_them(qtbot, main_window):
    actions = main_window.actions_by_name
    assert _keys(actions["undo"]) == ["Ctrl+Z"]
    assert _keys(actions["redo"]) == ["Ctrl+Shift+Z", "Ctrl+Y"]
    assert _keys(actions["tool_brush"]) == ["B"]
    assert _keys(actions["brush_larger"]) == ["]"]
    assert "(B)" in actions["tool_brush"].toolTip()
    main_window.show_shortcuts()
    rows = main_window.shortcuts_dialog.rows()
    texts = {(keys, action) for _group, keys, action in rows}
    assert ("Ctrl+Z", "Undo label or mask edit") in texts
    assert any(keys == "1" and "normal" in action for keys, action in texts), "class keys are listed"
    assert any(group == "Mouse" and keys == "Right-drag" for group, keys, _a in rows)
    main_window.shortcuts_dialog.close()


def test_class_editor_renames_recolours_rekeys_and_adds(qtbot, main_window, monkeypatch):
    from medtl_gui.gui.dialogs.class_editor import ClassEditorDialog

    project = main_window.project
    dialog = ClassEditorDialog(project)
    qtbot.addWidget(dialog)
    assert [dialog.row_values(r)[0] for r in range(2)] == ["normal", "lesion"]
    dialog.set_row(0, name="healthy", color="#00ff00", key="2")
    dialog.set_row(1, key="1")  # swap the two keys
    row = dialog.add_class_row("nodule", "#0000ff")
    assert dialog.row_values(row)[2] == "3"
    assert dialog.problems() == []
    dialog.apply()
    classes = {c.name: c for c in styled_classes(project)}
    assert set(classes) == {"healthy", "lesion", "nodule"}
    assert classes["healthy"].color == "#00ff00" and classes["healthy"].shortcut == "2"
    assert classes["lesion"].shortcut == "1" and classes["nodule"].shortcut == "3"
    assert any(h.action == "class-rename" for h in project.history())

    # the window picks the new key map up: key 3 labels "nodule"
    monkeypatch.setattr(ClassEditorDialog, "exec", lambda self: True)
    main_window.edit_classes()
    main_window.browser.select_row(0)
    image_id = main_window.current_id
    qtbot.keyClick(main_window, Qt.Key.Key_3)
    assert project.label(image_id).class_name == "nodule"


def test_class_editor_refuses_clashes(qtbot, main_window):
    from medtl_gui.gui.dialogs.class_editor import ClassEditorDialog

    dialog = ClassEditorDialog(main_window.project)
    qtbot.addWidget(dialog)
    dialog.set_row(1, name="normal", key="1")
    problems = " ".join(dialog.problems())
    assert "names must differ" in problems and "only one class" in problems
    dialog._on_ok()
    assert dialog.error.text() and dialog.result() == 0
    assert [c.name for c in main_window.project.classes()] == ["normal", "lesion"]


def test_seg_label_editor_adds_and_renames(qtbot, main_window, monkeypatch):
    from medtl_gui.gui.dialogs.seg_label_editor import SegLabelEditorDialog

    project = main_window.project
    dialog = SegLabelEditorDialog(project)
    qtbot.addWidget(dialog)
    dialog.set_row(0, name="nodule", color="#ff0000")
    row = dialog.add_label_row("vessel")
    assert dialog.row_values(row)[0] == 2
    dialog.apply()
    labels = {s.value: s for s in styled_seg_labels(project)}
    assert labels[1].name == "nodule" and labels[1].color == "#ff0000"
    assert labels[2].name == "vessel"
    monkeypatch.setattr(SegLabelEditorDialog, "exec", lambda self: True)
    main_window.edit_seg_labels()
    panel = main_window.seg_panel
    assert [panel.label_box.itemData(i) for i in range(panel.label_box.count())] == [1, 2]
    assert "nodule" in panel.label_box.itemText(0)
    assert main_window.viewer.overlay.colors[1] == "#ff0000"


def test_settings_are_validated_saved_and_applied(qtbot, main_window, tmp_path):
    from PySide6.QtWidgets import QApplication

    from medtl_gui.gui.app_settings import AppSettings
    from medtl_gui.gui.dialogs.settings_dialog import SettingsDialog
    from medtl_gui.gui.theme import apply_theme

    dialog = SettingsDialog(main_window.preferences)
    qtbot.addWidget(dialog)
    dialog.device.setCurrentText("gpu please")
    dialog._accept_if_valid()
    assert "device" in dialog.error.text() and dialog.result() == 0
    dialog.device.setCurrentText("cuda:1")
    dialog.weight_store.setText(str(tmp_path / "weights"))
    dialog.theme.setCurrentText("light")
    dialog._accept_if_valid()
    assert dialog.result() == dialog.DialogCode.Accepted
    app = QApplication.instance()
    saved_palette, saved_sheet = app.palette(), app.styleSheet()
    apply_theme(app, "dark")
    dark_window = app.palette().window().color().lightness()
    try:
        main_window.apply_preferences(dialog.settings())
        loaded = AppSettings.load(main_window.settings)
        assert (loaded.device, loaded.theme, loaded.weight_store) == ("cuda:1", "light", str(tmp_path / "weights"))
        assert app.palette().window().color().lightness() > dark_window + 100
    finally:
        app.setPalette(saved_palette)
        app.setStyleSheet(saved_sheet)


def test_enter_in_note_field_saves_the_note_without_confirming(qtbot, main_window):
    image_id = main_window.current_id
    qtbot.keyClick(main_window, Qt.Key.Key_N)
    note = main_window.label_panel.note
    assert note.hasFocus() or main_window.focusWidget() is note
    note.setText("")
    qtbot.keyClicks(note, "check apex 1 2 s u")  # letters and digits go into the text, not to shortcuts
    qtbot.keyClick(note, Qt.Key.Key_Return)
    assert main_window.project.note(image_id) == "check apex 1 2 s u"
    assert main_window.project.label(image_id) is None
    assert main_window.current_id == image_id


def test_about_lists_versions(main_window):
    main_window.show_about()
    text = main_window.about_box.text()
    assert "PySide6" in text and "torch" in text and "numpy" in text
    main_window.about_box.close()


def test_seg_label_editor_add_button_and_refused_mask_value_clash(qtbot, main_window):
    from medtl_gui.gui.dialogs.seg_label_editor import SegLabelEditorDialog

    dialog = SegLabelEditorDialog(main_window.project)
    qtbot.addWidget(dialog)
    before = dialog.table.rowCount()
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    assert dialog.table.rowCount() == before + 1
    new = dialog.table.rowCount() - 1
    dialog.table.cellWidget(new, 0).setValue(dialog.row_values(0)[0])  # the first label's mask value
    dialog.set_row(new, name="")
    problems = " ".join(dialog.problems())
    assert "every label needs a name" in problems and "each mask value may have one label" in problems
    dialog._on_ok()
    assert "mask value" in dialog.error.text() and dialog.result() == 0
    assert len(main_window.project.seg_labels()) == before
