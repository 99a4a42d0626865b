"""The segmentation-label editor: mask values (1-255) with their names and colours."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLineEdit, QSpinBox, QWidget

from medtl_gui.core.project.labels import DEFAULT_COLORS
from medtl_gui.gui.dialogs.color_button import ColorButton
from medtl_gui.gui.dialogs.label_table_dialog import LabelTableDialog
from medtl_gui.gui.label_styles import set_seg_label_style, styled_seg_labels


class SegLabelEditorDialog(LabelTableDialog):
    """Rename, recolour and add segmentation labels; ``apply()`` (run on OK) stores them.

    A label's mask value cannot change once it exists (masks already use it).
    """

    noun = "label"

    def __init__(self, project: Any, parent: QWidget | None = None):
        super().__init__(project, "Segmentation labels", ["Value", "Name", "Colour"], 1, "Add label",
                         size=(480, 320), parent=parent)
        self._original: list[tuple[int, str, str]] = []
        for label in styled_seg_labels(project):
            self._add_row(label.value, label.name, label.color, editable_value=False)
            self._original.append((label.value, label.name, label.color))

    def add_new_row(self) -> int:
        return self.add_label_row()

    def add_label_row(self, name: str = "", color: str | None = None, value: int | None = None) -> int:
        """Append a row for a new label (the next free value by default); returns its row."""
        used = {values[0] for values in self.rows()}
        if value is None:
            value = next((v for v in range(1, 256) if v not in used), 255)
        color = color or DEFAULT_COLORS[(value - 1) % len(DEFAULT_COLORS)]
        return self._add_row(value, name, color, editable_value=True)

    def _add_row(self, value: int, name: str, color: str, *, editable_value: bool) -> int:
        row = self.table.rowCount()
        self.table.insertRow(row)
        spin = QSpinBox()
        spin.setRange(1, 255)
        spin.setValue(int(value))
        spin.setEnabled(editable_value)
        self.table.setCellWidget(row, 0, spin)
        name_edit = QLineEdit(name)
        name_edit.setPlaceholderText("label name")
        self.table.setCellWidget(row, 1, name_edit)
        self.table.setCellWidget(row, 2, ColorButton(color))
        return row

    def row_values(self, row: int) -> tuple[int, str, str]:
        """(value, name, colour) as edited in one row."""
        return (int(self.table.cellWidget(row, 0).value()), self.table.cellWidget(row, 1).text().strip(),
                self.table.cellWidget(row, 2).color)

    def set_row(self, row: int, name: str | None = None, color: str | None = None) -> None:
        """Edit a row programmatically (tests, scripting)."""
        if name is not None:
            self.table.cellWidget(row, 1).setText(name)
        if color is not None:
            self.table.cellWidget(row, 2).set_color(color)

    def problems(self) -> list[str]:
        """Why the edited table cannot be stored (empty when it can)."""
        rows = self.rows()
        return self.check_rows([r[1] for r in rows], [r[0] for r in rows], "each mask value may have one label")

    def apply(self) -> list[str]:
        """Store renames, colours and new labels; returns what changed."""
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))
        rows = self.rows()
        changes: list[str] = []
        for (value, old_name, old_color), (_v, name, color) in zip(self._original, rows):
            if name != old_name or color != old_color:
                set_seg_label_style(self.project, value, name=name if name != old_name else None,
                                    color=color if color != old_color else None)
                changes.append(f"label {value}: {name} {color}")
        for value, name, color in rows[len(self._original):]:
            self.project.add_seg_label(name, color, value)
            changes.append(f"added label {value}: {name}")
        self._original = rows
        return changes
