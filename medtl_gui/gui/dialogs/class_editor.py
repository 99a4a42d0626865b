"""The label-set editor: classification classes with their names, colours and shortcut keys."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from medtl_gui.core.project.labels import DEFAULT_COLORS
from medtl_gui.gui.dialogs.color_button import ColorButton
from medtl_gui.gui.label_styles import SHORTCUT_KEYS, rename_class, set_class_style, styled_classes

NO_KEY = "none"


class ClassEditorDialog(QDialog):
    """Edit the project's classes; ``apply()`` (run on OK) writes the changes to the store.

    Existing classes can be renamed, recoloured and given another key (1-9);
    new classes can be added. Classes are never deleted here: labels that
    use them would lose their meaning (the store keeps their index).
    """

    def __init__(self, project: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.project = project
        self.setWindowTitle("Classes")
        self.resize(520, 360)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Name", "Colour", "Key"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self._original: list[tuple[str, str, str | None]] = []
        for cls in styled_classes(project):
            self._add_row(cls.name, cls.color, cls.shortcut)
            self._original.append((cls.name, cls.color, cls.shortcut))
        add = QPushButton("Add class")
        add.clicked.connect(self.add_class_row)
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
        layout.addWidget(QLabel("Keys 1–9 label the current image with the class and move to the next one."))
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    # -- rows ------------------------------------------------------------------------
    def add_class_row(self, name: str = "", color: str | None = None, shortcut: str | None = None) -> int:
        """Append a row for a new class (the next free colour and key by default); returns its row."""
        used = {self.row_values(r)[2] for r in range(self.table.rowCount())}
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
        rows = [self.row_values(r) for r in range(self.table.rowCount())]
        found = []
        names = [r[0] for r in rows]
        if any(not n for n in names):
            found.append("every class needs a name")
        duplicates = sorted({n for n in names if n and names.count(n) > 1})
        if duplicates:
            found.append("class names must differ: " + ", ".join(duplicates))
        keys = [r[2] for r in rows if r[2]]
        clashes = sorted({k for k in keys if keys.count(k) > 1})
        if clashes:
            found.append("each key may label only one class: " + ", ".join(clashes))
        return found

    def apply(self) -> list[str]:
        """Write renames, new classes, colours and keys to the project; returns what changed."""
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))
        changes: list[str] = []
        rows = [self.row_values(r) for r in range(self.table.rowCount())]
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
        self._original = [self.row_values(r) for r in range(self.table.rowCount())]
        return changes

    def _on_ok(self) -> None:
        try:
            self.apply()
        except Exception as exc:  # shown in the dialog, which stays open
            self.error.setText(str(exc))
            return
        self.accept()
