"""The run history: every run of the project with its config, duration and best metrics.

Select a run to open its curves in the monitor; select two to compare them;
continue training from one; mark one as the project's active model (the one
"Apply model" uses). The list is read from the run folders in a background
job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
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
from medtl_gui.gui.training.ensemble_dialog import (
    EnsembleDialog,
    build_project_ensemble,
    can_join_ensemble,
    list_runs_and_ensembles,
)
from medtl_gui.gui.training.report_job import ReportLauncher
from medtl_gui.core.runs.history import RunSummary

COLUMNS: tuple[str, ...] = ("Run", "Status", "Model and settings", "Duration", "Best", "Active")


class RunHistoryPanel(QWidget):
    """Table of runs (newest first) and the actions on the selected ones."""

    open_requested = Signal(object)  # RunSummary
    compare_requested = Signal(object, object)  # RunSummary, RunSummary
    continue_requested = Signal(object)
    activate_requested = Signal(object)
    apply_requested = Signal(object)
    ensemble_built = Signal(object)  # Path of the new ensemble folder
    runs_loaded = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.runs: list[RunSummary] = []
        self.runs_dir: Path | None = None
        self.ensemble_dialog: EnsembleDialog | None = None
        self.ensemble_job: BackgroundJob | None = None
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
            ("ensemble", "Build ensemble…", "Select two or more finished classification runs: combine them into "
                                            "one model (average, weighted average or vote)", self._build_ensemble),
            ("report", "Report…", "Write a self-contained HTML evaluation report of this run (test split) and "
                                  "open it", self._report),
        ):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            row.addWidget(button)
            self.buttons[key] = button
        self.tta = QComboBox()
        self.tta.addItems(["none", "flips", "flips+rot", "full"])
        self.tta.setToolTip("Test-time augmentation when applying a model: average the predictions of flipped "
                            "(and rotated, zoomed) copies of each image. Slower; check that it helps your images.")
        self.tta.currentTextChanged.connect(self._store_tta)
        row.addWidget(QLabel("TTA"))
        row.addWidget(self.tta)
        self.include_out_of_scope = QCheckBox("Include images outside the model's scope")
        self.include_out_of_scope.setToolTip(
            "Apply model skips images unlike the training images (another modality, a volume for a 2D model, "
            "colour for a grey model, far other pixel or image sizes) and lists them with the reason. Tick to "
            "predict them anyway.")
        self.include_out_of_scope.toggled.connect(self._store_scope_choice)
        row.addWidget(self.include_out_of_scope)
        row.addStretch(1)
        self.status = QLabel("")
        self.status.setStyleSheet("color: #9aa0a6;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.reports = ReportLauncher(self)
        self.reports.progress.connect(lambda text: self.status.setText(f"Report: {text}…"))
        self.reports.finished.connect(lambda path: self.status.setText(f"Report written: {path}"))
        self.reports.failed.connect(lambda message: self.status.setText(f"Report failed: {message}"))
        self._sync_buttons()

    def reload(self, runs_dir: Any, active_run: str | None, running: set[str] | None = None) -> BackgroundJob:
        """Re-read the runs folder in the background."""
        self._generation += 1
        generation = self._generation
        self.active_run = active_run
        self.runs_dir = Path(runs_dir)
        self._show_tta()
        job = BackgroundJob(lambda progress=None, cancel=None: list_runs_and_ensembles(runs_dir, running or set()))
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
                if column == 4 and run.headline is not None:  # the honest headline in full
                    item.setToolTip("\n".join([run.headline.text(), *run.headline.warnings]))
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
        import shiboken6

        # a listing may arrive after the window (and this panel's widgets) closed
        if generation == self._generation and shiboken6.isValid(self.table):
            self.set_runs(runs)

    def _emit(self, signal: Any) -> None:
        runs = self.selected_runs()
        if runs:
            signal.emit(runs[0])

    def _open(self) -> None:
        self._emit(self.open_requested)

    def _report(self) -> None:
        runs = self.selected_runs()
        if runs and self.reports.generate(runs[0].path) is not None:
            self.status.setText(f"Writing the report of {runs[0].run_id}…")

    # -- ensembles and test-time augmentation --------------------------------------------
    def _project(self) -> Any:
        """The window's open project (None when the panel is not in a main window)."""
        return getattr(self.window(), "project", None)

    def _show_tta(self) -> None:
        """Show the project's test-time augmentation setting (what "Apply model" uses)."""
        from medtl_gui.gui.training.prediction_job import include_out_of_scope_setting, prediction_tta

        project = self._project()
        if project is not None:
            self.tta.blockSignals(True)
            self.tta.setCurrentText(prediction_tta(project))
            self.tta.blockSignals(False)
            self.include_out_of_scope.blockSignals(True)
            self.include_out_of_scope.setChecked(include_out_of_scope_setting(project))
            self.include_out_of_scope.blockSignals(False)

    def _store_scope_choice(self, include: bool) -> None:
        from medtl_gui.gui.training.prediction_job import set_include_out_of_scope

        project = self._project()
        if project is not None:
            set_include_out_of_scope(project, include)

    def _store_tta(self, mode: str) -> None:
        from medtl_gui.gui.training.prediction_job import set_prediction_tta

        project = self._project()
        if project is not None:
            set_prediction_tta(project, mode)

    def _build_ensemble(self) -> None:
        runs = [r for r in self.selected_runs() if can_join_ensemble(r)]
        if len(runs) < 2:
            return
        self.ensemble_dialog = EnsembleDialog(runs, self)
        dialog = self.ensemble_dialog
        dialog.accepted.connect(lambda: self.start_ensemble_build(runs, dialog.combination()))
        dialog.open()

    def start_ensemble_build(self, runs: list[RunSummary], combination: str) -> BackgroundJob | None:
        """Build an ensemble of ``runs`` in the background; the history re-lists when it is done."""
        if self.runs_dir is None or (self.ensemble_job is not None and not self.ensemble_job.done.is_set()):
            return None
        runs_dir = self.runs_dir
        job = BackgroundJob(build_project_ensemble, runs_dir, [r.path for r in runs], combination)

        def built(folder: Path) -> None:
            self.status.setText(f"Ensemble built: {folder.name} ({len(runs)} runs, {combination})")
            self.reload(runs_dir, self.active_run)
            self.ensemble_built.emit(folder)

        job.succeeded.connect(built)
        job.failed.connect(lambda message, _details: self.status.setText(f"Ensemble not built: {message}"))
        self.status.setText(f"Building an ensemble of {len(runs)} runs ({combination})…")
        self.buttons["ensemble"].setEnabled(False)
        job.finished.connect(self._sync_buttons)
        self.ensemble_job = job.start()
        return job

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
        self.buttons["report"].setEnabled(one and runs[0].usable_model)
        building = self.ensemble_job is not None and not self.ensemble_job.done.is_set()
        self.buttons["ensemble"].setEnabled(len(runs) >= 2 and all(can_join_ensemble(r) for r in runs)
                                            and not building)
        if any(getattr(r, "is_ensemble", False) for r in runs):  # not trained: no curves, nothing to continue
            for key in ("open", "compare", "continue", "report"):
                self.buttons[key].setEnabled(False)
