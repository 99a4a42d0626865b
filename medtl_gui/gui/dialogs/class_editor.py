"""The label-set editor: classification classes with their names, colours and shortcut keys."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget

from medtl_gui.core.project.labels import DEFAULT_COLORS
from medtl_gui.gui.dialogs.color_button import ColorButton
from medtl_gui.gui.dialogs.label_table_dialog import LabelTableDialog
from medtl_gui.gui.label_styles import SHORTCUT_KEYS, rename_class, set_class_style, styled_classes

NO_KEY = "none"


class ClassEditorDialog(LabelTableDialog):
    """Edit the project's classes; ``apply()`` (run on OK) writes the changes to the store.

    Existing classes can be renamed, recoloured and given another key (1-9);
    new classes can be added. Classes are never deleted here: labels that
    use them would lose their meaning (the store keeps their index).
    """

    noun = "class"

    def __init__(self, project: Any, parent: QWidget | None = None):
        super().__init__(project, "Classes", ["Name", "Colour", "Key"], 0, "Add class",
                         "Keys 1–9 label the current image with the class and move to the next one.",
                         (520, 360), parent)
        self._original: list[tuple[str, str, str | None]] = []
        for cls in styled_classes(project):
            self._add_row(cls.name, cls.color, cls.shortcut)
            self._original.append((cls.name, cls.color, cls.shortcut))

    # -- rows ------------------------------------------------------------------------
    def add_new_row(self) -> int:
        return self.add_class_row()

    def add_class_row(self, name: str = "", color: str | None = None, shortcut: str | None = None) -> int:
        """Append a row for a new class (the next free colour and key by default); returns its row."""
        used = {values[2] for values in self.rows()}
        if shortcut is None:
            shortcut = next((k for k in SHORTCUT_KEYS if k not in used), None)
        return self._add_row(name, color or DEFAULT_COLORS[self.table.rowCount() % len(DEFAULT_COLORS)], shortcut)

    def _add_row(self, name: str, color: str, shortcut: str | None) -> int:
        row = self.table.rowCount()
        self.table.insertRow(row)
        name_edit = QLineEdit(name)
        name_edit.setPlaceholderText("class name")
        self.table.setCellWidget(row, 0, name_edit)
        self.table.setCellWidget(row, 1, ColorButton(color))
        key = QComboBox()
        key.addItems([NO_KEY, *SHORTCUT_KEYS])
        key.setCurrentText(shortcut or NO_KEY)
        self.table.setCellWidget(row, 2, key)
        return row

    def row_values(self, row: int) -> tuple[str, str, str | None]:
        """(name, colour, key or None) as edited in one row."""
        name = self.table.cellWidget(row, 0).text().strip()
        color = self.table.cellWidget(row, 1).color
        key = self.table.cellWidget(row, 2).currentText()
        return name, color, None if key == NO_KEY else key

    def set_row(self, row: int, name: str | None = None, color: str | None = None, key: str | None = None) -> None:
        """Edit a row programmatically (tests, scripting)."""
        if name is not None:
            self.table.cellWidget(row, 0).setText(name)
        if color is not None:
            self.table.cellWidget(row, 1).set_color(color)
        if key is not None:
            self.table.cellWidget(row, 2).setCurrentText(key)

    # -- applying --------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Why the edited table cannot be stored (empty when it can)."""
        rows = self.rows()
        return self.check_rows([r[0] for r in rows], [r[2] for r in rows], "each key may label only one class")

    def apply(self) -> list[str]:
        """Write renames, new classes, colours and keys to the project; returns what changed."""
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))
        changes: list[str] = []
        rows = self.rows()
        existing, new = rows[: len(self._original)], rows[len(self._original):]
        # free the keys first so that swapping two keys does not clash midway
        for (old_name, _c, old_key), (_n, _c2, key) in zip(self._original, existing):
            if old_key != key and old_key is not None:
                set_class_style(self.project, old_name, shortcut=None)
        for (old_name, old_color, old_key), (name, color, key) in zip(self._original, existing):
            if name != old_name:
                rename_class(self.project, old_name, name)
                changes.append(f"renamed {old_name} → {name}")
            if color != old_color:
                set_class_style(self.project, name, color=color)
                changes.append(f"{name}: colour {color}")
            if key != old_key and key is not None:
                set_class_style(self.project, name, shortcut=key)
            if key != old_key:
                changes.append(f"{name}: key {key or 'none'}")
        for name, color, key in new:
            self.project.add_class(name, color)
            set_class_style(self.project, name, shortcut=key)
            changes.append(f"added {name}")
        self._original = self.rows()
        return changes
