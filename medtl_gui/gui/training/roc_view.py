"""ROC curve(s) of the latest validation predictions, with the area under each (pyqtgraph)."""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from medtl_gui.gui.training.curves import cache_axes, with_legend
from medtl_gui.core.evaluation.epoch_figures import RocCurve
from medtl_gui.gui.training.plot_legend import PlotLegend

_COLORS = ("#4fc3f7", "#ffb74d", "#aed581", "#f06292", "#ba68c8", "#90a4ae")


class RocView(QWidget):
    """Validation ROC: the positive class (binary) or one-vs-rest curves; AUC in the legend."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        item = self.plot.getPlotItem()
        item.setTitle("ROC (validation)", size="10pt")
        item.setLabel("bottom", "1 − specificity (FPR)")  # short: the labels fit a small plot
        item.setLabel("left", "sensitivity (TPR)")
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setXRange(0, 1, padding=0.02)
        item.setYRange(0, 1, padding=0.02)
        self.plot.setMinimumSize(180, 150)
        cache_axes(self.plot)
        self.legend = PlotLegend()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(with_legend(self.plot, self.legend))
        self.curves: list[RocCurve] = []
        self._items: list[pg.PlotDataItem] = []
        self._title = "ROC (validation)"
        self.clear()

    def clear(self) -> None:
        """Only the chance diagonal."""
        item = self.plot.getPlotItem()
        item.clear()
        self.legend.clear()
        item.plot([0, 1], [0, 1], pen=pg.mkPen((150, 150, 150), width=1, style=Qt.PenStyle.DashLine))
        self.curves = []
        self._items = []

    def set_curves(self, curves: Sequence[RocCurve], epoch: int | None = None) -> None:
        """Draw these curves. The same classes as before update in place (no re-layout of plot and legend)."""
        curves = list(curves)
        if [c.label for c in curves] != [c.label for c in self.curves] or len(self._items) != len(curves):
            self.clear()
            for curve, color in zip(curves, _COLORS * 4):
                self._items.append(self.plot.getPlotItem().plot([], [], name=curve.label,
                                                                pen=pg.mkPen(color, width=2)))
                self.legend.add(curve.label, color)
        for i, (item, curve) in enumerate(zip(self._items, curves)):
            item.setData(curve.fpr, curve.tpr)
            self.legend.set_name(i, f"{curve.label}: AUC {curve.auc:.3f}")
        self.curves = curves
        where = f" — epoch {epoch + 1}" if epoch is not None else ""
        title = f"ROC (validation{where})"
        if title != self._title:
            self._title = title
            self.plot.getPlotItem().setTitle(title, size="10pt")

    @property
    def aucs(self) -> dict[str, float]:
        """AUC per drawn curve."""
        return {c.label: c.auc for c in self.curves}
