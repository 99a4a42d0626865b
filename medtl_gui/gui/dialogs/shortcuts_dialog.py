"""Help ▸ Keyboard shortcuts: every menu action with its keys, plus the mouse gestures."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

#: mouse gestures of the viewer (no menu action carries them)
MOUSE_GESTURES: tuple[tuple[str, str], ...] = (
    ("Left-drag", "pan (Navigate tool) · paint / erase / lasso (segmentation tools)"),
    ("Middle-drag", "pan, whatever the tool"),
    ("Right-drag", "window: ↔ width, ↕ level"),
    ("Wheel", "next / previous slice of a volume; zoom a 2D image"),
    ("Ctrl+wheel", "zoom"),
    ("Double-click", "fit the image (Navigate) · close the polygon (Polygon)"),
    ("Click", "flood fill (Fill) · add a vertex (Polygon) · one dab (Brush, Eraser)"),
)


class ShortcutsDialog(QDialog):
    """A table of (group, keys, what they do) rows."""

    def __init__(self, rows: Sequence[tuple[str, str, str]], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(640, 640)
        all_rows = list(rows) + [("Mouse", keys, text) for keys, text in MOUSE_GESTURES]
        self.table = QTableWidget(len(all_rows), 3)
        self.table.setHorizontalHeaderLabels(["", "Keys", "Action"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        bold = QFont()
        bold.setBold(True)
        previous = None
        for r, (group, keys, text) in enumerate(all_rows):
            group_item = QTableWidgetItem(group if group != previous else "")
            group_item.setFont(bold)
            previous = group
            self.table.setItem(r, 0, group_item)
            key_item = QTableWidgetItem(keys)
            key_item.setFont(bold)
            self.table.setItem(r, 1, key_item)
            self.table.setItem(r, 2, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)

    def rows(self) -> list[tuple[str, str, str]]:
        """The table's rows as shown (group cells repeated), for tests."""
        result, group = [], ""
        for r in range(self.table.rowCount()):
            group = self.table.item(r, 0).text() or group
            result.append((group, self.table.item(r, 1).text(), self.table.item(r, 2).text()))
        return result
