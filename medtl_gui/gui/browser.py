"""Dataset browser: the project's images as a table or a thumbnail grid, with filters, sorting, search, counts.

The table and the grid show the same filtered, sorted model and share one
selection, so switching views keeps the current image. Rows come from one
``Project.images()`` query run in the background (``reload``); after an edit
only the edited rows are re-read (``refresh_rows``).
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from medtl_gui.gui.background import BackgroundJob
from medtl_gui.gui.elided_combo import ElidedComboBox
from medtl_gui.gui.browser_columns import FittedColumns
from medtl_gui.gui.browser_filter import ImageFilterProxy
from medtl_gui.gui.browser_model import (
    ALL,
    CLASS_PREFIX,
    DISAGREES,
    HAS_MASK,
    LISTED_PREFIX,
    NO_MASK,
    ROW_ROLE,
    SPLIT_PREFIX,
    UNASSIGNED,
    UNCERTAIN,
    UNLABELLED,
    BrowserRow,
    ImageTableModel,
    RowTotals,
    load_rows,
    sorted_rows,
)
from medtl_gui.gui.review.label_next import LABEL_NEXT, LABEL_NEXT_COLUMN
from medtl_gui.gui.text_field import TextField
from medtl_gui.gui.thumbnail_delegate import CELL, ThumbnailDelegate
from medtl_gui.gui.thumbnails import ThumbnailCache

#: sort choices of the sort box: (text, model column; -1 = order of addition); short, for a narrow browser
SORT_CHOICES: tuple[tuple[str, int], ...] = (
    ("Sort: name", 0), ("Sort: label", 1), ("Sort: split", 2), ("Sort: modality", 3),
    ("Sort: patient", 4), ("Sort: mask", 5), ("Sort: suggestion", 6), ("Sort: added", -1),
    ("Sort: label next", LABEL_NEXT_COLUMN),
)
#: the sort box's tool tip per choice (the box may show its text elided)
SORT_TIPS: tuple[str, ...] = (
    "file name", "class label", "split (train, val, test)", "modality", "patient", "has a mask or not",
    "the model's suggestion", "the order the images were added", "the stored ranking of images to label next")


class ImageBrowser(QWidget):
    """Table or grid of images with filter, sort and search; emits ``image_selected(id)``.

    ``rows_loaded`` after a (background) reload has put its rows in place.
    """

    image_selected = Signal(int)
    rows_loaded = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.project: Any = None
        self._colors: dict[str, str] = {}
        self._generation = 0
        self._totals = ""  # the counts line's per-class and per-split part
        self._row_totals = RowTotals()  # the counts behind it
        self._listed_text = ""  # the filter of images listed by show_listed, "" when none
        self._class_names: list[str] = []
        self._splits: list[str] = []
        self.thumbnails = ThumbnailCache(self)
        self.model = ImageTableModel()
        self.model.thumbnails = self.thumbnails
        self.thumbnails.ready.connect(self.model.row_changed)
        self.proxy = ImageFilterProxy()
        self.proxy.setSourceModel(self.model)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setWordWrap(False)
        # Image fills what Label leaves (fixed widths: ResizeToContents would ask every row for its text)
        self.columns = FittedColumns(self.table)
        self.table.horizontalHeader().sortIndicatorChanged.connect(self._on_header_sort)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.selectionModel().currentRowChanged.connect(self._on_current)

        self.grid = QListView()
        self.grid.setModel(self.proxy)
        self.grid.setSelectionModel(self.table.selectionModel())
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setGridSize(CELL)
        self.grid.setLayoutMode(QListView.LayoutMode.Batched)
        self.grid.setBatchSize(256)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.grid.setItemDelegate(ThumbnailDelegate(self.thumbnails, self.grid))
        self.grid.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.views = QStackedWidget()
        self.views.addWidget(self.table)
        self.views.addWidget(self.grid)

        self.filter_box = ElidedComboBox(min_characters=6)
        self.filter_box.setToolTip("Show only some images")
        self.filter_box.currentTextChanged.connect(self._on_filter)
        self.sort_box = ElidedComboBox(min_characters=6)
        self.sort_box.setToolTip("Order of the list (or click a column's header)")
        for (text, column), tip in zip(SORT_CHOICES, SORT_TIPS):
            self.sort_box.addItem(text, column)
            self.sort_box.setItemData(self.sort_box.count() - 1, f"Sort by {tip}", Qt.ItemDataRole.ToolTipRole)
        self.sort_box.activated.connect(lambda _i: self.sort_by(int(self.sort_box.currentData())))
        self.search = TextField()
        self.search.setPlaceholderText("Search file, patient, series, note")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search)
        self.counts = QLabel()
        self.counts.setWordWrap(True)
        self.counts.setObjectName("browser-counts")
        top = QHBoxLayout()
        top.addWidget(self.filter_box, 1)  # the two share the row (each elides its text when it must)
        top.addWidget(self.sort_box, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.search)
        layout.addWidget(self.views, 1)
        layout.addWidget(self.counts)
        self._fill_filters([], [])

    # -- data --------------------------------------------------------------------------
    def set_project(self, project: Any) -> None:
        """Browse another project (None: none); the rows come with ``reload``."""
        self._generation += 1
        self.project = project
        self._listed_text = ""
        self.proxy.set_listed(frozenset())
        self.thumbnails.set_project(project)
        self.model.set_rows([])
        self._update_counts()

    def set_show_identifying(self, on: bool) -> None:
        """Show or hide PatientIDs in the Patient column (the same privacy toggle as the metadata panel)."""
        self.model.set_show_identifying(on)

    def reload(self, classes: list[Any], then: Callable[[], None] | None = None) -> BackgroundJob | None:
        """Re-read every row in the background; ``then()`` runs once they are shown."""
        if self.project is None:
            return None
        self._colors = {c.name: c.color for c in classes}
        class_names = [c.name for c in classes]
        self._generation += 1
        generation = self._generation
        sort = (self.model.sort_column, self.model.sort_order)

        def rows_and_totals(project: Any, colors: dict[str, str], progress=None, cancel=None) -> dict[str, Any]:
            rows = load_rows(project, colors, None, sort)
            return {"rows": rows, "totals": RowTotals(rows), "splits": sorted({r.split or UNASSIGNED for r in rows})}

        job = BackgroundJob(rows_and_totals, self.project, dict(self._colors))

        def done(result: dict[str, Any]) -> None:
            rows, totals = result["rows"], result["totals"]
            if generation != self._generation:
                return
            if (self.model.sort_column, self.model.sort_order) != sort:  # re-sorted meanwhile
                rows = sorted_rows(rows, self.model.sort_column, self.model.sort_order)
            self.set_rows(rows, class_names, presorted=True, totals=totals, splits=result["splits"])
            if then is not None:
                then()

        job.succeeded.connect(done)
        job.start()
        self._reload_job = job
        return job

    def set_rows(self, rows: list[BrowserRow], class_names: list[str], presorted: bool = False,
                 totals: RowTotals | None = None, splits: list[str] | None = None) -> None:
        """Show these rows (keeps the filter when it still exists); ``totals``: their ``RowTotals``;
        ``splits``: the splits they use (both computed in the background for big projects)."""
        if splits is None:
            splits = sorted({r.split or UNASSIGNED for r in rows})
        current = self.current_image_id()
        self._fill_filters(class_names, splits)
        self.model.set_rows(rows, presorted=presorted)
        self._row_totals = totals if totals is not None else RowTotals(self.model.rows)
        self._totals = self._row_totals.text()
        self._update_counts(totals=False)
        if current is not None:
            self.select_image(current)
        self.rows_loaded.emit()

    def refresh_rows(self, image_ids: list[int], advance_from: int | None = None) -> None:
        """Re-read some rows (after an edit); with ``advance_from``, then select the image after it.

        When the edit made the image leave the filtered list (e.g. labelling
        under "Unlabelled"), the image that took its place is selected.
        """
        if self.project is None:
            return
        proxy_row = self._proxy_row_of(advance_from) if advance_from is not None else None
        model = self.model
        old = [model.rows[i] for i in (model.source_row(image_id) for image_id in image_ids) if i is not None]
        new = load_rows(self.project, self._colors, list(image_ids))
        model.update_rows(new)
        self._row_totals.replace(old, [r for r in new if model.source_row(r.image_id) is not None])
        self._totals = self._row_totals.text()
        self._update_counts(totals=False)
        if advance_from is None:
            return
        still = self._proxy_row_of(advance_from)
        if still is not None:
            self.select_row(still + 1)
        elif proxy_row is not None:
            self.select_row(min(proxy_row, self.proxy.rowCount() - 1))

    # -- selection and navigation -------------------------------------------------------
    def current_image_id(self) -> int | None:
        """Id of the selected image, or None."""
        index = self.table.currentIndex()
        return index.data(ROW_ROLE).image_id if index.isValid() else None

    def select_row(self, proxy_row: int) -> bool:
        """Select a row of the filtered, sorted list; False when out of range."""
        if not 0 <= proxy_row < self.proxy.rowCount():
            return False
        index = self.proxy.index(proxy_row, 0)
        self.table.setCurrentIndex(index)
        self.views.currentWidget().scrollTo(index)  # a hidden view scrolls when it is shown
        return True

    def shown_ids(self) -> list[int]:
        """Ids of every image the filter and search show, in the list's order."""
        proxy = self.proxy
        return [proxy.index(row, 0).data(ROW_ROLE).image_id for row in range(proxy.rowCount())]

    def select_image(self, image_id: int) -> bool:
        """Select an image if the filter shows it."""
        row = self._proxy_row_of(image_id)
        return row is not None and self.select_row(row)

    def step(self, delta: int) -> bool:
        """Move the selection by ``delta`` rows (in the filtered, sorted order)."""
        current = self.table.currentIndex().row()
        target = current + delta if current >= 0 else 0
        if not 0 <= target < self.proxy.rowCount():
            return False
        return self.select_row(target)

    def neighbour_ids(self, radius: int = 2) -> list[int]:
        """Ids of the images up to ``radius`` rows around the current one (prefetch), nearest first."""
        row = self.table.currentIndex().row()
        ids = []
        for distance in range(1, radius + 1):
            for r in (row + distance, row - distance):
                if 0 <= r < self.proxy.rowCount():
                    ids.append(self.proxy.index(r, 0).data(ROW_ROLE).image_id)
        return ids

    def visible_ids(self) -> list[int]:
        """Ids of the images the filter currently shows, in display order."""
        return [self.proxy.index(r, 0).data(ROW_ROLE).image_id for r in range(self.proxy.rowCount())]

    # -- view options -------------------------------------------------------------------
    def set_grid_mode(self, on: bool) -> None:
        """Thumbnail grid (True) or table (False)."""
        self.model.show_thumbnails = bool(on)
        self.views.setCurrentWidget(self.grid if on else self.table)
        index = self.table.currentIndex()
        if index.isValid():
            (self.grid if on else self.table).scrollTo(index)

    @property
    def grid_mode(self) -> bool:
        return self.views.currentWidget() is self.grid

    def set_filter(self, mode: str) -> None:
        """Pick a filter by its text (``ALL``, ``UNLABELLED``, ``"Class: lesion"`` ...)."""
        if self.filter_box.findText(mode) < 0:
            raise ValueError(f"no filter {mode!r}")
        self.filter_box.setCurrentText(mode)

    def show_listed(self, title: str, image_ids: list[int]) -> str:
        """Show only these images under a filter named after ``title`` (e.g. a confusion-matrix cell).

        Returns the filter's text; the list stays in the filter box until another list replaces it.
        """
        self.proxy.set_listed(frozenset(int(i) for i in image_ids))
        self._listed_text = f"{LISTED_PREFIX}{title} ({len(image_ids)})"
        self._fill_filters(self._class_names, self._splits)
        self.set_filter(self._listed_text)
        self.select_row(0)
        return self._listed_text

    def sort_by(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by a column (-1: order of addition)."""
        if column < 0:  # -1: order added; LABEL_NEXT_COLUMN: the stored ranking
            self.table.horizontalHeader().setSortIndicator(-1, order)
            self.proxy.sort(column, order)
        else:
            self.table.sortByColumn(column, order)

    # -- internals ---------------------------------------------------------------------
    def _fill_filters(self, class_names: list[str], splits: list[str]) -> None:
        keep = self.filter_box.currentText() or ALL
        self._class_names, self._splits = list(class_names), list(splits)
        self.columns.set_label_texts(class_names)
        items = [ALL, UNLABELLED, UNCERTAIN, HAS_MASK, NO_MASK, DISAGREES, LABEL_NEXT]
        items += [CLASS_PREFIX + c for c in class_names] + [SPLIT_PREFIX + s for s in splits]
        if self._listed_text:
            items.append(self._listed_text)
        self.filter_box.blockSignals(True)
        self.filter_box.clear()
        self.filter_box.addItems(items)
        self.filter_box.setCurrentText(keep if keep in items else ALL)
        self.filter_box.blockSignals(False)
        self.proxy.set_mode(self.filter_box.currentText())

    def _proxy_row_of(self, image_id: int | None) -> int | None:
        source = self.model.source_row(image_id) if image_id is not None else None
        if source is None:
            return None
        index = self.proxy.mapFromSource(self.model.index(source, 0))
        return index.row() if index.isValid() else None

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.image_selected.emit(current.data(ROW_ROLE).image_id)

    def _on_header_sort(self, column: int, _order: Qt.SortOrder) -> None:
        index = self.sort_box.findData(column)
        if index >= 0:
            self.sort_box.setCurrentIndex(index)

    def _on_filter(self, text: str) -> None:
        if text == LABEL_NEXT:  # the ranking's order is the point of this filter
            self.sort_by(LABEL_NEXT_COLUMN)
            self.sort_box.setCurrentIndex(self.sort_box.findData(LABEL_NEXT_COLUMN))
        self.proxy.set_mode(text)
        self._update_counts(totals=False)
        if not self.table.currentIndex().isValid():
            self.select_row(0)

    def _on_search(self, text: str) -> None:
        self.proxy.set_text(text)
        self._update_counts(totals=False)

    def _update_counts(self, totals: bool = True) -> None:
        """The counts line; ``totals=False`` (filter or search changed) reuses the per-class/split totals."""
        if totals or not self._totals:
            self._row_totals = RowTotals(self.model.rows)
            self._totals = self._row_totals.text()
        self.counts.setText(f"<b>{self.proxy.rowCount()}</b> shown {self._totals}")
