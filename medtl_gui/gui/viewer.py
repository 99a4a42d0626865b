"""The scan viewer: pyqtgraph ImageItem with window/level, slices, zoom and a pixel read-out.

Mouse: left-drag pans, right-drag changes window (horizontal: width,
vertical: level), wheel scrolls slices of a volume (zooms a 2D image),
Ctrl+wheel always zooms, double-click fits. Keys are handled by the main
window so that labelling shortcuts work wherever the focus is.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from medtl_gui.core.imaging import CT_PRESETS, Scan, auto_window, default_window

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

AUTO, FROM_FILE = "Auto (percentiles)", "From file"


class _ScanViewBox(pg.ViewBox):
    """A ViewBox whose right-drag adjusts the window and whose wheel scrolls slices."""

    def __init__(self, viewer: "ScanViewer"):
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self._viewer = viewer
        self._drag_start: tuple[float, float] | None = None

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 (Qt naming)
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            if ev.isStart():
                self._drag_start = self._viewer.window
            if self._drag_start is None:
                return
            delta = ev.screenPos() - ev.buttonDownScreenPos()
            self._viewer.drag_window(self._drag_start, delta.x(), delta.y())
            if ev.isFinish():
                self._drag_start = None
            return
        super().mouseDragEvent(ev, axis)

    def wheelEvent(self, ev, axis=None):  # noqa: N802
        ctrl = bool(ev.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if self._viewer.n_slices > 1 and not ctrl:
            steps = 1 if ev.delta() > 0 else -1
            self._viewer.set_slice(self._viewer.slice_index - steps)
            ev.accept()
            return
        super().wheelEvent(ev, axis)

    def mouseClickEvent(self, ev):  # noqa: N802
        if ev.double():
            self.autoRange(padding=0.0)
            ev.accept()
            return
        super().mouseClickEvent(ev)


class ScanViewer(QWidget):
    """Shows one Scan: 2D image, multi-frame file or volume."""

    cursor_info = Signal(str)
    window_changed = Signal(float, float)
    slice_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.scan: Scan | None = None
        self.window: tuple[float, float] = (127.5, 255.0)
        self.slice_index = 0
        self._auto: tuple[float, float] | None = None
        self._value_range: tuple[float, float] = (0.0, 255.0)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("k")
        self.view = _ScanViewBox(self)
        self.graphics.addItem(self.view)
        self.image_item = pg.ImageItem()
        self.view.addItem(self.image_item)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)

        self.preset_box = QComboBox()
        self.preset_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.preset_box.setMinimumContentsLength(16)
        self.preset_box.setToolTip("Window preset (right-drag on the image to adjust)")
        self.preset_box.currentTextChanged.connect(self._on_preset)
        self.invert_box = QCheckBox("Invert")
        self.invert_box.toggled.connect(self._refresh_lut)
        self.window_label = QLabel()
        self.slice_slider = QSlider(Qt.Orientation.Horizontal)
        self.slice_slider.setEnabled(False)
        self.slice_slider.setVisible(False)
        self.slice_slider.valueChanged.connect(self.set_slice)
        self.slice_label = QLabel("")

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Window"))
        controls.addWidget(self.preset_box)
        controls.addWidget(self.invert_box)
        controls.addWidget(self.window_label, 1)
        controls.addWidget(self.slice_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.slice_slider)
        layout.addLayout(controls)

    # ------------------------------------------------------------------ API
    @property
    def n_slices(self) -> int:
        if self.scan is None:
            return 0
        return self.scan.n_frames

    def set_scan(self, scan: Scan | None) -> None:
        """Show a scan, keeping nothing of the previous one but the invert setting."""
        self.scan = scan
        if scan is None:
            self.image_item.clear()
            return
        pixels = scan.pixels
        finite = pixels[np.isfinite(pixels)] if pixels.dtype.kind == "f" else pixels
        self._value_range = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        self._auto = auto_window(pixels)
        self.slice_index = scan.n_frames // 2 if scan.n_frames > 1 else 0
        self.slice_slider.blockSignals(True)
        self.slice_slider.setRange(0, max(0, scan.n_frames - 1))
        self.slice_slider.setValue(self.slice_index)
        self.slice_slider.setEnabled(scan.n_frames > 1)
        self.slice_slider.setVisible(scan.n_frames > 1)
        self.slice_slider.blockSignals(False)
        self._fill_presets(scan)
        self._show_slice()
        self.view.autoRange(padding=0.0)

    def set_window(self, center: float, width: float) -> None:
        width = max(float(width), 1e-6)
        self.window = (float(center), width)
        if self.scan is not None and not self.scan.is_color:
            self.image_item.setLevels((center - width / 2.0, center + width / 2.0))
        self.window_label.setText(f"C {center:.0f}  W {width:.0f}")
        self.window_changed.emit(self.window[0], self.window[1])

    def set_preset(self, name: str) -> None:
        self.preset_box.setCurrentText(name)

    def set_slice(self, index: int) -> None:
        if self.scan is None or self.scan.n_frames <= 1:
            return
        index = int(np.clip(index, 0, self.scan.n_frames - 1))
        if index == self.slice_index and self.image_item.image is not None:
            return
        self.slice_index = index
        self.slice_slider.blockSignals(True)
        self.slice_slider.setValue(index)
        self.slice_slider.blockSignals(False)
        self._show_slice()
        self.slice_changed.emit(index)

    def current_image(self) -> np.ndarray | None:
        """The 2D (or 2D RGB) array on screen, in modality values."""
        if self.scan is None:
            return None
        px = self.scan.pixels
        return px[self.slice_index] if self.scan.n_frames > 1 else px

    def drag_window(self, start: tuple[float, float], dx: float, dy: float) -> None:
        """Right-drag: horizontal changes width, vertical changes level, scaled to the data range."""
        span = max(self._value_range[1] - self._value_range[0], 1.0)
        scale = span / 500.0
        center, width = start
        self.preset_box.blockSignals(True)
        self.preset_box.setCurrentIndex(-1)
        self.preset_box.blockSignals(False)
        self.set_window(center - dy * scale, max(1.0, width + dx * scale))

    # ------------------------------------------------------------- internals
    def _fill_presets(self, scan: Scan) -> None:
        self.preset_box.blockSignals(True)
        self.preset_box.clear()
        names = [AUTO]
        if scan.window is not None:
            names.append(FROM_FILE)
        if (scan.modality or "").upper() == "CT":
            names += [n.title() if n.islower() else n for n in CT_PRESETS]
        self.preset_box.addItems(names)
        self.preset_box.setEnabled(not scan.is_color)
        self.invert_box.setEnabled(not scan.is_color)
        self.preset_box.blockSignals(False)
        start = FROM_FILE if scan.window is not None else AUTO
        if scan.window is None and (scan.modality or "").upper() == "CT":
            center, width = default_window(scan)
            self.preset_box.setCurrentText(AUTO)
            self.set_window(center, width)
        else:
            self.preset_box.setCurrentText(start)
            self._on_preset(start)

    def _on_preset(self, name: str) -> None:
        if self.scan is None or not name:
            return
        if name == AUTO and self._auto is not None:
            self.set_window(*self._auto)
        elif name == FROM_FILE and self.scan.window is not None:
            self.set_window(*self.scan.window)
        else:
            for key, (center, width) in CT_PRESETS.items():
                if key.lower() == name.lower():
                    self.set_window(center, width)

    def _show_slice(self) -> None:
        image = self.current_image()
        if image is None:
            return
        if self.scan is not None and self.scan.is_color:
            self.image_item.setImage(image, autoLevels=False, levels=(0, 255))
        else:
            c, w = self.window
            self.image_item.setImage(image, autoLevels=False, levels=(c - w / 2, c + w / 2))
        self._refresh_lut()
        if self.scan is not None and self.scan.n_frames > 1:
            self.slice_label.setText(f"Slice {self.slice_index + 1}/{self.scan.n_frames}")
        else:
            self.slice_label.setText("")

    def _refresh_lut(self) -> None:
        if self.scan is not None and not self.scan.is_color and self.invert_box.isChecked():
            self.image_item.setLookupTable(np.arange(255, -1, -1, dtype=np.uint8))
        else:
            self.image_item.setLookupTable(None)

    def _on_mouse_moved(self, pos) -> None:
        image = self.current_image()
        if image is None:
            return
        point = self.view.mapSceneToView(pos)
        col, row = int(np.floor(point.x())), int(np.floor(point.y()))
        if 0 <= row < image.shape[0] and 0 <= col < image.shape[1]:
            value = image[row, col]
            unit = " HU" if (self.scan.modality or "").upper() == "CT" else ""
            shown = ", ".join(f"{v:g}" for v in np.atleast_1d(value))
            where = f"x {col}  y {row}"
            if self.scan.n_frames > 1:
                where += f"  z {self.slice_index}"
            self.cursor_info.emit(f"{where}   value {shown}{unit}")
