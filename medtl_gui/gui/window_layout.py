"""The window's layout: the central area (browser | viewer, run monitor tab), its default proportions, and
what is remembered between sessions.

The viewer is the largest area: the browser and the right-hand docks get a
share of the window's width (within limits), the viewer the rest, and only
the viewer grows with the window. The browser/viewer splitter cannot
collapse either side, and explicit minimum widths keep it still when the
viewer's controls change their size hints between images (a longer preset
name, a slice read-out).

Window geometry, dock arrangement (``saveState`` with ``LAYOUT_VERSION``),
the splitter, the run monitor's own window and the brush radius are saved
on close and restored on start (QSettings); View ▸ Reset layout brings the
defaults back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt
from PySide6.QtWidgets import QSplitter, QTabWidget, QWidget

if TYPE_CHECKING:
    from medtl_gui.gui.main_window import MainWindow

#: ``saveState``/``restoreState`` version: bump when docks or toolbars are added, removed or renamed
#: (2: the run monitor left the bottom dock area for a tab beside the viewer or its own window)
LAYOUT_VERSION = 2
#: the window's size on first start and after Reset layout
DEFAULT_SIZE = (1440, 900)
#: share of the window's width, (least, most) pixels: the browser and the right-hand dock column (the viewer
#: keeps at least half the window's area from 1280x720 up; wider panels scroll in the dock column)
BROWSER_SHARE, BROWSER_WIDTH = 0.165, (210, 340)
DOCKS_SHARE, DOCKS_WIDTH = 0.22, (290, 420)  # 290: the Label | Metadata | Saliency | Training tabs, unelided
#: the Label dock's (and its tabs') share of the dock column's height; the Segmentation dock takes the rest
LABEL_DOCK_SHARE = 0.5
#: the splitter never makes the browser or the viewer narrower than this
BROWSER_MIN_WIDTH, VIEWER_MIN_WIDTH = 200, 480
#: screens smaller than this (the offscreen platform's 800x800) neither shrink the window's first size nor
#: its restored one: the window would not fit anyway
SMALLEST_SCREEN = (1024, 600)
VIEWER_TAB = "Viewer"
KEYS = {name: f"layout/{name}" for name in ("version", "geometry", "size", "state", "splitter", "monitor_geometry")}
BRUSH_RADIUS_KEY = "segmentation/brush_radius"


def central_area(browser: QWidget, viewer: QWidget) -> tuple[QSplitter, QTabWidget]:
    """The browser | viewer splitter (neither side collapses; only the viewer stretches) as the first tab
    of the central tab widget (the run monitor's tab joins it)."""
    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.setObjectName("browser-viewer-splitter")
    splitter.addWidget(browser)
    splitter.addWidget(viewer)
    splitter.setChildrenCollapsible(False)
    splitter.setStretchFactor(0, 0)
    splitter.setStretchFactor(1, 1)
    browser.setMinimumWidth(BROWSER_MIN_WIDTH)
    viewer.setMinimumWidth(VIEWER_MIN_WIDTH)
    tabs = QTabWidget()
    tabs.setObjectName("central-tabs")
    tabs.setDocumentMode(True)
    tabs.addTab(splitter, VIEWER_TAB)
    tabs.setTabToolTip(0, "Browser and viewer")
    return splitter, tabs


def default_widths(window_width: int) -> tuple[int, int]:
    """(browser, right-hand docks) widths for a window ``window_width`` wide."""
    browser = int(min(max(window_width * BROWSER_SHARE, BROWSER_WIDTH[0]), BROWSER_WIDTH[1]))
    docks = int(min(max(window_width * DOCKS_SHARE, DOCKS_WIDTH[0]), DOCKS_WIDTH[1]))
    return browser, docks


class WindowLayout(QObject):
    """Saves, restores and resets one main window's layout. Make it once every dock exists.

    Without a saved layout the default proportions are applied when the window is first shown, for the size
    it then has (the screen may be smaller than ``DEFAULT_SIZE``).
    """

    def __init__(self, window: "MainWindow"):
        super().__init__(window)
        self.window = window
        self.settings: QSettings = window.settings
        self._default_state = window.saveState(LAYOUT_VERSION)
        self._defaults_pending = False
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.window and event.type() == QEvent.Type.Show and self._defaults_pending:
            self._defaults_pending = False
            self.apply_default_sizes()
        return False

    # -- defaults --------------------------------------------------------------------------
    def apply_default_sizes(self) -> None:
        """Browser and dock column at their share of the window's current width, the viewer the rest."""
        w = self.window
        width = max(w.width(), 1)
        browser, docks = default_widths(width)
        w.resizeDocks([w.docks["Label"]], [docks], Qt.Orientation.Horizontal)
        label = int(w.height() * LABEL_DOCK_SHARE)
        w.resizeDocks([w.docks["Label"], w.docks["Segmentation"]], [label, max(label, w.height() - label)],
                      Qt.Orientation.Vertical)
        w.splitter.setSizes([browser, max(VIEWER_MIN_WIDTH, width - browser - docks)])

    def reset(self) -> None:
        """View ▸ Reset layout: the default size (within the screen), docks, splitter and monitor window."""
        w = self.window
        if not (w.isMaximized() or w.isFullScreen()):
            self._resize_to_default()
        w.restoreState(self._default_state, LAYOUT_VERSION)
        for dock in w.docks.values():
            dock.setFloating(False)
        w.training.reset_layout()
        self.apply_default_sizes()
        w.statusBar().showMessage("Layout reset to the defaults", 4000)

    # -- remembering -----------------------------------------------------------------------
    def restore(self) -> bool:
        """The layout saved on the last close (False, with the defaults applied, when there is none or it is
        of another layout version), and the brush radius."""
        w = self.window
        s = self.settings
        radius = s.value(BRUSH_RADIUS_KEY)
        if radius is not None and str(radius).isdigit():
            w.editor.set_radius(int(radius))
        geometry = s.value(KEYS["geometry"])
        if not (isinstance(geometry, QByteArray) and not geometry.isEmpty() and w.restoreGeometry(geometry)):
            self._resize_to_default()
        elif not self._usable_screen():  # restoreGeometry fitted the window to it: the size saved instead
            size = s.value(KEYS["size"])
            size = [size] if isinstance(size, (str, int)) else list(size or [])
            if len(size) == 2 and all(str(v).isdigit() for v in size):
                w.resize(int(size[0]), int(size[1]))
        monitor_geometry = s.value(KEYS["monitor_geometry"])
        if isinstance(monitor_geometry, QByteArray) and not monitor_geometry.isEmpty():
            w.training.host.window.restoreGeometry(monitor_geometry)
        state = s.value(KEYS["state"])
        same_version = str(s.value(KEYS["version"], "")) == str(LAYOUT_VERSION)
        if not (same_version and isinstance(state, QByteArray) and w.restoreState(state, LAYOUT_VERSION)):
            if w.isVisible():
                self.apply_default_sizes()
            else:
                self._defaults_pending = True  # for the size the window is shown at
            return False
        sizes = s.value(KEYS["splitter"])
        sizes = [sizes] if isinstance(sizes, (str, int)) else list(sizes or [])
        if len(sizes) == 2 and all(str(v).isdigit() for v in sizes):
            w.splitter.setSizes([int(v) for v in sizes])
        return True

    def _resize_to_default(self) -> None:
        """``DEFAULT_SIZE``, within the screen's available area (a screen too small for the window's least
        size, such as the offscreen platform's 800x800, leaves it at ``DEFAULT_SIZE``)."""
        w = self.window
        width, height = DEFAULT_SIZE
        if self._usable_screen():
            available = w.screen().availableGeometry()
            width, height = min(width, available.width()), min(height, available.height())
        w.resize(width, height)

    def _usable_screen(self) -> bool:
        """True unless the window's screen is smaller than ``SMALLEST_SCREEN`` (or unknown)."""
        screen = self.window.screen()
        if screen is None:
            return False
        available = screen.availableGeometry()
        return available.width() >= SMALLEST_SCREEN[0] and available.height() >= SMALLEST_SCREEN[1]

    def save(self) -> None:
        """Write geometry, dock state, splitter sizes, the monitor window's geometry and the brush radius."""
        w = self.window
        s = self.settings
        s.setValue(KEYS["version"], LAYOUT_VERSION)
        s.setValue(KEYS["geometry"], w.saveGeometry())
        s.setValue(KEYS["size"], [w.width(), w.height()])
        s.setValue(KEYS["state"], w.saveState(LAYOUT_VERSION))
        s.setValue(KEYS["splitter"], [int(v) for v in w.splitter.sizes()])
        s.setValue(KEYS["monitor_geometry"], w.training.host.window.saveGeometry())
        s.setValue(BRUSH_RADIUS_KEY, int(w.editor.radius))
        s.sync()
