"""A push button that shows a colour and lets the user pick another one."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QColorDialog, QPushButton, QWidget


class ColorButton(QPushButton):
    """Shows ``#rrggbb``; a click opens a colour picker; ``color_changed(hex)`` after a change."""

    color_changed = Signal(str)

    def __init__(self, color: str, parent: QWidget | None = None):
        super().__init__(parent)
        self._color = QColor(color).name()
        self.clicked.connect(self._pick)
        self._refresh()

    @property
    def color(self) -> str:
        """The colour as ``#rrggbb``."""
        return self._color

    def set_color(self, color: str) -> None:
        """Show another colour (``#rrggbb``)."""
        qcolor = QColor(color)
        if not qcolor.isValid():
            raise ValueError(f"not a colour: {color!r}")
        if qcolor.name() != self._color:
            self._color = qcolor.name()
            self._refresh()
            self.color_changed.emit(self._color)

    def _pick(self) -> None:
        chosen = QColorDialog.getColor(QColor(self._color), self, "Choose a colour")
        if chosen.isValid():
            self.set_color(chosen.name())

    def _refresh(self) -> None:
        text = "#000000" if QColor(self._color).lightness() > 140 else "#ffffff"
        self.setText(self._color)
        self.setStyleSheet(f"background: {self._color}; color: {text}; padding: 3px 10px;")
