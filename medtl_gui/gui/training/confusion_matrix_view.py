"""Confusion-matrix heatmap: counts and row-normalised percentages; a click lists that cell's images."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from medtl_gui.core.evaluation.epoch_figures import row_percentages

#: heat colours: 0 % and 100 % of a row (blue scale), text switches to dark on light cells
_LOW, _HIGH = np.array([38, 44, 56]), np.array([66, 165, 245])


def heat_color(percent: float) -> QColor:
    """Cell background for a row share in percent."""
    t = min(max(percent / 100.0, 0.0), 1.0)
    r, g, b = (_LOW + (_HIGH - _LOW) * t).round().astype(int)
    return QColor(int(r), int(g), int(b))


class ConfusionMatrixView(QWidget):
    """Rows: true class; columns: predicted class. ``cell_clicked(true_index, predicted_index)``."""

    cell_clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.class_names: list[str] = []
        self.matrix = np.zeros((0, 0), dtype=np.int64)
        self._header_names: list[str] = []
        self.title = QLabel("Confusion matrix (validation)")
        self.title.setObjectName("panel-title")
        self.title.setWordWrap(True)  # "… (validation — epoch 17): 40/48 correct" must not widen the monitor
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.cellClicked.connect(self._on_click)
        self.table.setMinimumSize(160, 90)
        self.table.setToolTip("Click a cell to list its validation images in the browser")
        self.hint = QLabel("Rows: true class · columns: predicted class · click a cell to list its images")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #9aa0a6; font-size: 8pt;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.hint)

    def set_matrix(self, matrix: Sequence[Sequence[int]] | None, class_names: Sequence[str], epoch: int | None = None) -> None:
        """Show a matrix (None clears the view)."""
        self.class_names = list(class_names)
        if matrix is None:
            self.matrix = np.zeros((0, 0), dtype=np.int64)
            self.table.clear()
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self._header_names = []
            self.title.setText("Confusion matrix (validation)")
            return
        self.matrix = np.asarray(matrix, dtype=np.int64)
        n = len(self.class_names)
        if self.matrix.shape != (n, n):
            raise ValueError(f"a {self.matrix.shape} matrix does not fit {n} classes")
        percent = row_percentages(self.matrix)
        if self.table.rowCount() != n or self._header_names != self.class_names:
            self.table.setRowCount(n)
            self.table.setColumnCount(n)
            self.table.setHorizontalHeaderLabels([f"→ {name}" for name in self.class_names])
            self.table.setVerticalHeaderLabels(self.class_names)
            self._header_names = list(self.class_names)
        for r in range(n):
            for c in range(n):
                item = self.table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    self.table.setItem(r, c, item)
                item.setText(f"{self.matrix[r, c]}\n{percent[r, c]:.0f}%")
                item.setBackground(heat_color(percent[r, c]))
                item.setForeground(QColor("#111111" if percent[r, c] > 60 else "#e8eaed"))
                item.setToolTip(f"true {self.class_names[r]}, predicted {self.class_names[c]}: "
                                f"{self.matrix[r, c]} image(s), {percent[r, c]:.1f}% of the row")
        total = int(self.matrix.sum())
        correct = int(np.trace(self.matrix))
        where = f" — epoch {epoch + 1}" if epoch is not None else ""
        self.title.setText(f"Confusion matrix (validation{where}): {correct}/{total} correct")

    def count(self, true_index: int, predicted_index: int) -> int:
        """The count shown in a cell."""
        return int(self.matrix[true_index, predicted_index])

    def click_cell(self, true_index: int, predicted_index: int) -> None:
        """Act as if the user clicked a cell."""
        self.table.setCurrentCell(true_index, predicted_index)
        self._on_click(true_index, predicted_index)

    def _on_click(self, row: int, column: int) -> None:
        if 0 <= row < len(self.class_names) and 0 <= column < len(self.class_names):
            self.cell_clicked.emit(row, column)
