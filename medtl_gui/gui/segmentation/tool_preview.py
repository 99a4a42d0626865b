"""What a segmentation tool draws over the image while it is used: brush circle, polygon/lasso path."""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem


class ToolPreview:
    """Graphics items in a ``pg.ViewBox`` showing the brush footprint and an unfinished outline."""

    def __init__(self, view: pg.ViewBox):
        pen = QPen(QColor(255, 255, 255, 200))
        pen.setCosmetic(True)
        pen.setWidthF(1.2)
        self.brush_circle = QGraphicsEllipseItem()
        self.brush_circle.setPen(pen)
        self.brush_circle.setZValue(20)
        self.brush_circle.setVisible(False)
        view.addItem(self.brush_circle, ignoreBounds=True)
        path_pen = pg.mkPen(color=(255, 214, 10), width=1.5, style=Qt.PenStyle.DashLine)
        self.path = pg.PlotCurveItem(pen=path_pen)
        self.path.setZValue(21)
        view.addItem(self.path, ignoreBounds=True)
        self._points: list[tuple[float, float]] = []

    def show_brush(self, x: float, y: float, radius: int) -> None:
        """Circle of the brush footprint centred on the pixel under (x, y)."""
        col, row = int(x // 1), int(y // 1)
        r = radius + 0.5
        self.brush_circle.setRect(QRectF(col + 0.5 - r, row + 0.5 - r, 2 * r, 2 * r))
        self.brush_circle.setVisible(True)

    def hide_brush(self) -> None:
        self.brush_circle.setVisible(False)

    def show_path(self, points: Sequence[tuple[float, float]], closed: bool = False,
                  cursor: tuple[float, float] | None = None) -> None:
        """Dashed outline through ``points`` (plus a rubber band to ``cursor``)."""
        self._points = list(points)
        shown = list(points) + ([cursor] if cursor is not None else [])
        if closed and shown:
            shown.append(shown[0])
        if len(shown) < 2:
            self.path.setData([], [])
            return
        self.path.setData([p[0] for p in shown], [p[1] for p in shown])

    def hide_path(self) -> None:
        self._points = []
        self.path.setData([], [])

    @property
    def path_points(self) -> list[tuple[float, float]]:
        """Points of the outline being drawn."""
        return list(self._points)
