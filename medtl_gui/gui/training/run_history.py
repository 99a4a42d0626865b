"""The run history: every run of the project with its config, duration and best metrics.

Select a run to open its curves in the monitor; select two to compare them;
continue training from one; mark one as the project's active model (the one
"Apply model" uses). The list is read from the run folders in a background
job.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medtl_gui.gui.background import BackgroundJob
from medtl_gui.gui.training.run_records import RunSummary, list_runs

COLUMNS: tuple[str, ...] = ("Run", "Status", "Model and settings", "Duration", "Best", "Active")


class RunHistoryPanel(QWidget):
    """Table of runs (newest first) and the actions on the selected ones."""

    open_requested = Signal(object)  # RunSummary
    compare_requested = Signal(object, object)  # RunSummary, RunSummary
    continue_requested = Signal(object)
    activate_requested = Signal(object)
    apply_requested = Signal(object)
    runs_loaded = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.runs: list[RunSummary] = []
        self.active_run: str | None = None
        self._generation = 0
        self._job: BackgroundJob | None = None
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._sync_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self._open())
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for key, text, tip, slot in (
            ("open", "Open", "Show the run's curves, confusion matrix and ROC in the monitor", self._open),
            ("compare", "Compare", "Select two runs: overlay their curves", self._compare),
            ("continue", "Continue training", "Resume an unfinished run, or start a new run from this run's "
                                               "weights", lambda: self._emit(self.continue_requested)),
            ("activate", "Set as active model", "The model 'Apply model' uses for this project",
             lambda: self._emit(self.activate_requested)),
            ("apply", "Apply to unlabelled", "Predict the unlabelled images with this run (as suggestions)",
             lambda: self._emit(self.apply_requested)),
        ):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            row.addWidget(button)
            self.buttons[key] = button
        row.addStretch(1)
        self.status = QLabel("")
        self.status.setStyleSheet("color: #9aa0a6;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self._sync_buttons()

    def reload(self, runs_dir: Any, active_run: str | None, running: set[str] | None = None) -> BackgroundJob:
        """Re-read the runs folder in the background."""
        self._generation += 1
        generation = self._generation
        self.active_run = active_run
        job = BackgroundJob(lambda progress=None, cancel=None: list_runs(runs_dir, running or set()))
        job.succeeded.connect(lambda runs: self._show(generation, runs))
        self._job = job.start()
        return job

    def set_runs(self, runs: list[RunSummary], active_run: str | None = None) -> None:
        """Show these runs."""
        if active_run is not None:
            self.active_run = active_run
        selected = {r.run_id for r in self.selected_runs()}
        self.runs = list(runs)
        self.table.setRowCount(len(self.runs))
        for i, run in enumerate(self.runs):
            cells = (run.run_id, run.status.replace("_", " "), run.config_text(), run.duration_text(),
                     run.best_text(), "★" if run.run_id == self.active_run else "")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{run.path}\n{run.config_text()}")
                if column == 5:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(i, column, item)
            if run.run_id in selected:
                self.table.selectRow(i)
        self.status.setText(f"{len(self.runs)} run(s)" + (f" · active model: {self.active_run}"
                                                            if self.active_run else " · no active model"))
        self._sync_buttons()
        self.runs_loaded.emit()

    def selected_runs(self) -> list[RunSummary]:
        """The selected runs, in table order."""
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.runs[r] for r in rows if r < len(self.runs)]

    def select_run(self, run_id: str, add: bool = False) -> bool:
        """Select a run by id (``add``: keep the current selection)."""
        for i, run in enumerate(self.runs):
            if run.run_id == run_id:
                if not add:
                    self.table.clearSelection()
                model = self.table.selectionModel()
                model.select(self.table.model().index(i, 0), QItemSelectionModel.SelectionFlag.Select
                             | QItemSelectionModel.SelectionFlag.Rows)
                return True
        return False

    # -- internals -----------------------------------------------------------------------
    def _show(self, generation: int, runs: list[RunSummary]) -> None:
        if generation == self._generation:
            self.set_runs(runs)

    def _emit(self, signal: Any) -> None:
        runs = self.selected_runs()
        if runs:
            signal.emit(runs[0])

    def _open(self) -> None:
        self._emit(self.open_requested)

    def _compare(self) -> None:
        runs = self.selected_runs()
        if len(runs) == 2:
            self.compare_requested.emit(runs[0], runs[1])

    def _sync_buttons(self) -> None:
        runs = self.selected_runs()
        one = len(runs) == 1
        self.buttons["open"].setEnabled(one)
        self.buttons["compare"].setEnabled(len(runs) == 2)
        self.buttons["continue"].setEnabled(one and runs[0].has_checkpoint and runs[0].status != "running")
        self.buttons["activate"].setEnabled(one and runs[0].usable_model)
        self.buttons["apply"].setEnabled(one and runs[0].usable_model)
