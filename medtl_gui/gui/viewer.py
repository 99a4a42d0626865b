"""The scan viewer: pyqtgraph ImageItem with window/level, slices, zoom and a pixel read-out.

Mouse: left-drag pans (or paints, when a segmentation tool is active: see
``PointerTool``), middle-drag always pans, right-drag changes window
(horizontal: width, vertical: level), wheel scrolls slices of a volume
(zooms a 2D image), Ctrl+wheel always zooms, double-click fits. Keys are
handled by the main window so that labelling shortcuts work wherever the
focus is. The mask overlay and tool previews are layers above the image.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QApplication,
    QVBoxLayout,
    QWidget,
)

from medtl_gui.gui.image_loading import DisplayStats, display_stats
from medtl_gui.gui.segmentation.overlay import MaskOverlay
from medtl_gui.gui.segmentation.tool_preview import ToolPreview

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

if TYPE_CHECKING:  # core.imaging is imported with the first scan, not at start-up
    from medtl_gui.core.imaging import Scan

AUTO, FROM_FILE = "Auto (percentiles)", "From file"

Point = tuple[float, float]


class PointerTool(Protocol):
    """What takes over left-button gestures on the image (the segmentation editor).

    Points are image coordinates (x along columns, y along rows; pixel
    ``(r, c)`` spans ``[c, c+1) x [r, r+1)``).
    """

    def wants_left_button(self) -> bool: ...
    def drag_started(self, start: Point, point: Point) -> None: ...
    def drag_moved(self, point: Point) -> None: ...
    def drag_finished(self, point: Point) -> None: ...
    def clicked(self, point: Point, double: bool = False) -> None: ...
    def hovered(self, point: Point | None) -> None: ...


class _ScanViewBox(pg.ViewBox):
    """A ViewBox whose right-drag adjusts the window, whose wheel scrolls slices and
    whose left button goes to the viewer's ``pointer_tool`` when it wants it."""

    def __init__(self, viewer: "ScanViewer"):
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self._viewer = viewer
        self._drag_start: tuple[float, float] | None = None
        self._last_click: tuple[float, QPointF] | None = None

    def _tool(self) -> PointerTool | None:
        tool = self._viewer.pointer_tool
        return tool if tool is not None and tool.wants_left_button() else None

    def _image_point(self, scene_pos) -> Point:
        point = self.mapSceneToView(scene_pos)
        return float(point.x()), float(point.y())

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 (Qt naming)
        tool = self._tool()
        if ev.button() == Qt.MouseButton.LeftButton and tool is not None:
            ev.accept()
            point = self._image_point(ev.scenePos())
            if ev.isStart():
                tool.drag_started(self._image_point(ev.buttonDownScenePos()), point)
            elif ev.isFinish():
                tool.drag_finished(point)
            else:
                tool.drag_moved(point)
            return
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
        if ev.button() != Qt.MouseButton.LeftButton:
            super().mouseClickEvent(ev)
            return
        double = self._is_double_click(ev.screenPos())
        tool = self._tool()
        if tool is not None:
            ev.accept()
            tool.clicked(self._image_point(ev.scenePos()), double)
            return
        if double:
            self.autoRange(padding=0.0)
            ev.accept()
            return
        super().mouseClickEvent(ev)

    def _is_double_click(self, screen_pos: QPointF) -> bool:
        """Our own double-click test (Qt 6 sends the second press before the double-click,
        so pyqtgraph's ``ev.double()`` is unreliable)."""
        now = time.monotonic()
        last, self._last_click = self._last_click, (now, QPointF(screen_pos))
        if last is None:
            return False
        interval = QApplication.doubleClickInterval() / 1000.0
        moved = (QPointF(screen_pos) - last[1]).manhattanLength()
        if now - last[0] <= interval and moved <= QApplication.startDragDistance():
            self._last_click = None  # a third click starts afresh
            return True
        return False


class ScanViewer(QWidget):
    """Shows one Scan: 2D image, multi-frame file or volume."""

    cursor_info = Signal(str)
    window_changed = Signal(float, float)
    slice_changed = Signal(int)
    presets_changed = Signal(list, str)  # preset names of the scan on screen, the current one

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
        self.overlay = MaskOverlay(self.view)
        self.preview = ToolPreview(self.view)
        self.pointer_tool: PointerTool | None = None
        self.label_names: dict[int, str] = {}  # mask value -> segmentation label name (cursor read-out)
        self._cursor_pos: QPointF | None = None  # last mouse position over the image (scene), for the read-out
        self.opened_view: tuple[float, float, int] | None = None  # view_state() as the scan was opened/restored
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.graphics.viewport().installEventFilter(self)

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
        """Slices (or frames) of the scan on screen; 1 for a 2D image, 0 without a scan."""
        if self.scan is None:
            return 0
        return self.scan.n_frames

    def set_scan(self, scan: Scan | None, stats: DisplayStats | None = None) -> None:
        """Show a scan, keeping nothing of the previous one but the invert setting.

        ``stats`` (computed off the GUI thread by the loader) saves scanning
        the pixels here; without it they are computed now.
        """
        self.scan = scan
        if scan is None:
            self.image_item.clear()
            self.slice_label.setText("")
            self.window_label.setText("")
            self.slice_index = 0
            self.slice_slider.setVisible(False)
            self.slice_slider.setEnabled(False)
            self.preset_box.blockSignals(True)
            self.preset_box.clear()
            self.preset_box.blockSignals(False)
            self.overlay.show(None, None)
            self.opened_view = None
            self.cursor_info.emit("")
            self.presets_changed.emit([], "")
            return
        stats = stats or display_stats(scan)
        self._value_range = stats.value_range
        self._auto = stats.auto_window
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
        self._update_readout()
        self.opened_view = self.view_state()

    def view_state(self) -> tuple[float, float, int] | None:
        """(window centre, width, slice) on screen, to restore later with ``restore_view``; None without a scan."""
        if self.scan is None:
            return None
        return self.window[0], self.window[1], self.slice_index

    def restore_view(self, center: float, width: float, slice_index: int) -> None:
        """Show the window and slice the user last had on this scan (the preset box names a matching preset)."""
        if self.scan is None:
            return
        if self.scan.n_frames > 1:
            self.set_slice(slice_index)
        if self.scan.is_color:
            self.opened_view = self.view_state()
            return
        match = next((name for name in self.preset_names() if self._preset_window(name) == (center, width)), None)
        self.preset_box.blockSignals(True)
        if match is None:
            self.preset_box.setCurrentIndex(-1)
        else:
            self.preset_box.setCurrentText(match)
        self.preset_box.blockSignals(False)
        self.set_window(center, width)
        self.opened_view = self.view_state()

    def set_window(self, center: float, width: float) -> None:
        """Show grey values ``center`` ± ``width``/2 from black to white (explicit ImageItem levels)."""
        width = max(float(width), 1e-6)
        self.window = (float(center), width)
        if self.scan is not None and not self.scan.is_color:
            self.image_item.setLevels((center - width / 2.0, center + width / 2.0))
        self.window_label.setText(f"C {center:.0f}  W {width:.0f}")
        self.window_changed.emit(self.window[0], self.window[1])

    def set_preset(self, name: str) -> None:
        """Apply a window preset by its name as listed (e.g. "Lung")."""
        if self.preset_box.findText(name) < 0:
            raise ValueError(f"no window preset {name!r} for this scan (presets: {', '.join(self.preset_names())})")
        self.preset_box.blockSignals(True)
        self.preset_box.setCurrentText(name)
        self.preset_box.blockSignals(False)
        self._on_preset(name)

    def set_preset_by_index(self, index: int) -> None:
        """Apply the preset at ``index`` of the list (0 is always Auto)."""
        if 0 <= index < self.preset_box.count():
            self.set_preset(self.preset_box.itemText(index))

    def preset_names(self) -> list[str]:
        """Window presets offered for the scan on screen."""
        return [self.preset_box.itemText(i) for i in range(self.preset_box.count())]

    def set_slice(self, index: int) -> None:
        """Show slice ``index`` (clipped to the volume) of a volume or multi-frame scan."""
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
        self._update_readout()
        self.slice_changed.emit(index)

    @property
    def value_unit(self) -> str:
        """Unit of the values on screen where the file states it ("HU", "Gy"), else "" (raw values)."""
        from medtl_gui.core.imaging.windowing import value_unit

        return value_unit(self.scan) if self.scan is not None else ""

    @property
    def shows_hounsfield(self) -> bool:
        """True when the values on screen are Hounsfield units by the file's own evidence (see ``value_unit``)."""
        return self.value_unit == "HU"

    @property
    def offers_ct_presets(self) -> bool:
        """CT presets are listed: the file says CT (modality or HU), or grey values span air to soft tissue."""
        from medtl_gui.core.imaging.windowing import has_ct_evidence, spans_hounsfield_range

        scan = self.scan
        if scan is None or scan.is_color:
            return False
        return has_ct_evidence(scan) or spans_hounsfield_range(self._value_range)

    @property
    def slice_key(self) -> int | None:
        """The slice on screen as masks are keyed: None for a 2D image, else its index."""
        return self.slice_index if self.n_slices > 1 else None

    def zoom(self, factor: float) -> None:
        """Magnify the view by ``factor`` (>1 zooms in) around its centre."""
        self.view.scaleBy((1.0 / factor, 1.0 / factor))

    def image_to_viewport(self, x: float, y: float) -> QPoint:
        """Where image point (x, y) is in the graphics view's viewport (for tests and tools)."""
        scene = self.view.mapViewToScene(QPointF(x, y))
        return self.graphics.mapFromScene(scene)

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

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt naming)
        if event.type() == QEvent.Type.Leave and watched is self.graphics.viewport():
            self._cursor_pos = None  # a slice change with the mouse elsewhere has no pixel to read out
        return super().eventFilter(watched, event)

    # ------------------------------------------------------------- internals
    def _fill_presets(self, scan: Scan) -> None:
        from medtl_gui.core.imaging import CT_PRESETS, default_window
        from medtl_gui.core.imaging.windowing import DEFAULT_CT_PRESET, has_ct_evidence

        self.preset_box.blockSignals(True)
        self.preset_box.clear()
        names = [AUTO]
        if scan.window is not None:
            names.append(FROM_FILE)
        if self.offers_ct_presets:
            names += [n.title() if n.islower() else n for n in CT_PRESETS]
        self.preset_box.addItems(names)
        self.preset_box.setEnabled(not scan.is_color)
        self.invert_box.setEnabled(not scan.is_color)
        if scan.window is not None:
            start = FROM_FILE
        elif has_ct_evidence(scan):  # modality CT or HU from the modality LUT; else robust percentiles
            start = DEFAULT_CT_PRESET.title()
        else:
            start = AUTO
        self.preset_box.setCurrentText(start)
        self.preset_box.blockSignals(False)
        if scan.is_color:
            self.set_window(*default_window(scan))
        else:
            self._on_preset(start)
        self.presets_changed.emit(names, start)

    def _preset_window(self, name: str) -> tuple[float, float] | None:
        """(centre, width) of a preset of the scan on screen, None if unknown."""
        from medtl_gui.core.imaging import CT_PRESETS

        if self.scan is None or not name:
            return None
        if name == AUTO:
            return self._auto
        if name == FROM_FILE:
            return None if self.scan.window is None else (float(self.scan.window[0]), float(self.scan.window[1]))
        for key, (center, width) in CT_PRESETS.items():
            if key.lower() == name.lower():
                return float(center), float(width)
        return None

    def _on_preset(self, name: str) -> None:
        window = self._preset_window(name)
        if window is not None:
            self.set_window(*window)

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
        self._cursor_pos = QPointF(pos)
        self._update_readout(hover=True)

    def _update_readout(self, hover: bool = False) -> None:
        """The cursor read-out of the pixel under the mouse, on the slice on screen (also after a slice
        change by wheel or keys, with the mouse still)."""
        image = self.current_image()
        if image is None or self._cursor_pos is None:
            return
        point = self.view.mapSceneToView(self._cursor_pos)
        col, row = int(np.floor(point.x())), int(np.floor(point.y()))
        inside = 0 <= row < image.shape[0] and 0 <= col < image.shape[1]
        if hover and self.pointer_tool is not None:
            self.pointer_tool.hovered((float(point.x()), float(point.y())) if inside else None)
        if inside:
            value = image[row, col]
            unit = f" {self.value_unit}" if self.value_unit else ""
            shown = ", ".join(f"{v:g}" for v in np.atleast_1d(value))
            where = f"x {col}  y {row}"
            if self.scan.n_frames > 1:
                where += f"  z {self.slice_index}"
            text = f"{where}   value {shown}{unit}"
            mask = self.overlay.shown_mask
            if mask is not None and mask.shape == image.shape[:2] and mask[row, col]:
                label = int(mask[row, col])
                text += f"   mask: {self.label_names.get(label, label)}"
            self.cursor_info.emit(text)

