"""The browser's filter: a proxy model over ``ImageTableModel`` showing the rows of a filter mode and search text.

Unlike ``QSortFilterProxyModel``, which calls a Python ``filterAcceptsRow``
once per row from C++ on every change (about a second for 100,000 rows, and
quadratic-looking work when a filter is relaxed), this proxy keeps the shown
rows as one ascending list of source rows, recomputed in a single Python
pass when the filter or the rows change; views only ever ask about the rows
they paint. Sorting is the source model's (a key sort of its list); the
proxy keeps the source order. Selections and current indexes survive
filter and sort changes (persistent indexes are moved, or invalidated for
rows filtered out); an edited row that leaves or enters the filter is
removed or inserted on its own (``rowsRemoved``/``rowsInserted``), as with
a dynamic ``QSortFilterProxyModel``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Callable

from PySide6.QtCore import QAbstractProxyModel, QModelIndex, QPersistentModelIndex, Qt

from medtl_gui.gui.browser_model import (
    ALL,
    CLASS_PREFIX,
    COLUMNS,
    DISAGREES,
    HAS_MASK,
    LISTED_PREFIX,
    NO_MASK,
    SPLIT_PREFIX,
    UNASSIGNED,
    UNCERTAIN,
    UNLABELLED,
    BrowserRow,
    ImageTableModel,
)
from medtl_gui.gui.review.label_next import LABEL_NEXT, wants_labelling_next

AnyIndex = QModelIndex | QPersistentModelIndex
_FLAGS = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemNeverHasChildren


def _mode_test(mode: str, listed: frozenset[int]) -> Callable[[BrowserRow], bool] | None:
    """The row test of a filter mode (None: every row passes)."""
    if mode == UNLABELLED:
        return lambda r: not r.label and r.status not in ("uncertain", "skipped")
    if mode == UNCERTAIN:
        return lambda r: r.status in ("uncertain", "skipped")
    if mode == HAS_MASK:
        return lambda r: r.has_mask
    if mode == NO_MASK:
        return lambda r: not r.has_mask
    if mode == DISAGREES:
        return lambda r: r.disagrees
    if mode == LABEL_NEXT:
        return wants_labelling_next
    if mode.startswith(CLASS_PREFIX):
        wanted = mode[len(CLASS_PREFIX):]
        return lambda r: r.label == wanted
    if mode.startswith(LISTED_PREFIX):
        return lambda r: r.image_id in listed
    if mode.startswith(SPLIT_PREFIX):
        split = mode[len(SPLIT_PREFIX):]
        return lambda r: (r.split or UNASSIGNED) == split
    return None


class ImageFilterProxy(QAbstractProxyModel):
    """Filters rows by a mode (``ALL``, ``UNLABELLED``, ``CLASS_PREFIX + name`` ...) and search text."""

    def __init__(self) -> None:
        super().__init__()
        self.mode = ALL
        self.text = ""
        self.listed: frozenset[int] = frozenset()  # the images of a LISTED_PREFIX mode
        self._rows: list[int] = []  # source row of each proxy row, ascending
        self._saved: list[tuple[QModelIndex, QPersistentModelIndex]] = []  # during a source sort
        self._test: Callable[[BrowserRow], bool] | None = None

    # -- the filter --------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        """Show only the rows of a filter mode."""
        self.mode = mode or ALL
        self._refilter()

    def set_listed(self, image_ids: frozenset[int]) -> None:
        """The images a ``LISTED_PREFIX`` mode shows."""
        self.listed = frozenset(image_ids)
        self._refilter()

    def set_text(self, text: str) -> None:
        """Show only rows whose search text holds every word of ``text``."""
        self.text = text.strip().lower()
        self._refilter()

    def accepts(self, row: BrowserRow) -> bool:
        """True when ``row`` passes the filter mode and the search text."""
        test = _mode_test(self.mode, self.listed)
        return (test is None or test(row)) and all(word in row.search_text for word in self.text.split())

    def _row_test(self) -> Callable[[BrowserRow], bool] | None:
        """One test for mode and text (None: every row passes)."""
        test, words = _mode_test(self.mode, self.listed), self.text.split()
        if not words:
            return test
        if len(words) == 1:
            word = words[0]
            return (lambda r: word in r.search_text) if test is None else (
                lambda r: test(r) and word in r.search_text)
        return lambda r: (test is None or test(r)) and all(w in r.search_text for w in words)

    def _accepted_rows(self) -> list[int]:
        """Source rows passing the filter, ascending (one pass over the source's rows)."""
        source = self._source()
        if source is None:
            return []
        test = self._test = self._row_test()
        rows = source.rows
        if test is None:
            return list(range(len(rows)))
        return [i for i, r in enumerate(rows) if test(r)]

    def _refilter(self) -> None:
        """Recompute the shown rows; persistent indexes follow their rows (or become invalid)."""
        source = self._source()
        if source is None:
            return
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        old_sources = [self._rows[p.row()] if 0 <= p.row() < len(self._rows) else -1 for p in persistent]
        self._rows = self._accepted_rows()
        self.changePersistentIndexList(
            persistent, [self._proxy_index(s, p.column()) for s, p in zip(old_sources, persistent)])
        self.layoutChanged.emit()

    def _proxy_index(self, source_row: int, column: int) -> QModelIndex:
        """The proxy index of a source row, invalid when it is filtered out."""
        if source_row < 0:
            return QModelIndex()
        position = bisect_left(self._rows, source_row)
        if position < len(self._rows) and self._rows[position] == source_row:
            return self.createIndex(position, column)
        return QModelIndex()

    # -- following the source model -------------------------------------------------------
    def setSourceModel(self, model: ImageTableModel) -> None:  # noqa: N802
        old = self.sourceModel()
        if old is not None:
            for signal, slot in self._connections(old):
                signal.disconnect(slot)
        self.beginResetModel()
        super().setSourceModel(model)
        for signal, slot in self._connections(model):
            signal.connect(slot)
        self._rows = self._accepted_rows()
        self.endResetModel()

    def _connections(self, model: ImageTableModel) -> list[tuple[object, Callable]]:
        return [
            (model.modelAboutToBeReset, self.beginResetModel),
            (model.modelReset, self._on_source_reset),
            (model.layoutAboutToBeChanged, self._on_source_layout_about),
            (model.layoutChanged, self._on_source_layout),
            (model.dataChanged, self._on_source_data),
            (model.rowsInserted, self._on_source_reshaped),
            (model.rowsRemoved, self._on_source_reshaped),
        ]

    def _source(self) -> ImageTableModel | None:
        return self.sourceModel()  # type: ignore[return-value]

    def _on_source_reset(self) -> None:
        self._rows = self._accepted_rows()
        self.endResetModel()

    def _on_source_reshaped(self, *_args: object) -> None:
        self.beginResetModel()
        self._rows = self._accepted_rows()
        self.endResetModel()

    def _on_source_layout_about(self, *_args: object) -> None:
        """The source is about to reorder (sort): remember the source row of each persistent index."""
        self.layoutAboutToBeChanged.emit()
        source = self._source()
        self._saved = [
            (p, QPersistentModelIndex(source.index(self._rows[p.row()], p.column()))
             if 0 <= p.row() < len(self._rows) else QPersistentModelIndex())
            for p in self.persistentIndexList()
        ]

    def _on_source_layout(self, *_args: object) -> None:
        saved, self._saved = self._saved, []
        self._rows = self._accepted_rows()
        self.changePersistentIndexList(
            [p for p, _s in saved], [self._proxy_index(s.row() if s.isValid() else -1, p.column()) for p, s in saved])
        self.layoutChanged.emit()

    def _on_source_data(self, top_left: QModelIndex, bottom_right: QModelIndex, roles: list = ()) -> None:
        """Rows changed: those that now fail (pass) the filter leave (enter); the others are repainted."""
        source = self._source()
        test = self._test
        first, last = top_left.row(), bottom_right.row()
        if test is not None:
            for source_row in range(first, last + 1):
                position = bisect_left(self._rows, source_row)
                shown = position < len(self._rows) and self._rows[position] == source_row
                wanted = test(source.rows[source_row])
                if shown and not wanted:
                    self.beginRemoveRows(QModelIndex(), position, position)
                    del self._rows[position]
                    self.endRemoveRows()
                elif wanted and not shown:
                    self.beginInsertRows(QModelIndex(), position, position)
                    self._rows.insert(position, source_row)
                    self.endInsertRows()
        low, high = bisect_left(self._rows, first), bisect_right(self._rows, last) - 1
        if low <= high:
            self.dataChanged.emit(self.index(low, top_left.column()), self.index(high, bottom_right.column()),
                                  list(roles or []))

    # -- QAbstractProxyModel -------------------------------------------------------------
    def mapToSource(self, proxy_index: AnyIndex) -> QModelIndex:  # noqa: N802
        source = self._source()
        if source is None or not proxy_index.isValid() or not 0 <= proxy_index.row() < len(self._rows):
            return QModelIndex()
        return source.index(self._rows[proxy_index.row()], proxy_index.column())

    def mapFromSource(self, source_index: AnyIndex) -> QModelIndex:  # noqa: N802
        if not source_index.isValid():
            return QModelIndex()
        return self._proxy_index(source_index.row(), source_index.column())

    def index(self, row: int, column: int, parent: AnyIndex = QModelIndex()) -> QModelIndex:
        if parent.isValid() or not (0 <= row < len(self._rows) and 0 <= column < len(COLUMNS)):
            return QModelIndex()
        return self.createIndex(row, column)

    def parent(self, index: AnyIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        return QModelIndex()

    def sibling(self, row: int, column: int, index: AnyIndex) -> QModelIndex:
        return self.index(row, column)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def hasChildren(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: N802
        return not parent.isValid() and bool(self._rows)

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        return _FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole):
        source = self._source()
        if source is None or not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        return source.row_data(source.rows[self._rows[index.row()]], index.column(), role)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            source = self._source()
            return source.headerData(section, orientation, role) if source is not None else None
        return section + 1 if role == Qt.ItemDataRole.DisplayRole else None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by letting the source model reorder its list (a key sort)."""
        source = self._source()
        if source is not None:
            source.sort(column, order)
