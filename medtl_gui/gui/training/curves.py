"""Training curves: loss per batch and per epoch, validation metrics, learning rate (pyqtgraph).

Data arrive by signal and are only appended to buffers; a timer redraws the
plots that changed at most ``REDRAW_HZ`` times a second with
``PlotDataItem.setData`` (downsampled and clipped to the view), so a fast
run cannot flood the GUI thread. The x axis counts epochs (batch ``b`` of
epoch ``e`` sits at ``e + (b + 1) / n``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QVBoxLayout, QWidget

from medtl_gui.core.tasks import TASKS, can
from medtl_gui.gui.training.plot_legend import PlotLegend

#: redraws per second at most
REDRAW_HZ = 10
def curve_metrics(task: str) -> tuple[str, ...]:
    """The validation metrics drawn for runs of config task ``task`` (the task registry's)."""
    owner = TASKS.get(task)
    return owner.curve_metrics.get(task, ()) if owner is not None else ()


_METRIC_COLORS = ("#4fc3f7", "#ffb74d", "#aed581", "#f06292", "#ba68c8")
#: metrics only some runs log (domain adaptation: the domain classifier's accuracy, a diagnostic), drawn
#: dashed on the metric plot from the first epoch that reports them
OPTIONAL_METRICS: dict[str, tuple[str, str]] = {"train_domain_accuracy": ("domain accuracy", "#ba68c8")}


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above ``value`` (axis limits that change rarely)."""
    if value <= 0 or not np.isfinite(value):
        return 1.0
    exponent = np.floor(np.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        candidate = step * 10.0 ** exponent
        if candidate >= value * (1 - 1e-12):
            return float(candidate)
    return float(10.0 ** (exponent + 1))


class SeriesBuffer:
    """Growable x/y arrays (amortised O(1) append) for one curve."""

    def __init__(self, capacity: int = 1024):
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self.size = 0

    def extend(self, xs: Sequence[float], ys: Sequence[float]) -> None:
        """Append points (None values become NaN: a gap)."""
        n = len(xs)
        if self.size + n > len(self._x):
            capacity = max(len(self._x) * 2, self.size + n)
            self._x = np.resize(self._x, capacity)
            self._y = np.resize(self._y, capacity)
        self._x[self.size:self.size + n] = xs
        self._y[self.size:self.size + n] = [np.nan if y is None else y for y in ys]
        self.size += n

    def clear(self) -> None:
        self.size = 0

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.size]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.size]


def cache_axes(widget: pg.PlotWidget) -> None:
    """Keep each axis (and the legend) as a cached pixmap, repainted only when the axis itself changes.

    Replaying an axis' tick text is most of a plot's painting; without the
    cache every curve update that touches an axis' area repaints all of it.
    """
    item = widget.getPlotItem()
    for name in ("left", "bottom", "right", "top"):
        item.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    if item.legend is not None:
        item.legend.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


#: a curve plot's least size: axis labels and ticks stay readable (the run monitor scrolls below it)
PLOT_MIN_SIZE = (200, 150)


def with_legend(plot: pg.PlotWidget, legend: PlotLegend) -> QWidget:
    """The plot with its legend underneath (Qt lays both out: the legend never covers a curve)."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    layout.addWidget(plot, 1)
    layout.addWidget(legend)
    return box


def _plot(title: str, y_label: str) -> pg.PlotWidget:
    widget = pg.PlotWidget()
    widget.setTitle(title, size="10pt")
    item = widget.getPlotItem()
    item.setLabel("bottom", "epoch")
    item.setLabel("left", y_label)
    item.showGrid(x=True, y=True, alpha=0.2)
    item.setDownsampling(auto=True, mode="peak")
    item.setClipToView(True)
    widget.setMinimumSize(PLOT_MIN_SIZE[0], PLOT_MIN_SIZE[1])
    cache_axes(widget)
    return widget


class TrainingCurves(QWidget):
    """Three plots: loss, validation metrics, learning rate. Feed with ``add_batches``/``add_epoch``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.task = "classification"
        self.loss_plot = _plot("Loss", "loss")
        self.metric_plot = _plot("Validation metrics", "value")
        self.lr_plot = _plot("Learning rate", "lr")
        self.lr_plot.getPlotItem().getAxis("left").enableAutoSIPrefix(False)
        self.legends = {id(plot): PlotLegend() for plot in (self.loss_plot, self.metric_plot, self.lr_plot)}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.loss_plot, self.metric_plot, self.lr_plot):
            layout.addWidget(with_legend(widget, self.legend(widget)), 1)
        self.buffers: dict[str, SeriesBuffer] = {}
        self.items: dict[str, pg.PlotDataItem] = {}
        self._dirty: set[str] = set()
        self._comparison_items: list[pg.PlotDataItem] = []
        self._fixed_ranges = False
        self._loss_top = 0.0
        self.redraws = 0
        self._timer = QTimer(self)
        self._timer.setInterval(int(1000 / REDRAW_HZ))
        self._timer.timeout.connect(self.redraw)
        self.reset("classification")

    # -- set-up --------------------------------------------------------------------------
    def reset(self, task: str) -> None:
        """Empty every curve; the metric plot shows ``task``'s metrics."""
        self.task = task
        for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
            plot.getPlotItem().clear()
            self.legend(plot).clear()
        self.buffers.clear()
        self.items.clear()
        self._dirty.clear()
        self._comparison_items = []
        self._add_curve("batch_loss", self.loss_plot, "train (batch)", pg.mkPen((140, 190, 255, 150), width=1))
        self._add_curve("train_loss", self.loss_plot, "train (epoch)", pg.mkPen("#2f80ed", width=2),
                        symbol="o", symbol_brush="#2f80ed")
        self._add_curve("val_loss", self.loss_plot, "validation", pg.mkPen("#eb5757", width=2),
                        symbol="s", symbol_brush="#eb5757")
        for name, color in zip(curve_metrics(task), _METRIC_COLORS):
            self._add_curve(name, self.metric_plot, name.removeprefix("val_"), pg.mkPen(color, width=2),
                            symbol="o", symbol_brush=color)
        self._add_curve("lr", self.lr_plot, "head lr", pg.mkPen("#bdbdbd", width=1.5))
        if can(task, "unit_metrics"):
            self.metric_plot.getPlotItem().setYRange(0, 1.02, padding=0)
        else:
            self.metric_plot.getPlotItem().enableAutoRange(axis="y")

    def _add_curve(self, key: str, plot: pg.PlotWidget, name: str, pen: Any, symbol: str | None = None,
                   symbol_brush: Any = None) -> None:
        item = plot.getPlotItem().plot([], [], name=name, pen=pen, symbol=symbol, symbolSize=6,
                                       symbolBrush=symbol_brush, symbolPen=None, connect="finite")
        self.items[key] = item
        self.buffers[key] = SeriesBuffer()
        self.legend(plot).add(name, pen.color(), pen.style() == Qt.PenStyle.DashLine)

    def legend(self, plot: pg.PlotWidget) -> PlotLegend:
        """The legend under ``plot``."""
        return self.legends[id(plot)]

    def start_live(self, epochs: int | None = None, lr: float | None = None) -> None:
        """Redraw changed curves on a timer while a run is active.

        With ``epochs`` (and ``lr``) the axes get fixed ranges that only grow
        when data leave them: auto-ranging on every redraw would re-lay out
        and repaint the axes (their tick text is most of a plot's painting).
        """
        self._fixed_ranges = epochs is not None
        self._loss_top = 0.0
        if epochs is not None:
            for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
                plot.getPlotItem().disableAutoRange(axis="x")
                plot.getPlotItem().setXRange(0, max(1, epochs), padding=0.01)
            for plot in (self.loss_plot, self.lr_plot):
                plot.getPlotItem().disableAutoRange(axis="y")
            self.lr_plot.getPlotItem().setYRange(0, (lr or 1e-3) * 1.1, padding=0)
            self.loss_plot.getPlotItem().setYRange(0, 1, padding=0)
            if not can(self.task, "unit_metrics"):
                self.metric_plot.getPlotItem().enableAutoRange(axis="y")
        self._timer.start()

    def stop_live(self) -> None:
        """Stop the timer after drawing what is pending."""
        self._timer.stop()
        self.redraw()

    # -- data ----------------------------------------------------------------------------
    def add_batches(self, epochs_x: Sequence[float], losses: Sequence[float], lrs: Sequence[float]) -> None:
        """Per-batch loss and learning rate at fractional epochs ``epochs_x``."""
        self._extend("batch_loss", epochs_x, losses)
        self._extend("lr", epochs_x, lrs)

    def add_epoch(self, epoch: int, metrics: dict[str, float | None]) -> None:
        """One epoch's train/val loss and validation metrics (drawn at x = epoch + 1)."""
        x = [epoch + 1.0]
        for key in ["train_loss", "val_loss", *curve_metrics(self.task)]:
            if key in metrics:
                self._extend(key, x, [metrics.get(key)])
        for key, (name, color) in OPTIONAL_METRICS.items():
            if metrics.get(key) is not None:
                if key not in self.items:
                    self._add_curve(key, self.metric_plot, name, pg.mkPen(color, width=2, style=Qt.PenStyle.DashLine),
                                    symbol="t", symbol_brush=color)
                self._extend(key, x, [metrics[key]])

    def _extend(self, key: str, xs: Sequence[float], ys: Sequence[float]) -> None:
        buffer = self.buffers.get(key)
        if buffer is not None:
            buffer.extend(xs, ys)
            self._dirty.add(key)

    def redraw(self) -> None:
        """Push changed buffers to their plot items (called by the timer)."""
        if not self._dirty:
            return
        for key in self._dirty:
            buffer = self.buffers[key]
            self.items[key].setData(buffer.x, buffer.y)
        if getattr(self, "_fixed_ranges", False):
            self._grow_ranges()
        self._dirty.clear()
        self.redraws += 1

    def _grow_ranges(self) -> None:
        """Raise the loss and lr axes to a rounder value only when a curve leaves them."""
        top = 0.0
        for key in ("batch_loss", "train_loss", "val_loss"):
            values = self.buffers[key].y
            if values.size:
                finite = values[np.isfinite(values)]
                top = max(top, float(finite.max()) if finite.size else 0.0)
        if top > self._loss_top:
            self._loss_top = nice_ceiling(top * 1.05)
            self.loss_plot.getPlotItem().setYRange(0, self._loss_top, padding=0)
        lrs = self.buffers["lr"].y
        lr_range = self.lr_plot.getPlotItem().viewRange()[1][1]
        if lrs.size and np.nanmax(lrs) > lr_range:
            self.lr_plot.getPlotItem().setYRange(0, nice_ceiling(float(np.nanmax(lrs)) * 1.05), padding=0)

    def curve(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) currently drawn by curve ``key`` (e.g. "batch_loss", "val_loss", "val_auc")."""
        x, y = self.items[key].getData()
        return (np.asarray(x if x is not None else []), np.asarray(y if y is not None else []))

    # -- finished runs ---------------------------------------------------------------------
    def show_epochs(self, task: str, records: Iterable[dict[str, Any]]) -> None:
        """A finished run's epoch curves (from its ``metrics.jsonl``)."""
        self.reset(task)
        self._fixed_ranges = False
        for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
            plot.getPlotItem().enableAutoRange()
        if can(task, "unit_metrics"):
            self.metric_plot.getPlotItem().setYRange(0, 1.02, padding=0)
        for record in records:
            self.add_epoch(int(record.get("epoch", 0)), record)
            if record.get("lr") is not None:
                self._extend("lr", [int(record.get("epoch", 0)) + 1.0], [record["lr"]])
        self.redraw()

    def add_comparison(self, label: str, records: Sequence[dict[str, Any]]) -> None:
        """Overlay another run's epoch curves (dashed) on the loss and metric plots."""
        style = Qt.PenStyle.DashLine
        xs = [int(r.get("epoch", 0)) + 1.0 for r in records]
        for key, plot, color in (("val_loss", self.loss_plot, "#eb5757"), ("train_loss", self.loss_plot, "#2f80ed"),
                                 *((m, self.metric_plot, c) for m, c in zip(curve_metrics(self.task),
                                                                           _METRIC_COLORS))):
            ys = [np.nan if r.get(key) is None else float(r[key]) for r in records]
            if all(np.isnan(ys)):
                continue
            item = plot.getPlotItem().plot(xs, ys, pen=pg.mkPen(color, width=1.5, style=style),
                                           name=f"{key.removeprefix('val_')} · {label}", symbol="t", symbolSize=5,
                                           symbolBrush=color, symbolPen=None, connect="finite")
            self._comparison_items.append(item)
            self.legend(plot).add(f"{key.removeprefix('val_')} · {label}", color, dashed=True)
