"""The browser's data: one ``BrowserRow`` per image and a Qt table model over them (filter: ``browser_filter``).

Rows are built from ``Project.images()`` (one query for the whole project)
in a background job; the model never queries the store per row, so a
10,000-image project scrolls, sorts and filters from memory.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from medtl_gui.core.project.file_names import display_name
from medtl_gui.gui.review.label_next import LABEL_NEXT_COLUMN, label_next_key, review_ranks

COLUMNS: tuple[str, ...] = ("Image", "Label", "Split", "Modality", "Patient", "Mask", "Suggestion")
PATIENT_COLUMN = COLUMNS.index("Patient")
#: what the Patient column shows while patient-identifying values are hidden (as the metadata panel does)
HIDDEN = "(hidden)"
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


class BrowserRow(NamedTuple):
    """What the browser shows of one image (a snapshot; refreshed after edits).

    A named tuple, not a frozen dataclass: no ``__dict__`` per row and no
    ``object.__setattr__`` per field, so 100,000 rows take less memory and
    are quicker to make. Change one with ``row._replace(...)``.
    """

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
    review_rank: int | None = None  # place in the stored "label next" ranking (1 = first), None: unranked

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


def _file_name(path: str) -> str:
    """The last part of a stored path, as ``PurePath(path).name`` but without its parsing cost (100,000 rows)."""
    trimmed = path.rstrip(_SEPARATORS)
    cut = max(trimmed.rfind(sep) for sep in _SEPARATORS) if len(_SEPARATORS) > 1 else trimmed.rfind(os.sep)
    return trimmed[cut + 1:] or path


_SEPARATORS = os.sep + (os.altsep or "")


def browser_row(record: Any, colors: dict[str, str], suggestion: str = "",
                confidence: float | None = None, review_rank: int | None = None) -> BrowserRow:
    """The browser's view of one ``ImageRecord``."""
    name = display_name(_file_name(str(record.path)))  # an RLO, a newline or undecodable bytes shown escaped
    if record.kind == "dicom-series":
        name = f"{name} [series, {record.n_frames} slices]"
    elif record.n_frames > 1:
        name = f"{name} [{record.n_frames} {'slices' if record.kind == 'volume' else 'frames'}]"
    search = " ".join([str(v) for v in (record.path, record.patient_id, record.series_uid, record.study_uid,
                                        record.modality, record.note) if v])
    return BrowserRow(
        image_id=record.id, name=name, label=record.label or "", status=record.label_status or "",
        split=record.split or "", modality=record.modality or "", patient=record.patient_id or "",
        has_mask=bool(record.has_mask), suggestion=suggestion, color=colors.get(record.label or ""),
        search_text=search.lower(), n_frames=int(record.n_frames), sha256=record.sha256 or "",
        confidence=confidence, review_rank=review_rank,
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
    return [rows[i] for i in sort_order(rows, column, order)]


def sort_order(rows: list[BrowserRow], column: int, order: Qt.SortOrder) -> list[int]:
    """Positions of ``rows`` in the order of a column's text then id (column -1: by id).

    Text columns take two key sorts (by id, then a stable sort by text)
    instead of tuple keys: a third of the time for 100,000 rows.
    """
    reverse = order == Qt.SortOrder.DescendingOrder
    if column == LABEL_NEXT_COLUMN:
        keys = [label_next_key(r) for r in rows]
        return sorted(range(len(rows)), key=keys.__getitem__, reverse=reverse)
    ids = [r.image_id for r in rows]
    positions = sorted(range(len(rows)), key=ids.__getitem__, reverse=reverse)
    if column >= 0:
        texts = [r.cell(column).lower() for r in rows]
        positions.sort(key=texts.__getitem__, reverse=reverse)
    return positions


class RowTotals:
    """The counts behind the counts line: images, masks, images per class and per split.

    Counted once per reload (in the background), then kept up to date by
    ``replace(old_rows, new_rows)`` after an edit: recounting 100,000 rows on
    the GUI thread after every label took about 0.1 s.
    """

    def __init__(self, rows: Sequence[BrowserRow] = ()) -> None:
        self.per_class = Counter(r.label or "unlabelled" for r in rows)
        self.per_split = Counter(r.split or UNASSIGNED for r in rows)
        self.masks = sum(1 for r in rows if r.has_mask)
        self.images = len(rows)

    def replace(self, old_rows: Sequence[BrowserRow], new_rows: Sequence[BrowserRow]) -> None:
        """Count ``new_rows`` instead of ``old_rows`` (the same images before and after an edit)."""
        for rows, sign in ((old_rows, -1), (new_rows, +1)):
            for r in rows:
                self.per_class[r.label or "unlabelled"] += sign
                self.per_split[r.split or UNASSIGNED] += sign
                self.masks += sign * bool(r.has_mask)
            self.images += sign * len(rows)
        for counter in (self.per_class, self.per_split):
            for key in [k for k, n in counter.items() if n <= 0]:
                del counter[key]

    def text(self) -> str:
        """The counts line's fixed part (HTML)."""
        classes = " · ".join(f"{name} {n}" for name, n in sorted(self.per_class.items()))
        splits = " · ".join(f"{name} {n}" for name, n in sorted(self.per_split.items()))
        return f"of {self.images} · {self.masks} with masks<br>{classes}<br>{splits}"


def totals_text(rows: list[BrowserRow]) -> str:
    """The counts line's fixed part: images, masks, images per class and per split (HTML)."""
    return RowTotals(rows).text()


def load_rows(project: Any, colors: dict[str, str], image_ids: list[int] | None = None,
              sort: tuple[int, Qt.SortOrder] | None = None, progress=None, cancel=None) -> list[BrowserRow]:
    """Browser rows for every image (one query) or for the given ids, optionally sorted.

    Safe to run in a worker thread (sorting there keeps the GUI thread free).
    """
    records = project.images() if image_ids is None else [project.image(i) for i in image_ids]
    suggestions = suggestions_by_image(project, image_ids)
    ranks = review_ranks(project)
    rows = [browser_row(r, colors, *suggestions.get(r.id, ("", None)), review_rank=ranks.get(r.id)) for r in records]
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
        self.show_identifying = False  # the Patient column shows "(hidden)" unless the user reveals it

    def set_show_identifying(self, on: bool) -> None:
        """Show PatientIDs in the Patient column, or hide them (the metadata panel's privacy toggle)."""
        if bool(on) == self.show_identifying:
            return
        self.show_identifying = bool(on)
        if self.rows:
            self.dataChanged.emit(self.index(0, PATIENT_COLUMN), self.index(len(self.rows) - 1, PATIENT_COLUMN),
                                  [Qt.ItemDataRole.DisplayRole])

    def set_rows(self, rows: list[BrowserRow], presorted: bool = False) -> None:
        """Replace every row, put in the current sort order unless ``presorted`` says they are."""
        self.beginResetModel()
        self.rows = list(rows) if presorted else sorted_rows(list(rows), self.sort_column, self.sort_order)
        self._row_of = dict(zip([r.image_id for r in self.rows], range(len(self.rows))))
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
        order_of = sort_order(old_rows, column, order)
        self.rows = [old_rows[i] for i in order_of]
        new_position = [0] * len(order_of)
        for new, old in enumerate(order_of):
            new_position[old] = new
        self._row_of = dict(zip([r.image_id for r in self.rows], range(len(self.rows))))
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
        return self.row_data(self.rows[index.row()], index.column(), role)

    def row_data(self, row: BrowserRow, column: int, role: int):
        """What ``data`` answers for a row's column and role (the filter proxy asks it directly)."""
        if role == Qt.ItemDataRole.DisplayRole:
            if column == PATIENT_COLUMN and row.patient and not self.show_identifying:
                return HIDDEN
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
