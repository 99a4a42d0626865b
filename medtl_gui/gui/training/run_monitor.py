"""The run monitor: live curves, throughput and time left, confusion matrix, ROC, per-class table, overlays.

Fed by the :class:`TrainingSession`'s signals (pushed by the worker, never
polled). Curves redraw on a ~15 Hz timer; the matrix, ROC and table change
once per epoch. A finished run from the history can be shown again
(``show_run``) and compared with another (``compare_with``).
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from medtl_gui.core.evaluation.headline import RunHeadline, run_headline
from medtl_gui.core.tasks import TASKS
from medtl_gui.gui.training.confusion_matrix_view import ConfusionMatrixView
from medtl_gui.gui.training.curves import TrainingCurves
from medtl_gui.core.evaluation.epoch_figures import ValidationFigures, per_class_figures
from medtl_gui.gui.training.per_class_table import PerClassTable
from medtl_gui.gui.training.roc_view import RocView
from medtl_gui.gui.training.run_progress import BatchProgress, EpochReport, RunOutcome, budget_text
from medtl_gui.core.runs.history import RunSummary, duration_text
from medtl_gui.gui.training.segmentation_strip import SegmentationStrip


class RunMonitor(QWidget):
    """Shows one run. ``pause_requested``/``resume_requested``/``stop_requested`` from its buttons;
    ``images_requested(title, image_ids)`` when a confusion-matrix cell is clicked."""

    pause_requested = Signal()
    resume_requested = Signal()
    stop_requested = Signal()
    images_requested = Signal(str, list)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.task = "classification"
        self.class_names: list[str] = []
        self.validation_figures: ValidationFigures | None = None
        self.last_epoch: EpochReport | None = None
        self.best_epoch: EpochReport | None = None
        self.run_dir: str | None = None
        self.batches_per_epoch = 1
        self.paused = False
        self._message_log: list[str] = []

        self.title = QLabel("No run yet: choose settings in the Training panel and press Start")
        self.title.setObjectName("run-title")
        self.title.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setMinimumWidth(230)
        self.progress.setMaximumWidth(300)
        self.stats = QLabel("")
        self.stats.setObjectName("run-stats")
        style = self.style()
        self.pause_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaPause), "Pause")
        self.pause_button.clicked.connect(self._on_pause_clicked)
        self.stop_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaStop), "Stop")
        self.stop_button.clicked.connect(self.stop_requested)
        self.set_controls(False)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.stats)
        header.addWidget(self.progress)
        header.addWidget(self.pause_button)
        header.addWidget(self.stop_button)

        self.curves = TrainingCurves()
        self.confusion = ConfusionMatrixView()
        self.confusion.cell_clicked.connect(self._on_cell_clicked)
        self.roc = RocView()
        self.per_class = PerClassTable()
        self.strip = SegmentationStrip()
        self.messages = QLabel("")
        self.messages.setStyleSheet("color: #9aa0a6;")
        self.headline = QLabel("")  # the finished run's honest headline (selection metric, recall per class)
        self.headline.setObjectName("run-headline")
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.headline.hide()
        classification = QSplitter(Qt.Orientation.Horizontal)
        classification.addWidget(self.confusion)
        classification.addWidget(self.roc)
        classification.addWidget(self.per_class)
        classification.setSizes([300, 300, 360])
        self.details = QStackedWidget()
        self.details.addWidget(classification)
        self.details.addWidget(self.strip)
        self.details.addWidget(QLabel("Regression runs: see the MAE curve above."))
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.curves)
        splitter.addWidget(self.details)
        splitter.setChildrenCollapsible(False)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        self.details.setMinimumHeight(170)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        layout.addWidget(self.headline)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.messages)

    # -- live run ------------------------------------------------------------------------
    def begin(self, task: str, class_names: list[str], title: str, epochs: int | None = None,
              lr: float | None = None) -> None:
        """Clear everything for a new run of ``task`` (``epochs`` and ``lr`` fix the curves' axes)."""
        self.task = task
        self.class_names = list(class_names)
        self.validation_figures = None
        self.last_epoch = self.best_epoch = None
        self.run_dir = None
        self.paused = False
        self.curves.reset(task)
        self.curves.start_live(epochs, lr)
        self.confusion.set_matrix(None, [])
        self.roc.clear()
        self.per_class.set_figures(None)
        self.strip.clear()
        self.details.setCurrentIndex({"classification": 0, "segmentation": 1}.get(task, 2))
        self.title.setText(title)
        self.stats.setText("starting: importing the engine and reading labels…")
        self._message_log = []
        self.messages.setText("")
        self.show_headline(None)
        self.progress.setRange(0, 0)
        self.set_controls(True)

    def on_run_started(self, event: Any) -> None:
        """The engine's ``RunStarted``: the run folder, device, sizes."""
        self.run_dir = event.run_dir
        self.batches_per_epoch = max(1, int(event.batches_per_epoch))
        self.progress.setRange(0, max(1, event.epochs * self.batches_per_epoch))
        self.progress.setValue(event.start_epoch * self.batches_per_epoch)
        self.progress.setFormat("epoch %v/%m")
        self.title.setText(f"{self.title.text().split(' — ')[0]} — {event.run_id} on {event.device} "
                           f"({event.precision}) · {event.n_train} training, {event.n_val} validation images")
        if getattr(event, "time_budget_s", None):
            self.stats.setText(f"time budget {event.time_budget_s / 60:g} min: {event.epochs} epochs planned")

    def on_batches(self, progress: BatchProgress) -> None:
        """Batches since the last update: curves, progress, images/s, ETA."""
        n = max(1, progress.n_batches)
        self.batches_per_epoch = n
        self.curves.add_batches([s / n for s in progress.steps], progress.losses, progress.learning_rates)
        total = max(1, progress.epochs * n)
        self.progress.setRange(0, total)
        self.progress.setValue(min(total, progress.steps[-1]))
        self.progress.setFormat(f"epoch {progress.epoch + 1}/{progress.epochs} · batch {progress.batch + 1}/{n}")
        task = TASKS.get(self.task)
        unit = "patches/s" if task is not None and task.counts_patches else "images/s"
        rate = "–" if progress.items_per_s is None else f"{progress.items_per_s:,.0f} {unit}"
        eta = "–" if progress.eta_s is None else duration_text(progress.eta_s)
        state = "paused · " if self.paused else ""
        self.stats.setText(f"{state}loss {progress.losses[-1]:.4f} · {rate} · ETA {eta} · "
                           f"elapsed {duration_text(progress.elapsed_s)}{budget_text(progress)}")

    def on_epoch(self, report: EpochReport) -> None:
        """An epoch ended: epoch curves, confusion matrix, per-class table."""
        self.last_epoch = report
        if report.is_best:
            self.best_epoch = report
        self.curves.add_epoch(report.epoch, report.metrics)
        if report.confusion_matrix is not None and report.class_names:
            self.class_names = report.class_names
            self.confusion.set_matrix(report.confusion_matrix, report.class_names, report.epoch)
            self.per_class.set_figures(report.per_class)

    def on_validation(self, figures: ValidationFigures) -> None:
        """Validation predictions of an epoch: ROC curves and the images behind matrix cells."""
        self.validation_figures = figures
        self.roc.set_curves(figures.curves, figures.epoch)

    def on_overlays(self, overlays: list) -> None:
        """Segmentation: validation images with predicted and true masks."""
        epoch = self.last_epoch.epoch if self.last_epoch is not None else None
        self.strip.set_overlays(overlays, epoch)

    def on_message(self, text: str, level: str) -> None:
        """An engine message (automatic choices, fallbacks)."""
        self._message_log.append(("⚠ " if level == "warning" else "") + text)
        self.messages.setText(self._message_log[-1])
        self.messages.setToolTip("\n".join(self._message_log[-30:]))

    def on_state(self, state: str) -> None:
        """The session's state: running, paused, stopping, idle."""
        self.paused = state == "paused"
        self.pause_button.setText("Resume" if self.paused else "Pause")
        icon = QStyle.StandardPixmap.SP_MediaPlay if self.paused else QStyle.StandardPixmap.SP_MediaPause
        self.pause_button.setIcon(self.style().standardIcon(icon))
        if state == "stopping":
            self.stats.setText("stopping after the current batch…")
            self.stop_button.setEnabled(False)
        if state == "paused":
            self.stats.setText("paused · " + self.stats.text().removeprefix("paused · "))

    def on_finished(self, outcome: RunOutcome) -> None:
        """The run ended (any status)."""
        self.curves.stop_live()
        self.set_controls(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if outcome.status in ("completed", "early_stopped") else 0)
        self.progress.setFormat(outcome.status.replace("_", " "))
        best = "" if outcome.best_metric is None else f" · best {outcome.report.get('monitor', 'metric')} " \
                                                       f"{outcome.best_metric:.3f}"
        text = {"completed": "finished", "early_stopped": "stopped early", "cancelled": "stopped by you",
                "failed": "FAILED"}.get(outcome.status, outcome.status)
        seconds = outcome.report.get("seconds")
        took = f" after {duration_text(seconds)}" if isinstance(seconds, (int, float)) else ""
        self.stats.setText(f"{text}{took}{best}")
        headline = self._finished_headline(outcome)
        self.show_headline(headline)
        for warning in headline.warnings if headline is not None else []:
            self.on_message(warning, "warning")
        if outcome.failed:
            self.on_message(f"{outcome.error} — {outcome.hint}", "warning")

    def set_controls(self, active: bool) -> None:
        """Enable pause/stop while a run is active."""
        self.pause_button.setEnabled(active)
        self.stop_button.setEnabled(active)
        if not active:
            self.pause_button.setText("Pause")

    # -- finished runs ---------------------------------------------------------------------
    def show_run(self, summary: RunSummary, epochs: list[dict[str, Any]], figures: ValidationFigures | None) -> None:
        """A run from the history: its epoch curves, last confusion matrix, kept validation predictions."""
        self.task = summary.task
        self.run_dir = str(summary.path)
        self.curves.stop_live()
        self.curves.show_epochs(summary.task, epochs)
        self.details.setCurrentIndex({"classification": 0, "segmentation": 1}.get(summary.task, 2))
        self.title.setText(f"Run {summary.run_id} — {summary.config_text()}")
        self.stats.setText(f"{summary.status.replace('_', ' ')} · {summary.duration_text()} · best "
                           f"{summary.best_text()}")
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if summary.status in ("completed", "early_stopped") else 0)
        self.progress.setFormat(summary.status.replace("_", " "))
        self.set_controls(False)
        self.show_headline(summary.headline)
        with_matrix = [r for r in epochs if r.get("confusion_matrix")]
        names = (figures.class_names if figures else None) or list(self.class_names)
        self.validation_figures = figures
        if with_matrix and names and len(with_matrix[-1]["confusion_matrix"]) == len(names):
            last = with_matrix[-1]
            self.class_names = names
            self.confusion.set_matrix(last["confusion_matrix"], names, int(last.get("epoch", 0)))
            self.per_class.set_figures(per_class_figures(last["confusion_matrix"], names))
        else:
            self.confusion.set_matrix(None, [])
            self.per_class.set_figures(None)
        if figures is not None:
            self.roc.set_curves(figures.curves, figures.epoch)
        else:
            self.roc.clear()
        self.strip.clear()

    def compare_with(self, summary: RunSummary, epochs: list[dict[str, Any]]) -> None:
        """Overlay another run's epoch curves (dashed)."""
        self.curves.add_comparison(summary.run_id[-24:], epochs)
        self.title.setText(self.title.text() + f"  ⟷  compared with {summary.run_id} (dashed)")

    def show_headline(self, headline: RunHeadline | None) -> None:
        """Show (or hide, None) the run's headline: selection metric, balanced accuracy, recall per class."""
        if headline is None:
            self.headline.clear()
            self.headline.hide()
            return
        warnings = "".join(f"<br><b>⚠ {html.escape(w)}</b>" for w in headline.warnings)
        self.headline.setText(f"{html.escape(headline.text().removesuffix(' ⚠'))}{warnings}")
        self.headline.setStyleSheet("color: #e8a33d;" if headline.warnings else "")
        self.headline.setToolTip(f"Figures of the {headline.source}. The selection metric alone can look perfect "
                                 "while a class is never found at the threshold the model decides with.")
        self.headline.show()

    def _finished_headline(self, outcome: RunOutcome) -> RunHeadline | None:
        """The headline of a run that just ended: its report, else the best epoch seen live."""
        best = self.best_epoch
        epochs = [] if best is None or best.confusion_matrix is None else \
            [{"epoch": best.epoch, "confusion_matrix": best.confusion_matrix}]
        report = dict(outcome.report)
        report.setdefault("class_names", self.class_names)
        try:
            return run_headline(report, epochs, {"config": {"task": self.task}})
        except (TypeError, ValueError):
            return None

    # -- internals -----------------------------------------------------------------------
    def _on_pause_clicked(self) -> None:
        (self.resume_requested if self.paused else self.pause_requested).emit()

    def _on_cell_clicked(self, true_index: int, predicted_index: int) -> None:
        names = self.class_names
        title = f"true {names[true_index]} → predicted {names[predicted_index]}"
        figures = self.validation_figures
        if figures is None or figures.class_names != names:
            self.on_message("No validation predictions kept for this matrix: the images cannot be listed", "warning")
            return
        ids = figures.image_ids_in_cell(true_index, predicted_index)
        self.images_requested.emit(title, ids)
