"""The training worker: a ``QObject`` moved to a ``QThread`` that runs the one core engine.

Everything it needs arrives in a :class:`TrainRequest` made on the GUI
thread before the thread starts (the config is a copy; the worker never
reads a widget). On its thread it freezes the labels
(the task's ``project_data``), imports torch, sets the number of CPU
threads, keeps the garbage collector off long-lived objects (full
collections hold the GIL and would stall the GUI thread), and calls
``train`` with a :class:`ProgressRelay` whose results it emits as signals;
Qt queues them to the GUI thread. Whatever happens, ``finished`` comes last
with a :class:`RunOutcome`; failures are also logged in the run folder.
"""

from __future__ import annotations

import gc
import logging
import threading
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from medtl_gui.core.runs import RunRecord
from medtl_gui.core.training.config import TrainConfig
from medtl_gui.core.training.control import RunControl
from medtl_gui.gui.training.run_progress import (
    BatchProgress,
    EpochReport,
    ProgressRelay,
    RunOutcome,
    error_hint,
)

LOG = logging.getLogger("medtl_gui.training")
#: file in the project's runs/ folder for failures that happen before a run folder exists
EARLY_ERRORS_LOG = "training-errors.log"


@dataclass(frozen=True)
class TrainRequest:
    """Everything one GUI run needs, fixed before its thread starts."""

    config: TrainConfig
    project: Any  # the open project store (thread-safe: one SQLite connection per thread)
    weights_dir: str | None = None
    run_dir: Path | None = None
    resume_from: Path | None = None
    threads: int | None = None  # torch CPU threads (None: training_threads())
    overlay_images: int = 4  # segmentation: validation images drawn with their masks each epoch

    @property
    def runs_dir(self) -> Path:
        """The project's runs folder."""
        return Path(self.project.folder) / "runs"


class WorkerSink:
    """The relay's ``ProgressSink``: passes each result on as the worker's signal (on the training thread)."""

    def __init__(self, worker: "TrainingWorker"):
        self.worker = worker

    def run_started(self, event: Any) -> None:
        freeze_long_lived_objects()  # the model, data and engine now exist
        self.worker.run_started.emit(event)

    def batches(self, progress: BatchProgress) -> None:
        self.worker.batches.emit(progress)

    def epoch_finished(self, report: EpochReport) -> None:
        self.worker.epoch_finished.emit(report)

    def validation(self, figures: Any) -> None:
        self.worker.keep_validation(figures)
        self.worker.validation.emit(figures)

    def message(self, text: str, level: str) -> None:
        self.worker.message.emit(text, level)

    def paused(self) -> None:
        self.worker.paused.emit()

    def resumed(self) -> None:
        self.worker.resumed.emit()


class TrainingWorker(QObject):
    """Runs one training request on the thread it was moved to (see the module docstring)."""

    run_started = Signal(object)  # core RunStarted
    batches = Signal(object)  # BatchProgress
    epoch_finished = Signal(object)  # EpochReport
    validation = Signal(object)  # ValidationFigures
    overlays = Signal(object)  # list[SegmentationOverlay]
    message = Signal(str, str)  # text, level
    paused = Signal()
    resumed = Signal()
    finished = Signal(object)  # RunOutcome, always the last signal

    def __init__(self, request: TrainRequest, control: RunControl):
        super().__init__()
        self.request = request
        self.control = control
        self._relay: ProgressRelay | None = None

    # -- the run -------------------------------------------------------------------------
    @Slot()
    def run(self) -> None:
        """Train (on this object's thread) and emit ``finished`` with the outcome."""
        threading.current_thread().name = "medtl-training"
        try:
            outcome = self._train()
        except BaseException as exc:  # noqa: BLE001 - the GUI must hear about every failure
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            run_dir = self._relay.run_dir if self._relay is not None else None
            outcome = RunOutcome("failed", run_dir, error=reason, details=traceback.format_exc(),
                                 hint=error_hint(reason))
        if outcome.failed:
            self._log_failure(outcome)
        self.finished.emit(outcome)

    def _train(self) -> RunOutcome:
        from medtl_gui.core.tasks import task_for_config
        from medtl_gui.gui.training.training_data import OverlayMaker

        request, config = self.request, self.request.config
        task = task_for_config(config)
        data = task.project_data(request.project)  # first: the labels as Start found them
        self.message.emit(f"labels frozen for this run: {_split_sizes(data)}", "info")

        import torch  # first import on this thread, never on the GUI thread

        from medtl_gui.core.models.weights import WeightStore
        from medtl_gui.core.training import train
        from medtl_gui.core.training.setup_checks import training_threads

        torch.set_num_threads(request.threads or training_threads())
        import_validation_metrics()
        freeze_long_lived_objects()
        on_epoch = None
        if task.shows_overlays and request.overlay_images > 0:
            maker = OverlayMaker(data, request.overlay_images, config.device)
            on_epoch = lambda _event: self._emit_overlays(maker)  # noqa: E731
        class_names = list(data.class_names) if task.prediction_output == "table" else []  # per-class figures
        items_per_batch = float(config.batch_size) if task.counts_patches else None  # patches
        self._relay = ProgressRelay(WorkerSink(self), class_names, items_per_batch=items_per_batch, on_epoch=on_epoch)
        store = WeightStore(request.weights_dir) if request.weights_dir else WeightStore()
        result = train(config, data, self._relay, self.control, run_dir=request.run_dir,
                       resume_from=request.resume_from, weight_store=store)
        run_dir = str(result.run_dir) if result.run_dir is not None else self._relay.run_dir
        details = RunRecord(run_dir).error_text() if result.status == "failed" and run_dir else ""
        error = result.error
        return RunOutcome(result.status, run_dir, result.best_epoch, result.best_metric, dict(result.report),
                          error, details, error_hint(error) if error else "")

    def _emit_overlays(self, maker: Any) -> None:
        if self._relay is None or self._relay.run_dir is None:
            return
        try:
            self.overlays.emit(maker.make(self._relay.run_dir))
        except Exception as exc:  # noqa: BLE001 - a preview must never stop the run
            self.message.emit(f"validation overlays unavailable: {exc}", "warning")

    def keep_validation(self, figures: Any) -> None:
        """Keep the latest validation predictions in the run folder (for reopening the run later)."""
        if self._relay is None or not self._relay.run_dir:
            return
        try:
            RunRecord(self._relay.run_dir).write_validation(figures.to_json())
        except OSError as exc:
            LOG.warning("cannot keep validation predictions in %s: %s", self._relay.run_dir, exc)

    def _log_failure(self, outcome: RunOutcome) -> None:
        """Log to Python logging and a file: the run's ``gui-error.log``, else ``runs/training-errors.log``."""
        LOG.error("training failed: %s\n%s", outcome.error, outcome.details)
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        text = f"{stamp} {outcome.error}\n{outcome.details}\n"
        try:
            if outcome.run_dir and Path(outcome.run_dir).is_dir():
                path = RunRecord(outcome.run_dir).append_gui_error(text)
            else:
                path = self.request.runs_dir / EARLY_ERRORS_LOG
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "a", encoding="utf-8") as stream:
                    stream.write(text)
            outcome.details = outcome.details or text
            outcome.report.setdefault("error_log", str(path))
        except OSError as exc:
            LOG.error("cannot write the training error log: %s", exc)


def _split_sizes(data: Any) -> str:
    """e.g. ``8 train, 2 val, 0 test images``."""
    sizes = [f"{len(getattr(data, name) or [])} {name}" for name in ("train", "val", "test")]
    return ", ".join(sizes) + " images"


def import_validation_metrics() -> None:
    """Import what the engine would import at the first validation (torchmetrics pulls in scipy: ~2,000 modules).

    Imports hold the GIL while they load libraries; done here, while the
    monitor says "starting", instead of stalling the GUI thread in the
    middle of the first epoch.
    """
    import torchmetrics.functional.classification  # noqa: F401


def freeze_long_lived_objects() -> None:
    """Move every object alive now out of the garbage collector's reach (``gc.freeze``).

    With torch, the widgets and the engine loaded, a full collection walks
    millions of objects while holding the GIL: a few hundred milliseconds in
    which the GUI thread cannot run (measured: a 310 ms stall). Frozen objects
    are the long-lived ones (modules, model, data); later full collections
    only walk what the run creates.
    """
    gc.freeze()
