"""Per-class precision, recall (sensitivity), specificity and F1 of the latest validation."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from medtl_gui.core.evaluation.epoch_figures import ClassFigures

COLUMNS: tuple[str, ...] = ("Class", "Images", "Precision", "Recall", "Specificity", "F1")
#: what the header shows (short where the word is long; the tool tips say it in full)
HEADERS: dict[str, tuple[str, str]] = {
    "Images": ("n", "validation images of this class"),
    "Precision": ("Prec.", "precision (positive predictive value)"),
    "Recall": ("Recall", "recall (sensitivity)"),
    "Specificity": ("Spec.", "specificity: true negatives / all negatives"),
}


def _text(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


class PerClassTable(QTableWidget):
    """One row per class (one-vs-rest figures from the confusion matrix)."""

    def __init__(self) -> None:
        super().__init__(0, len(COLUMNS))
        for column, name in enumerate(COLUMNS):
            text, tip = HEADERS.get(name, (name, name))
            header_item = QTableWidgetItem(text)
            header_item.setToolTip(tip)
            self.setHorizontalHeaderItem(column, header_item)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        header = self.horizontalHeader()  # class names in full, the figures share the rest (short titles fit)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.setToolTip("Recall = sensitivity; specificity = true negatives / all negatives (one class vs the rest)")
        self.figures: list[ClassFigures] = []

    def set_figures(self, figures: Sequence[ClassFigures] | None) -> None:
        """Show these rows (None clears)."""
        self.figures = list(figures or [])
        if self.rowCount() != len(self.figures):
            self.setRowCount(len(self.figures))
        for row, f in enumerate(self.figures):
            cells = (f.name, str(f.support), _text(f.precision), _text(f.recall), _text(f.specificity), _text(f.f1))
            for column, text in enumerate(cells):
                item = self.item(row, column)
                if item is None:
                    item = QTableWidgetItem()
                    if column:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.setItem(row, column, item)
                if item.text() != text:
                    item.setText(text)

    def value(self, class_name: str, column: str) -> str:
        """The text shown for a class and a column title (e.g. "Recall")."""
        row = [f.name for f in self.figures].index(class_name)
        return self.item(row, COLUMNS.index(column)).text()
