"""A plot legend laid out by Qt beside the plot, never over it.

pyqtgraph's ``LegendItem`` floats inside the plot area: in the small plots
of a 1280x720 window it covered the curves and was cut off at the plot's
edge. This one is a word-wrapped label under the plot: in a narrow plot its
entries wrap onto another line, and the plot gives up the height.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

#: the line drawn before an entry's name: solid or dashed
SOLID, DASHED = "━━", "╍╍"


@dataclass
class LegendEntry:
    """One curve's name, colour (``#rrggbb``) and line style."""

    name: str
    color: str
    dashed: bool = False


class PlotLegend(QLabel):
    """Entries "━━ name" in the curves' colours, wrapping between entries (never inside one)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("plot-legend")
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        # the plot decides the width; the legend takes the height its wrapped lines need
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.setStyleSheet("font-size: 8pt;")
        self.entries: list[LegendEntry] = []

    def add(self, name: str, color: Any, dashed: bool = False) -> int:
        """Add an entry (``color``: anything pyqtgraph's ``mkColor`` takes); returns its index."""
        self.entries.append(LegendEntry(name, pg.mkColor(color).name(), dashed))
        self._render()
        return len(self.entries) - 1

    def set_name(self, index: int, name: str) -> None:
        """Rename an entry (e.g. a ROC curve's AUC after each epoch)."""
        if self.entries[index].name != name:
            self.entries[index].name = name
            self._render()

    def clear(self) -> None:  # noqa: D102 - QLabel.clear, and the entries
        self.entries = []
        super().clear()

    @property
    def names(self) -> list[str]:
        """The entries' names, in order."""
        return [e.name for e in self.entries]

    def _render(self) -> None:
        parts = [f'<span style="white-space: nowrap"><span style="color: {e.color}">'
                 f'{DASHED if e.dashed else SOLID}</span>&nbsp;{escape(e.name).replace(" ", "&nbsp;")}</span>'
                 for e in self.entries]
        self.setText(" &nbsp; ".join(parts))
