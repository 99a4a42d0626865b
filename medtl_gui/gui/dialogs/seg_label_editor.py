"""The segmentation-label editor: mask values (1-255) with their names and colours."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from medtl_gui.core.project.labels import DEFAULT_COLORS
from medtl_gui.gui.dialogs.color_button import ColorButton
from medtl_gui.gui.label_styles import set_seg_label_style, styled_seg_labels


class SegLabelEditorDialog(QDialog):
    """Rename, recolour and add segmentation labels; ``apply()`` (run on OK) stores them.

    A label's mask value cannot change once it exists (masks already use it).
    """

    def __init__(self, project: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.project = project
        self.setWindowTitle("Segmentation labels")
        self.resize(480, 320)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Value", "Name", "Colour"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self._original: list[tuple[int, str, str]] = []
        for label in styled_seg_labels(project):
            self._add_row(label.value, label.name, label.color, editable_value=False)
            self._original.append((label.value, label.name, label.color))
        add = QPushButton("Add label")
        add.clicked.connect(self.add_label_row)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #ff6b6b;")
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._on_ok)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def add_label_row(self, name: str = "", color: str | None = None, value: int | None = None) -> int:
        """Append a row for a new label (the next free value by default); returns its row."""
        used = {self.row_values(r)[0] for r in range(self.table.rowCount())}
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
        rows = [self.row_values(r) for r in range(self.table.rowCount())]
        found = []
        if any(not name for _v, name, _c in rows):
            found.append("every label needs a name")
        names = [name for _v, name, _c in rows if name]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            found.append("label names must differ: " + ", ".join(duplicates))
        values = [v for v, _n, _c in rows]
        clashes = sorted({v for v in values if values.count(v) > 1})
        if clashes:
            found.append("each mask value may have one label: " + ", ".join(map(str, clashes)))
        return found

    def apply(self) -> list[str]:
        """Store renames, colours and new labels; returns what changed."""
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))
        rows = [self.row_values(r) for r in range(self.table.rowCount())]
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

    def _on_ok(self) -> None:
        try:
            self.apply()
        except Exception as exc:  # shown in the dialog, which stays open
            self.error.setText(str(exc))
            return
        self.accept()
