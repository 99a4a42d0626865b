"""The browser table's column widths: the Image column takes the room the Label column leaves, so both stay
in view in a narrow browser (about 210 px at 1280x720); the other columns follow, a horizontal scroll away.

The Label column is as wide as the widest class name (measured on the class names, not on the rows: the
table may hold 100,000 of them, so nothing here asks rows for their text). Once the user drags the Image or
Label column, their widths are the user's and stay.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QHeaderView, QTableView

#: initial widths of the columns after Image and Label, pixels (Split, Modality, Patient, Mask, Suggestion)
OTHER_WIDTHS: tuple[int, ...] = (48, 64, 90, 44, 80)
#: the Image column's width range, pixels: it fills the view between them
IMAGE_WIDTH = (80, 260)
#: what the Label column shows besides class names
STATUS_TEXTS: tuple[str, ...] = ("uncertain", "skipped")
IMAGE, LABEL = 0, 1


class FittedColumns(QObject):
    """Keeps Image + Label filling the table's viewport (see the module's note)."""

    def __init__(self, table: QTableView):
        super().__init__(table)
        self.table = table
        self.user_sized = False  # the user dragged Image or Label: leave both alone
        self._fitting = False
        self._label_width = 70
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self._fitting = True
        for column, width in enumerate(OTHER_WIDTHS, start=2):
            table.setColumnWidth(column, width)
        self._fitting = False
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # "cxr_0…_012.png": the end tells files apart
        header.sectionResized.connect(self._on_section_resized)
        table.viewport().installEventFilter(self)
        self.set_label_texts([])

    def set_label_texts(self, class_names: Iterable[str]) -> None:
        """Size the Label column to the widest of these class names (and the header, and the statuses)."""
        metrics = self.table.fontMetrics()
        header = self.table.horizontalHeader()
        texts = [*class_names, *STATUS_TEXTS]
        widest = max((metrics.horizontalAdvance(t) for t in texts), default=0) + 14  # the cell's text margins
        self._label_width = max(widest, header.sectionSizeHint(LABEL))
        self.fit()

    def fit(self) -> None:
        """Label at its width, Image the rest of the viewport (within ``IMAGE_WIDTH``)."""
        if self.user_sized:
            return
        room = self.table.viewport().width() - self._label_width
        self._fitting = True
        try:
            self.table.setColumnWidth(LABEL, self._label_width)
            self.table.setColumnWidth(IMAGE, max(IMAGE_WIDTH[0], min(IMAGE_WIDTH[1], room)))
        finally:
            self._fitting = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return False

    def _on_section_resized(self, column: int, _old: int, _new: int) -> None:
        if not self._fitting and column in (IMAGE, LABEL):
            self.user_sized = True
