"""Dataset browser: the project's images in a filterable, searchable table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("Image", "Label", "Split", "Modality", "Patient")
ALL, UNLABELLED, HAS_MASK = "All images", "Unlabelled", "Has mask"


@dataclass
class BrowserRow:
    """What the browser shows of one image (a snapshot; refreshed after edits)."""

    image_id: int
    name: str
    label: str
    split: str
    modality: str
    patient: str
    has_mask: bool
    color: str | None = None


def browser_row(rec, colors: dict[str, str]) -> BrowserRow:
    """The browser's view of one ``ImageRecord``."""
    label = rec.label or ("" if rec.label_status in (None, "labelled") else rec.label_status)
    name = Path(str(rec.path)).name
    if rec.kind == "dicom-series":
        name = f"{name} [series {rec.n_frames} sl.]"
    return BrowserRow(
        image_id=rec.id,
        name=name,
        label=label,
        split=rec.split or "",
        modality=rec.modality or "",
        patient=rec.patient_id or "",
        has_mask=rec.has_mask,
        color=colors.get(rec.label or ""),
    )


def rows_from_project(project, image_ids: list[int] | None = None) -> list[BrowserRow]:
    """Browser rows for all images (one query) or for the given ids."""
    colors = {c.name: c.color for c in project.classes()}
    records = project.images() if image_ids is None else [project.image(i) for i in image_ids]
    return [browser_row(rec, colors) for rec in records]


class ImageTableModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[BrowserRow] = []

    def set_rows(self, rows: list[BrowserRow]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def update_row(self, row: BrowserRow) -> None:
        for i, old in enumerate(self.rows):
            if old.image_id == row.image_id:
                self.rows[i] = row
                self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))
                return

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (row.name, row.label, row.split, row.modality, row.patient)[index.column()]
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 1 and row.color:
            return QColor(row.color)
        if role == Qt.ItemDataRole.UserRole:
            return row
        return None


class _FilterProxy(QSortFilterProxyModel):
    def __init__(self) -> None:
        super().__init__()
        self.mode = ALL
        self.text = ""

    def filterAcceptsRow(self, source_row, source_parent) -> bool:  # noqa: N802
        row: BrowserRow = self.sourceModel().rows[source_row]
        if self.mode == UNLABELLED and row.label:
            return False
        if self.mode == HAS_MASK and not row.has_mask:
            return False
        if self.mode.startswith("Class: ") and row.label != self.mode[7:]:
            return False
        if self.mode.startswith("Split: ") and row.split != self.mode[7:]:
            return False
        if self.text:
            hay = f"{row.name} {row.patient} {row.modality}".lower()
            return self.text in hay
        return True


class ImageBrowser(QWidget):
    """Table of images with a filter menu and a search box; emits ``image_selected(id)``."""

    image_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = ImageTableModel()
        self.proxy = _FilterProxy()
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.selectionModel().currentRowChanged.connect(self._on_current)
        self.filter_box = QComboBox()
        self.filter_box.currentTextChanged.connect(self._on_filter)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search file, patient, modality")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search)
        self.counts = QLabel()
        self.counts.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.filter_box)
        top.addWidget(self.search, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.counts)

    def set_rows(self, rows: list[BrowserRow], class_names: list[str], splits: list[str]) -> None:
        keep = self.filter_box.currentText() or ALL
        self.filter_box.blockSignals(True)
        self.filter_box.clear()
        self.filter_box.addItems([ALL, UNLABELLED, HAS_MASK] + [f"Class: {c}" for c in class_names] + [f"Split: {s}" for s in splits])
        self.filter_box.setCurrentText(keep)
        self.filter_box.blockSignals(False)
        self.proxy.mode = self.filter_box.currentText()
        self.model.set_rows(rows)
        self._update_counts()

    def update_row(self, row: BrowserRow) -> None:
        self.model.update_row(row)
        self._update_counts()

    def current_image_id(self) -> int | None:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        return self.proxy.data(index, Qt.ItemDataRole.UserRole).image_id

    def select_row(self, proxy_row: int) -> bool:
        if not 0 <= proxy_row < self.proxy.rowCount():
            return False
        self.table.setCurrentIndex(self.proxy.index(proxy_row, 0))
        return True

    def step(self, delta: int) -> bool:
        """Move the selection by ``delta`` rows (in the filtered, sorted order)."""
        current = self.table.currentIndex().row()
        return self.select_row(max(0, current + delta) if current >= 0 else 0)

    def neighbour_ids(self, radius: int = 2) -> list[int]:
        row = self.table.currentIndex().row()
        ids = []
        for r in range(row - radius, row + radius + 1):
            if r != row and 0 <= r < self.proxy.rowCount():
                ids.append(self.proxy.data(self.proxy.index(r, 0), Qt.ItemDataRole.UserRole).image_id)
        return ids

    def _on_current(self, current, _previous) -> None:
        if current.isValid():
            self.image_selected.emit(self.proxy.data(current, Qt.ItemDataRole.UserRole).image_id)

    def _on_filter(self, text: str) -> None:
        self.proxy.mode = text
        self.proxy.invalidateFilter()
        self._update_counts()

    def _on_search(self, text: str) -> None:
        self.proxy.text = text.strip().lower()
        self.proxy.invalidateFilter()
        self._update_counts()

    def _update_counts(self) -> None:
        rows = self.model.rows
        per_class: dict[str, int] = {}
        for r in rows:
            per_class[r.label or "unlabelled"] = per_class.get(r.label or "unlabelled", 0) + 1
        parts = ", ".join(f"{k}: {v}" for k, v in sorted(per_class.items()))
        self.counts.setText(f"{self.proxy.rowCount()} shown of {len(rows)}  ({parts})")
