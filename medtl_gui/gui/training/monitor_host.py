"""Where the run monitor lives: a tab beside the viewer (the default) or its own top-level window.

Never a dock: a dock shares the window with the viewer and, when training
starts, took two thirds of it. As a tab, starting a run leaves the viewer
tab on screen (the tab shows a live indicator; one click switches); as a
window, it can sit on a second screen. The user's choice is a preference
(View menu and Settings, kept in QSettings by ``AppSettings``).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QScrollArea, QTabWidget, QVBoxLayout, QWidget

#: placement -> what the View menu and the settings dialog call it
MONITOR_PLACEMENTS: dict[str, str] = {"tab": "Tab beside the viewer", "window": "Its own window"}
DEFAULT_MONITOR_PLACEMENT = "tab"
#: the tab's title, and its title while a run trains or is paused
MONITOR_TITLE = "Run monitor"
LIVE_TITLES = {"running": "Run monitor ● live", "paused": "Run monitor ‖ paused",
               "stopping": "Run monitor ● stopping"}
#: size of the monitor's own window the first time (and after View ▸ Reset layout)
DEFAULT_WINDOW_SIZE = (1100, 720)
_LIVE_COLOR = QColor("#66bb6a")


class _PlainHeightLayout(QVBoxLayout):
    """A layout without height-for-width: a scroll area then sizes its widget to the viewport (and scrolls
    only below the widget's least size) instead of growing it to its preferred height, which word-wrapped
    labels would make it do."""

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return False


def scrolling(widget: QWidget) -> QScrollArea:
    """``widget`` in a frameless scroll area that fills the area and scrolls only below its least size."""
    box = QWidget()
    layout = _PlainHeightLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(widget)
    area = QScrollArea()
    area.setWidget(box)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    return area


class MonitorWindow(QWidget):
    """The run monitor's own window; closing it only hides it (View ▸ Show run monitor brings it back)."""

    def __init__(self, parent: QWidget):
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("run-monitor-window")
        self.setWindowTitle(f"MedTL — {MONITOR_TITLE}")
        self.setMinimumSize(640, 420)
        self.resize(*DEFAULT_WINDOW_SIZE)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)


class MonitorHost(QObject):
    """Moves the monitor's widget (``content``) between a tab of ``central`` and a ``MonitorWindow``.

    ``placement_changed(placement)`` after ``set_placement``.
    """

    placement_changed = Signal(str)

    def __init__(self, content: QWidget, central: QTabWidget, parent_window: QWidget):
        super().__init__(parent_window)
        self.content = content
        self.central = central
        self.page = QWidget()
        self.page.setObjectName("run-monitor-page")
        page_layout = QVBoxLayout(self.page)
        page_layout.setContentsMargins(0, 0, 0, 0)
        self.window = MonitorWindow(parent_window)
        self.placement = ""
        self.state = "idle"
        self.set_placement(DEFAULT_MONITOR_PLACEMENT)

    # -- placement -----------------------------------------------------------------------
    def set_placement(self, placement: str) -> None:
        """"tab" (beside the viewer) or "window" (its own). The monitor stays visible if it was."""
        if placement not in MONITOR_PLACEMENTS:
            raise ValueError(f"run monitor placement must be one of {', '.join(MONITOR_PLACEMENTS)}, "
                             f"not {placement!r}")
        if placement == self.placement:
            return
        was_shown = self.is_shown()
        self.placement = placement
        if placement == "tab":
            self.window.hide()
            self.page.layout().addWidget(self.content)
            if self.central.indexOf(self.page) < 0:
                self.central.addTab(self.page, MONITOR_TITLE)
        else:
            index = self.central.indexOf(self.page)
            if index >= 0:
                self.central.removeTab(index)
            self.window.layout().addWidget(self.content)
        self.content.show()
        self._show_state()
        if was_shown:
            self.show(activate=False)
        self.placement_changed.emit(placement)

    # -- showing -------------------------------------------------------------------------
    def show(self, activate: bool = True) -> None:
        """Bring the monitor on screen: its tab, or its window (raised; focused if ``activate``)."""
        if self.placement == "tab":
            self.central.setCurrentWidget(self.page)
            return
        self.window.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating, not activate)
        self.window.show()
        self.window.raise_()
        if activate:
            self.window.activateWindow()

    def show_viewer(self) -> None:
        """The viewer tab (in window placement the viewer is always on screen)."""
        self.central.setCurrentIndex(0)

    def is_shown(self) -> bool:
        """True when the monitor is the current tab, or its window is open."""
        if self.placement == "tab":
            return self.central.currentWidget() is self.page
        return self.window.isVisible()

    # -- live indicator ------------------------------------------------------------------
    def set_state(self, state: str) -> None:
        """The training session's state ("running", "paused", "stopping", "idle"): the tab's and window's title."""
        self.state = state
        self._show_state()

    @property
    def title(self) -> str:
        """What the tab (or the window title) says now."""
        return LIVE_TITLES.get(self.state, MONITOR_TITLE)

    def _show_state(self) -> None:
        index = self.central.indexOf(self.page)
        live = self.state in LIVE_TITLES
        if index >= 0:
            self.central.setTabText(index, self.title)
            self.central.tabBar().setTabTextColor(index, _LIVE_COLOR if live else QColor())
            self.central.setTabToolTip(index, "A run is training: its curves and figures (the viewer tab stays "
                                              "usable)" if live else "Curves and figures of the latest run")
        self.window.setWindowTitle(f"MedTL — {self.title}")
