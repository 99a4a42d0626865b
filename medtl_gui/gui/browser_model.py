"""The browser's data: one ``BrowserRow`` per image, a Qt table model over them, and the filter/sort proxy.

Rows are built from ``Project.images()`` (one query for the whole project)
in a background job; the model never queries the store per row, so a
10,000-image project scrolls, sorts and filters from memory.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor

COLUMNS: tuple[str, ...] = ("Image", "Label", "Split", "Modality", "Patient", "Mask", "Suggestion")
ROW_ROLE = Qt.ItemDataRole.UserRole  # the BrowserRow of an index

ALL = "All images"
UNLABELLED = "Unlabelled"
UNCERTAIN = "Uncertain or skipped"
HAS_MASK = "Has mask"
NO_MASK = "No mask"
DISAGREES = "Model disagrees with label"
CLASS_PREFIX, SPLIT_PREFIX = "Class: ", "Split: "
LISTED_PREFIX = "Listed: "  # a set of images picked elsewhere (e.g. a confusion-matrix cell)
UNASSIGNED = "unassigned"


@dataclass(frozen=True)
class BrowserRow:
    """What the browser shows of one image (a snapshot; refreshed after edits)."""

    image_id: int
    name: str
    label: str  # class name, "" when none
    status: str  # "labelled", "uncertain", "skipped" or "" (no label row)
    split: str  # "train"/"val"/"test" or "" (unassigned)
    modality: str
    patient: str
    has_mask: bool
    suggestion: str  # the model's proposed class, "" when none
    color: str | None  # colour of the label's class
    search_text: str  # lower-case text the search box matches (file, patient, series, modality, note)
    n_frames: int = 1
    sha256: str = ""  # content hash (names the cached thumbnail)
    confidence: float | None = None  # the model's probability of its suggestion

    @property
    def disagrees(self) -> bool:
        """True when the model proposes a class other than the clinician's label."""
        return bool(self.label and self.suggestion and self.label != self.suggestion)

    def cell(self, column: int) -> str:
        """Display text of a column."""
        if column == 0:
            return self.name
        if column == 1:
            return self.label or (self.status if self.status not in ("", "labelled") else "")
        if column == 6:
            return self.suggestion + (f" {self.confidence:.0%}" if self.suggestion and self.confidence is not None
                                      else "")
        return (self.name, "", self.split, self.modality, self.patient,
                "✓" if self.has_mask else "")[column]


def browser_row(record: Any, colors: dict[str, str], suggestion: str = "",
                confidence: float | None = None) -> BrowserRow:
    """The browser's view of one ``ImageRecord``."""
    name = PurePath(str(record.path)).name
    if record.kind == "dicom-series":
        name = f"{name} [series, {record.n_frames} slices]"
    elif record.n_frames > 1:
        name = f"{name} [{record.n_frames} {'slices' if record.kind == 'volume' else 'frames'}]"
    search = " ".join(str(v) for v in (record.path, record.patient_id, record.series_uid, record.study_uid,
                                       record.modality, record.note) if v)
    return BrowserRow(
        image_id=record.id, name=name, label=record.label or "", status=record.label_status or "",
        split=record.split or "", modality=record.modality or "", patient=record.patient_id or "",
        has_mask=bool(record.has_mask), suggestion=suggestion, color=colors.get(record.label or ""),
        search_text=search.lower(), n_frames=int(record.n_frames), sha256=record.sha256 or "",
        confidence=confidence,
    )


def _suggestion(proposal: Any) -> tuple[str, float | None]:
    """(class, its probability or None) of a ``ProposalRecord``."""
    probability = (getattr(proposal, "probabilities", None) or {}).get(proposal.class_name)
    return proposal.class_name, (float(probability) if probability is not None else None)


def suggestions_by_image(project: Any, image_ids: list[int] | None = None) -> dict[int, tuple[str, float | None]]:
    """Proposed class and its probability per image id.

    Uses ``Project.proposals()`` when the store offers it (one query);
    otherwise skips the work when the project has no proposals at all, and
    else asks per image (acceptable off the GUI thread).
    """
    bulk = getattr(project, "proposals", None)
    if callable(bulk):
        return {p.image_id: _suggestion(p) for p in bulk()}
    if image_ids is None:
        if not project.info().get("proposals"):
            return {}
        image_ids = [r.id for r in project.images()]
    found = {}
    for image_id in image_ids:
        proposal = project.proposal(image_id)
        if proposal is not None:
            found[image_id] = _suggestion(proposal)
    return found


def sorted_rows(rows: list[BrowserRow], column: int, order: Qt.SortOrder) -> list[BrowserRow]:
    """Rows ordered by a column's text then id (column -1: by id, the order of addition)."""
    if column < 0:
        return sorted(rows, key=lambda r: r.image_id, reverse=order == Qt.SortOrder.DescendingOrder)
    return sorted(rows, key=lambda r: (r.cell(column).lower(), r.image_id),
                  reverse=order == Qt.SortOrder.DescendingOrder)


def totals_text(rows: list[BrowserRow]) -> str:
    """The counts line's fixed part: images, masks, images per class and per split (HTML)."""
    per_class = Counter(r.label or "unlabelled" for r in rows)
    per_split = Counter(r.split or UNASSIGNED for r in rows)
    masks = sum(1 for r in rows if r.has_mask)
    classes = " · ".join(f"{name} {n}" for name, n in sorted(per_class.items()))
    splits = " · ".join(f"{name} {n}" for name, n in sorted(per_split.items()))
    return f"of {len(rows)} · {masks} with masks<br>{classes}<br>{splits}"


def load_rows(project: Any, colors: dict[str, str], image_ids: list[int] | None = None,
              sort: tuple[int, Qt.SortOrder] | None = None, progress=None, cancel=None) -> list[BrowserRow]:
    """Browser rows for every image (one query) or for the given ids, optionally sorted.

    Safe to run in a worker thread (sorting there keeps the GUI thread free).
    """
    records = project.images() if image_ids is None else [project.image(i) for i in image_ids]
    suggestions = suggestions_by_image(project, image_ids)
    rows = [browser_row(r, colors, *suggestions.get(r.id, ("", None))) for r in records]
    return sorted_rows(rows, *sort) if sort is not None else rows


class ImageTableModel(QAbstractTableModel):
    """Rows of images; ``thumbnails`` (optional) provides the decoration of column 0."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[BrowserRow] = []
        self._row_of: dict[int, int] = {}
        self.thumbnails: Any = None  # ThumbnailCache
        self.show_thumbnails = False  # decorations only where a view shows them (the grid)
        self.sort_column, self.sort_order = -1, Qt.SortOrder.AscendingOrder

    def set_rows(self, rows: list[BrowserRow], presorted: bool = False) -> None:
        """Replace every row, put in the current sort order unless ``presorted`` says they are."""
        self.beginResetModel()
        self.rows = list(rows) if presorted else sorted_rows(list(rows), self.sort_column, self.sort_order)
        self._row_of = {r.image_id: i for i, r in enumerate(self.rows)}
        self.endResetModel()

    def update_rows(self, rows: list[BrowserRow]) -> None:
        """Replace the rows of these images (others untouched)."""
        for row in rows:
            i = self._row_of.get(row.image_id)
            if i is not None:
                self.rows[i] = row
                self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))

    def row_changed(self, image_id: int) -> None:
        """Tell the views that an image's row looks different (e.g. its thumbnail arrived)."""
        i = self._row_of.get(image_id)
        if i is not None:
            self.dataChanged.emit(self.index(i, 0), self.index(i, 0), [Qt.ItemDataRole.DecorationRole])

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Reorder the rows by a column's text (then by id); column -1 restores the order of addition."""
        self.sort_column, self.sort_order = column, order
        if not self.rows:
            return
        self.layoutAboutToBeChanged.emit()
        old_rows = self.rows
        if column < 0:
            keys = [r.image_id for r in old_rows]
        else:
            keys = [(r.cell(column).lower(), r.image_id) for r in old_rows]
        order_of = sorted(range(len(old_rows)), key=keys.__getitem__,
                          reverse=order == Qt.SortOrder.DescendingOrder)
        self.rows = [old_rows[i] for i in order_of]
        new_position = {old: new for new, old in enumerate(order_of)}
        self._row_of = {r.image_id: i for i, r in enumerate(self.rows)}
        persistent = self.persistentIndexList()
        self.changePersistentIndexList(
            persistent, [self.index(new_position[p.row()], p.column()) for p in persistent])
        self.layoutChanged.emit()

    def source_row(self, image_id: int) -> int | None:
        """Row number of an image in the model, or None."""
        return self._row_of.get(image_id)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        row = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return row.cell(column)
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.DecorationRole and column == 0 and self.show_thumbnails and self.thumbnails:
            return self.thumbnails.pixmap(row.image_id, row.sha256)
        if role == Qt.ItemDataRole.ForegroundRole and column == 1 and row.color:
            return QColor(row.color)
        if role == Qt.ItemDataRole.ForegroundRole and column == 6 and row.disagrees:
            return QColor("#ffb347")
        if role == Qt.ItemDataRole.ToolTipRole:
            parts = [row.name, f"label: {row.cell(1) or 'unlabelled'}", f"split: {row.split or UNASSIGNED}"]
            if row.suggestion:
                parts.append(f"model suggests: {row.cell(6)}")
            return "\n".join(parts)
        return None


class ImageFilterProxy(QSortFilterProxyModel):
    """Filters rows by a mode (``ALL``, ``UNLABELLED``, ``CLASS_PREFIX + name`` ...) and search text."""

    def __init__(self) -> None:
        super().__init__()
        self.mode = ALL
        self.text = ""
        self.listed: frozenset[int] = frozenset()  # the images of a LISTED_PREFIX mode
        self.setDynamicSortFilter(True)

    def set_mode(self, mode: str) -> None:
        """Show only the rows of a filter mode."""
        self._change_filter(lambda: setattr(self, "mode", mode or ALL))

    def set_listed(self, image_ids: frozenset[int]) -> None:
        """The images a ``LISTED_PREFIX`` mode shows."""
        self._change_filter(lambda: setattr(self, "listed", frozenset(image_ids)))

    def set_text(self, text: str) -> None:
        """Show only rows whose search text holds every word of ``text``."""
        self._change_filter(lambda: setattr(self, "text", text.strip().lower()))

    def _change_filter(self, change) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            change()
            self.invalidateFilter()

    def accepts(self, row: BrowserRow) -> bool:
        """True when ``row`` passes the filter mode and the search text."""
        mode = self.mode
        if mode == UNLABELLED and (row.label or row.status in ("uncertain", "skipped")):
            return False
        if mode == UNCERTAIN and row.status not in ("uncertain", "skipped"):
            return False
        if mode == HAS_MASK and not row.has_mask:
            return False
        if mode == NO_MASK and row.has_mask:
            return False
        if mode == DISAGREES and not row.disagrees:
            return False
        if mode.startswith(CLASS_PREFIX) and row.label != mode[len(CLASS_PREFIX):]:
            return False
        if mode.startswith(LISTED_PREFIX) and row.image_id not in self.listed:
            return False
        if mode.startswith(SPLIT_PREFIX):
            wanted = mode[len(SPLIT_PREFIX):]
            if (row.split or UNASSIGNED) != wanted:
                return False
        return not self.text or all(word in row.search_text for word in self.text.split())

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:  # noqa: N802
        if self.mode == ALL and not self.text:
            return True
        return self.accepts(self.sourceModel().rows[source_row])

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by letting the source model reorder its list (a key sort: milliseconds for 10,000 rows,
        where the proxy's pairwise ``lessThan`` calls into Python would take about a second)."""
        self.sourceModel().sort(column, order)
