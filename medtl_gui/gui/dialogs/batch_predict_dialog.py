"""Train ▸ Predict folder…: run a trained model over scan files and folders into a CSV (and mask files).

The dialog collects the run, the inputs (files, folders, DICOM series
folders), the output CSV and, for segmentation runs, the mask format;
:func:`medtl_gui.core.inference.prediction_batch.predict_paths` does the
work in a :class:`~medtl_gui.gui.background.BackgroundJob` (the same code as
``medtl predict``), with a progress bar and Cancel. Afterwards the dialog
lists every file that could not be predicted with the reason, and offers to
open the CSV's folder (``opener`` is injectable for tests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QMessageBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medtl_gui.core.runs import RunRecord
from medtl_gui.core.tasks import TASKS
from medtl_gui.gui.background import BackgroundJob

TTA_TITLES = (("none", "None"), ("flips", "Flips"), ("flips+rot", "Flips and rotations"),
              ("full", "Flips, rotations and zooms"))
MASK_FORMAT_TITLES = (("png", "PNG (2D label images)"), ("nifti", "NIfTI (with the scan's geometry)"),
                      ("dicom-seg", "DICOM SEG (DICOM sources)"))


def open_folder(path: Path) -> bool:
    """Show a folder in the desktop's file manager."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def run_folders(runs_dir: Path | None) -> list[Path]:
    """Run folders with a checkpoint under ``runs_dir``, newest first."""
    if runs_dir is None or not Path(runs_dir).is_dir():
        return []
    runs = [run.path for run in map(RunRecord, Path(runs_dir).iterdir())
            if RunRecord.is_run(run.path) and run.checkpoints.is_dir() and any(run.checkpoints.iterdir())]
    return sorted(runs, key=lambda p: p.name, reverse=True)


def run_task_of(run_dir: Path) -> str:
    """The task of a run folder (classification when it cannot be read)."""
    return RunRecord(run_dir).task


def predicts_masks(run_dir: Path) -> bool:
    """Whether the run's task predicts masks (segmentation) rather than a table (a class or value per image)."""
    task = TASKS.get(run_task_of(run_dir))
    return task is not None and task.prediction_output == "masks"


class BatchPredictDialog(QDialog):
    """Settings, progress and summary of one batch prediction; ``finished_prediction(result)`` at the end."""

    finished_prediction = Signal(object)  # BatchPredictionResult

    def __init__(self, parent: QWidget | None = None, runs_dir: Path | None = None, active_run: str | None = None,
                 opener: Callable[[Path], Any] = open_folder):
        super().__init__(parent)
        self.setWindowTitle("Predict folder")
        self.setMinimumWidth(640)
        self.opener = opener
        self.job: BackgroundJob | None = None
        self.result: Any = None
        self.run = QComboBox()
        self.run.setEditable(True)
        self.run.setToolTip("Run folder whose best checkpoint predicts")
        for folder in run_folders(runs_dir):
            self.run.addItem(folder.name, str(folder))
            if folder.name == active_run:
                self.run.setCurrentIndex(self.run.count() - 1)
        self.run.currentIndexChanged.connect(self._sync)
        self.run.editTextChanged.connect(self._sync)
        browse_run = QPushButton("Browse…")
        browse_run.clicked.connect(self._choose_run)
        self.inputs = QListWidget()
        self.inputs.setToolTip("Files and folders (searched recursively; a DICOM series counts as one scan)")
        add_files, add_folder, remove = QPushButton("Add files…"), QPushButton("Add folder…"), QPushButton("Remove")
        add_files.clicked.connect(self._choose_files)
        add_folder.clicked.connect(self._choose_folder)
        remove.clicked.connect(lambda: [self.inputs.takeItem(self.inputs.row(i)) for i in self.inputs.selectedItems()])
        self.output = QLineEdit()
        self.output.setPlaceholderText("predictions.csv")
        browse_out = QPushButton("Browse…")
        browse_out.clicked.connect(self._choose_output)
        self.mask_format = QComboBox()
        for key, title in MASK_FORMAT_TITLES:
            self.mask_format.addItem(title, key)
        self.tta = QComboBox()
        self.tta.setToolTip("Test-time augmentation: average the predictions of transformed copies "
                            "(segmentation runs: none or flips)")
        for key, title in TTA_TITLES:
            self.tta.addItem(title, key)
        self.include_out_of_scope = QCheckBox("Include images outside the model's scope")
        self.include_out_of_scope.setToolTip(
            "By default scans unlike the training images (another modality, a volume for a 2D model, colour for a "
            "grey model, far other pixel or image sizes) are skipped and listed with the reason. Tick to predict "
            "them anyway (classification runs).")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.status = QLabel("Choose a run, the scans to predict and where the CSV goes.")
        self.status.setWordWrap(True)
        self.failures = QTableWidget(0, 2)
        self.failures.setHorizontalHeaderLabels(["File", "Why it was not predicted"])
        self.failures.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.failures.verticalHeader().hide()
        self.failures.hide()
        self.start_button, self.cancel_button = QPushButton("Predict"), QPushButton("Cancel")
        self.open_button, close = QPushButton("Open CSV folder"), QPushButton("Close")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button.clicked.connect(self.open_output_folder)
        close.clicked.connect(self.close)
        form = QFormLayout()
        form.addRow("Run", _row(self.run, browse_run))
        inputs_buttons = QVBoxLayout()
        for button in (add_files, add_folder, remove):
            inputs_buttons.addWidget(button)
        inputs_buttons.addStretch(1)
        inputs_row = QHBoxLayout()
        inputs_row.addWidget(self.inputs, 1)
        inputs_row.addLayout(inputs_buttons)
        form.addRow("Scans", inputs_row)
        form.addRow("Output CSV", _row(self.output, browse_out))
        form.addRow("Mask format", self.mask_format)
        form.addRow("Test-time augmentation", self.tta)
        form.addRow("", self.include_out_of_scope)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        for button in (self.start_button, self.cancel_button, close):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.failures, 1)
        layout.addLayout(buttons)
        self._sync()

    # -- settings ---------------------------------------------------------------------------
    def run_dir(self) -> Path | None:
        """The chosen run folder."""
        data = self.run.currentData()
        text = data if data and self.run.currentText() == Path(data).name else self.run.currentText().strip()
        return Path(text) if text else None

    def set_run(self, run_dir: str | Path) -> None:
        """Choose a run folder (added to the list if new)."""
        path = Path(run_dir)
        index = self.run.findData(str(path))
        if index < 0:
            self.run.addItem(path.name, str(path))
            index = self.run.count() - 1
        self.run.setCurrentIndex(index)

    def add_inputs(self, paths: Sequence[str | Path]) -> None:
        """Add files or folders to predict."""
        present = {self.inputs.item(i).text() for i in range(self.inputs.count())}
        for path in paths:
            if str(path) not in present:
                self.inputs.addItem(str(path))
        self._sync()

    def input_paths(self) -> list[str]:
        """The files and folders to predict."""
        return [self.inputs.item(i).text() for i in range(self.inputs.count())]

    def set_output(self, path: str | Path) -> None:
        """The CSV file to write."""
        self.output.setText(str(path))

    # -- running ----------------------------------------------------------------------------
    def start(self) -> BackgroundJob | None:
        """Start predicting in the background (None, with the reason shown, when settings are missing)."""
        from medtl_gui.core.inference.prediction_batch import predict_paths

        run, inputs, output = self.run_dir(), self.input_paths(), self.output.text().strip()
        problem = ("Choose a run." if run is None or not RunRecord.is_run(run) else
                   "Add files or folders to predict." if not inputs else
                   "Choose where the CSV goes." if not output else None)
        if problem or self.job is not None:
            self.status.setText(problem or "A prediction is already running.")
            return None
        csv_path = Path(output).expanduser()
        mask_format, tta = self.mask_format.currentData(), self.tta.currentData()
        include = self.include_out_of_scope.isChecked()

        def work(progress: Callable[[int, int, str], None], cancel: Any) -> Any:
            return predict_paths(run, inputs, csv_path, mask_format=mask_format, tta=tta, progress=progress,
                                 cancel=cancel, include_out_of_scope=include)

        self.failures.hide()
        self.failures.setRowCount(0)
        self.progress.setRange(0, 0)
        self.status.setText(f"Predicting with run {run.name}…")
        job = BackgroundJob(work)
        job.progress.connect(self._on_progress)
        job.succeeded.connect(self._on_done)
        job.failed.connect(self._on_failed)
        self.job = job
        self._sync()
        return job.start()

    def cancel(self) -> None:
        """Stop after the scan being predicted (the CSV keeps what was done)."""
        if self.job is not None:
            self.job.cancel()
            self.status.setText("Stopping after the current scan…")

    def open_output_folder(self) -> None:
        """Show the folder of the written CSV."""
        if self.result is not None and self.result.csv_path is not None:
            self.opener(Path(self.result.csv_path).parent)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.cancel()
        super().closeEvent(event)

    # -- internals --------------------------------------------------------------------------
    def _on_progress(self, done: int, total: int, source: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))
        self.progress.setFormat(f"{done} / {total}")
        self.status.setText(f"Predicting {Path(source).name}…")

    def _on_done(self, result: Any) -> None:
        self.job, self.result = None, result
        self.progress.setRange(0, max(result.total, 1))
        self.progress.setValue(len(result.rows))
        self.progress.setFormat(f"{len(result.rows)} / {result.total}")
        failures = result.failures
        extra = f" Masks ({result.mask_format}) in {result.masks_dir}." if result.masks_dir else ""
        if getattr(result, "scope_note", None):
            extra += f" Note: {result.scope_note}."
        elif result.out_of_scope:
            extra += " Tick 'Include images outside the model's scope' to predict those outside it."
        self.status.setText(f"{result.text()}.{extra}"
                            + (f" {len(failures)} file(s) could not be predicted:" if failures else ""))
        self.failures.setRowCount(len(failures))
        for row, (source, reason) in enumerate(failures):
            self.failures.setItem(row, 0, QTableWidgetItem(source))
            self.failures.setItem(row, 1, QTableWidgetItem(reason))
        self.failures.setVisible(bool(failures))
        self._sync()
        self.finished_prediction.emit(result)

    def _on_failed(self, message: str, _details: str) -> None:
        self.job = None
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setText(f"Prediction failed: {message}")
        self._sync()

    def _sync(self) -> None:
        running = self.job is not None
        run = self.run_dir()
        masks = run is not None and predicts_masks(run)
        self.mask_format.setEnabled(masks and not running)
        self.include_out_of_scope.setEnabled(not masks and not running)
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.open_button.setEnabled(self.result is not None and self.result.csv_path is not None)

    def _choose_run(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a run folder")
        if folder:
            self.set_run(folder)

    def _choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Scans to predict")
        self.add_inputs(files)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of scans to predict")
        if folder:
            self.add_inputs([folder])

    def _choose_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Write predictions to", self.output.text() or "predictions.csv",
                                              "CSV files (*.csv)")
        if path:
            self.set_output(path)


def _row(*widgets: QWidget) -> QHBoxLayout:
    layout = QHBoxLayout()
    for i, widget in enumerate(widgets):
        layout.addWidget(widget, 1 if i == 0 else 0)
    return layout


def show_batch_predict_dialog(window: Any) -> BatchPredictDialog:
    """Open the dialog for the main window (the open project's runs offered, its active model chosen)."""
    project = getattr(window, "project", None)
    runs_dir = Path(project.folder) / "runs" if project is not None else None
    active = None
    if project is not None:
        from medtl_gui.core.runs.history import active_run_id

        active = active_run_id(project)
    dialog = BatchPredictDialog(window, runs_dir, active)
    window.batch_predict_dialog = dialog
    dialog.open()
    return dialog


def prediction_summary_box(parent: QWidget | None, summary: Any) -> QMessageBox:
    """The non-modal message at the end of *Apply model*: predicted, skipped (and why), disagreeing.

    ``summary`` is a :class:`~medtl_gui.gui.training.prediction_job.PredictionSummary`; the images
    that were not predicted are listed with their reasons under *Show Details*.
    """
    warn = bool(summary.out_of_scope or summary.failed or summary.cancelled)
    box = QMessageBox(QMessageBox.Icon.Warning if warn else QMessageBox.Icon.Information,
                      f"Apply model: run {summary.run_id}", summary.counts_text(), parent=parent)
    hints = []
    if summary.out_of_scope:
        hints.append("Images outside the model's scope were skipped: tick \"Include images outside the model's "
                     "scope\" in Train ▸ Run history to predict them anyway.")
    if summary.disagreeing:
        hints.append("The browser's filter \"Model disagrees with label\" lists the disagreeing images.")
    if summary.proposals and not summary.masks:  # class suggestions, confirmed in the browser
        hints.append("Suggestions appear in the browser: Enter confirms one.")
    box.setInformativeText("\n".join(hints))
    details = [f"outside the model's scope: {source}: {reason}" for source, reason in summary.out_of_scope]
    details += [f"unreadable: {source}: {reason}" for source, reason in summary.failed]
    if details:
        box.setDetailedText("\n".join(details))
    box.setModal(False)  # show it with show(): the labelling keys keep working in the main window
    box.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
    return box

