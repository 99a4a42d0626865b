"""What the class editor and the segmentation-label editor share: a table of labels and its checks.

A subclass names the columns, adds a new row (``add_new_row``, the *Add*
button), reads a row back (``row_values``) and writes the edits to the
project (``apply``); this base lays the dialog out (hint, table, *Add* button,
error line, OK/Cancel), keeps the dialog open with the reason when
``apply`` refuses, and checks names and unique columns the same way for
both editors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)


def repeated(values: Sequence[Any]) -> list[str]:
    """The values that occur more than once (empty ones ignored), sorted, as text."""
    present = [v for v in values if v not in ("", None)]
    return sorted({str(v) for v in present if present.count(v) > 1})


class LabelTableDialog(QDialog):
    """A dialog editing one row per label; see the module docstring for what a subclass provides."""

    #: what a label is called in messages ("class", "label")
    noun = "label"

    def __init__(self, project: Any, title: str, columns: Sequence[str], stretch_column: int, add_text: str,
                 hint: str | None = None, size: tuple[int, int] = (520, 360), parent: QWidget | None = None):
        super().__init__(parent)
        self.project = project
        self.setWindowTitle(title)
        self.resize(*size)
        self.table = QTableWidget(0, len(columns))
        self.table.setHorizontalHeaderLabels(list(columns))
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(stretch_column, QHeaderView.ResizeMode.Stretch)
        self.add_button = QPushButton(add_text)
        self.add_button.clicked.connect(lambda: self.add_new_row())
        self.error = QLabel("")
        self.error.setStyleSheet("color: #ff6b6b;")
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._on_ok)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        if hint:
            layout.addWidget(QLabel(hint))
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    # A subclass defines add_new_row() -> int (append a row for a new label, return its row),
    # row_values(row) -> tuple (one row as edited) and apply() -> list[str] (write the edits, return what
    # changed; ValueError when its problems() forbid it).
    def rows(self) -> list[tuple]:
        """Every row's values, in table order."""
        return [self.row_values(r) for r in range(self.table.rowCount())]

    def check_rows(self, names: Sequence[str], unique: Sequence[Any], unique_rule: str) -> list[str]:
        """Problems with these names (each needed, all different) and a column that must not repeat."""
        found = []
        if any(not name for name in names):
            found.append(f"every {self.noun} needs a name")
        duplicates = repeated(names)
        if duplicates:
            found.append(f"{self.noun} names must differ: " + ", ".join(duplicates))
        clashes = repeated(unique)
        if clashes:
            found.append(f"{unique_rule}: " + ", ".join(clashes))
        return found

    def _on_ok(self) -> None:
        try:
            self.apply()
        except Exception as exc:  # shown in the dialog, which stays open
            self.error.setText(str(exc))
            return
        self.accept()
