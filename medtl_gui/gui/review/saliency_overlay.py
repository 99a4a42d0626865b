"""The viewer's saliency overlay: a Grad-CAM heat-map layer and the panel that controls it.

``SaliencyLayer`` is an RGBA ``pg.ImageItem`` above the scan (and below the
mask layers' tool previews) whose colours come from
:mod:`medtl_gui.core.review.heatmap_colors`; alpha is opacity x heat, so
cold regions leave the image visible; a colour bar (``pg.GradientLegend``,
top right of the view, "high" to "low" importance) is shown with it.
``SaliencyPanel`` holds the toggle,
class choice, method, colour map and opacity slider; it only emits what
the user asked for (the controller in ``saliency_job.py`` computes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QLinearGradient
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from medtl_gui.core.review.heatmap_colors import COLORMAPS, heatmap_rgba
from medtl_gui.gui.slider_value import slider_value_label

#: the class choice meaning "explain the predicted class"
PREDICTED_CLASS = "Predicted class"
#: (shown name, core method name)
METHOD_CHOICES: tuple[tuple[str, str], ...] = (("Grad-CAM", "gradcam"), ("Grad-CAM++", "gradcam++"))
#: the colour bar: (width, height) in screen pixels, offset from the view's top-right corner
COLOR_BAR_SIZE, COLOR_BAR_OFFSET = (14, 120), (-10, 10)
#: the colour bar's labels: the heat-map is normalised, 1 = what drives the decision most
COLOR_BAR_LABELS = {"high": 1.0, "low": 0.0}


def colormap_gradient(name: str) -> QLinearGradient:
    """The colour map ``name`` as a gradient from 0 (its first anchor) to 1 (its last)."""
    anchors = COLORMAPS[name]
    gradient = QLinearGradient()
    for i, (r, g, b) in enumerate(anchors):
        gradient.setColorAt(i / (len(anchors) - 1), QColor(r, g, b))
    return gradient


class SaliencyLayer:
    """A heat-map layer on a ``pg.ViewBox``: ``set_heatmap``, ``set_opacity``, ``set_colormap``, ``set_visible``."""

    def __init__(self, view: pg.ViewBox):
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(15)  # above the scan and the label mask (10), below tool previews
        view.addItem(self.item)
        self.heatmap: np.ndarray | None = None
        self.opacity = 0.5
        self.colormap = "jet"
        self.visible = False
        self.item.setVisible(False)
        self.color_bar = pg.GradientLegend(COLOR_BAR_SIZE, COLOR_BAR_OFFSET)  # the legend of the colours
        self.color_bar.setParentItem(view)
        self.color_bar.setLabels(COLOR_BAR_LABELS)
        self.color_bar.setGradient(colormap_gradient(self.colormap))
        self.color_bar.setVisible(False)

    def set_heatmap(self, heatmap: np.ndarray | None) -> None:
        """Show a [0, 1] heat-map of the image's size (None: nothing)."""
        self.heatmap = None if heatmap is None else np.asarray(heatmap, dtype=np.float32)
        self._redraw()

    def set_opacity(self, opacity: float) -> None:
        """Opacity at the hottest point, 0..1."""
        self.opacity = float(np.clip(opacity, 0.0, 1.0))
        self._redraw()

    def set_colormap(self, name: str) -> None:
        """One of :data:`COLORMAPS`."""
        if name not in COLORMAPS:
            raise ValueError(f"unknown colour map {name!r}; expected one of {', '.join(COLORMAPS)}")
        self.colormap = name
        self.color_bar.setGradient(colormap_gradient(name))
        self._redraw()

    def set_visible(self, on: bool) -> None:
        """Show or hide the layer (the heat-map is kept)."""
        self.visible = bool(on)
        self.item.setVisible(self.visible and self.heatmap is not None)
        self.color_bar.setVisible(self.item.isVisible())

    @property
    def shown(self) -> bool:
        """True when a heat-map is on screen."""
        return self.item.isVisible()

    def rgba(self) -> np.ndarray | None:
        """The RGBA array on screen (for tests and screenshots)."""
        return None if self.heatmap is None else heatmap_rgba(self.heatmap, self.colormap, self.opacity)

    def _redraw(self) -> None:
        rgba = self.rgba()
        if rgba is None:
            self.item.clear()
        else:
            self.item.setImage(rgba, autoLevels=False, levels=(0, 255))
        self.item.setVisible(self.visible and rgba is not None)
        self.color_bar.setVisible(self.item.isVisible())


class SaliencyPanel(QWidget):
    """Controls of the saliency overlay.

    Signals: ``toggled(bool)``, ``request_changed()`` (class or method: the
    heat-map must be recomputed), ``opacity_changed(float)``,
    ``colormap_changed(str)``.
    """

    toggled = Signal(bool)
    request_changed = Signal()
    opacity_changed = Signal(float)
    colormap_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.show_box = QCheckBox("Show saliency heat-map")
        self.show_box.setToolTip("Grad-CAM of the active run's decision for the image on screen (H)")
        self.show_box.toggled.connect(self.toggled)
        self.class_box = QComboBox()
        self.class_box.addItem(PREDICTED_CLASS)
        self.class_box.setToolTip("Which class decision to explain")
        self.class_box.currentIndexChanged.connect(lambda _i: self.request_changed.emit())
        self.method_box = QComboBox()
        for text, method in METHOD_CHOICES:
            self.method_box.addItem(text, method)
        self.method_box.currentIndexChanged.connect(lambda _i: self.request_changed.emit())
        self.colormap_box = QComboBox()
        self.colormap_box.addItems(list(COLORMAPS))
        self.colormap_box.currentTextChanged.connect(self.colormap_changed)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(50)
        self.opacity_slider.setToolTip("Opacity of the heat-map at its hottest point")
        self.opacity_slider.valueChanged.connect(lambda v: self.opacity_changed.emit(v / 100.0))
        self.opacity_value = slider_value_label(self.opacity_slider)
        opacity_row = QHBoxLayout()
        opacity_row.addWidget(self.opacity_slider, 1)
        opacity_row.addWidget(self.opacity_value)
        self.status = QLabel("Off")
        self.status.setWordWrap(True)
        self.status.setObjectName("saliency-status")
        form = QFormLayout()
        form.addRow("Class", self.class_box)
        form.addRow("Method", self.method_box)
        form.addRow("Colours", self.colormap_box)
        form.addRow("Opacity", opacity_row)
        layout = QVBoxLayout(self)
        layout.addWidget(self.show_box)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addStretch(1)

    def set_class_names(self, names: Sequence[str]) -> None:
        """The run's classes (the choice is kept when the class still exists)."""
        keep = self.class_box.currentText()
        self.class_box.blockSignals(True)
        self.class_box.clear()
        self.class_box.addItems([PREDICTED_CLASS, *names])
        index = self.class_box.findText(keep)
        self.class_box.setCurrentIndex(max(0, index))
        self.class_box.blockSignals(False)

    @property
    def class_choice(self) -> str | None:
        """The chosen class name, or None for the predicted class."""
        text = self.class_box.currentText()
        return None if text in ("", PREDICTED_CLASS) else text

    @property
    def method(self) -> str:
        """The core saliency method name."""
        return str(self.method_box.currentData())

    @property
    def opacity(self) -> float:
        return self.opacity_slider.value() / 100.0

    def set_status(self, text: str) -> None:
        """One line under the controls (what is shown, or why nothing is)."""
        self.status.setText(text)
