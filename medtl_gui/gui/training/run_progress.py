"""The engine's events turned into what the run monitor draws (no Qt): batches coalesced, epochs summarised.

:class:`ProgressRelay` is the event sink the worker hands to ``train``. It
runs on the training thread, so everything costly happens there: batch
events are gathered and passed on at most every ``min_interval_s`` (10 Hz),
with the throughput and time left; each epoch gets its per-class figures;
validation predictions get their ROC curves. The sink it feeds (the
worker) only emits the results as Qt signals.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from medtl_gui.core.training.events import (
    BatchEnd,
    EpochEnd,
    Message,
    PlanChanged,
    RunFailed,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    ValidationSamples,
)
from medtl_gui.core.evaluation.epoch_figures import (
    ClassFigures,
    ValidationFigures,
    ValidationPrediction,
    per_class_figures,
    validation_figures,
)


@dataclass(frozen=True)
class BatchProgress:
    """Batches finished since the last update, with where the run stands."""

    epoch: int
    batch: int
    n_batches: int
    epochs: int
    steps: list[int]
    losses: list[float]
    learning_rates: list[float]
    items_per_s: float | None  # images (segmentation: patches) per second, recent batches
    eta_s: float | None  # seconds left, validation included
    elapsed_s: float
    budget_s: float | None = None  # the run's time budget (None: none)
    budget_left_s: float | None = None  # seconds of it left (negative when over)


def budget_text(progress: BatchProgress) -> str:
    """`` · budget 10 min, 6 min 12 s left`` for a budgeted run, else empty (the run monitor's stats line)."""
    if not progress.budget_s or progress.budget_left_s is None:
        return ""
    from medtl_gui.core.training.console_progress import budget_left_text

    return " · " + budget_left_text(progress.budget_s, progress.budget_s - progress.budget_left_s)


@dataclass(frozen=True)
class EpochReport:
    """One finished epoch: the engine's flat metrics, its confusion matrix and per-class figures."""

    epoch: int
    epochs: int
    step: int
    metrics: dict[str, float | None]
    confusion_matrix: list[list[int]] | None
    class_names: list[str]
    per_class: list[ClassFigures] | None
    is_best: bool
    trainable_stages: list[str]


@dataclass
class RunOutcome:
    """How a run ended (always the worker's last word). ``status``: completed, early_stopped, cancelled, failed."""

    status: str
    run_dir: str | None
    best_epoch: int | None = None
    best_metric: float | None = None
    report: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    details: str = ""
    hint: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "failed"


class ProgressSink(Protocol):
    """Where the relay delivers (the worker, which emits each as a Qt signal)."""

    def run_started(self, event: RunStarted) -> None: ...
    def batches(self, progress: BatchProgress) -> None: ...
    def epoch_finished(self, report: EpochReport) -> None: ...
    def validation(self, figures: ValidationFigures) -> None: ...
    def message(self, text: str, level: str) -> None: ...
    def paused(self) -> None: ...
    def resumed(self) -> None: ...


def error_hint(reason: str) -> str:
    """What the user can do about a failed run, from its one-line reason."""
    text = reason.lower()
    if "out of memory" in text or "outofmemory" in text:
        return "Lower the batch size or the image size, or train on the CPU (device 'cpu')."
    if "diverged" in text or "loss became" in text or " nan" in text:
        return "The loss became NaN: lower the learning rate (e.g. by 10x) or check the images for corrupt values."
    if "scanreaderror" in text or "cannot read" in text or "unreadable" in text or "no such file" in text:
        return ("An image could not be read: find it in the browser, fix or remove it (or clear its label), "
                "then start again.")
    if "weights" in text:
        return "Import the pretrained weights (File ▸ Settings shows the weight store) or choose 'None'."
    return "The project and its labels are unchanged; correct the setting named above and start again."


class ProgressRelay:
    """An engine event sink (callable) feeding a :class:`ProgressSink`, on the training thread.

    ``items_per_batch`` overrides the images per batch the relay derives
    from ``RunStarted`` (segmentation trains on patches).
    """

    def __init__(self, sink: ProgressSink, class_names: list[str], *, min_interval_s: float = 0.1,
                 items_per_batch: float | None = None, on_epoch: Callable[[EpochEnd], None] | None = None,
                 clock: Callable[[], float] = time.perf_counter):
        self.sink = sink
        self.class_names = list(class_names)
        self.min_interval_s = min_interval_s
        self.items_per_batch = items_per_batch
        self.on_epoch = on_epoch
        self.clock = clock
        self.run_dir: str | None = None
        self.finished: RunFinished | None = None
        self.failure: RunFailed | None = None
        self.epochs = 0
        self.step = 0
        self._started = clock()
        self._last_flush = -1e9
        self._pending: list[BatchEnd] = []
        self._recent: deque[tuple[float, int]] = deque(maxlen=50)  # (time, step) within the epoch
        self._train_end: float | None = None
        self._validation_seconds: list[float] = []
        self._batches_per_epoch = 1
        self._budget_s: float | None = None
        self._budget_origin = self._started  # the clock's time at which the run's budget began

    def __call__(self, event: Any) -> None:
        if isinstance(event, BatchEnd):
            self._on_batch(event)
        elif isinstance(event, EpochEnd):
            self._on_epoch(event)
        elif isinstance(event, ValidationSamples):
            self._on_samples(event)
        elif isinstance(event, RunStarted):
            self._on_started(event)
        elif isinstance(event, Message):
            if isinstance(event, PlanChanged):
                self.epochs = event.epochs
            self.sink.message(event.text, event.level)
        elif isinstance(event, RunPaused):
            self._flush()
            self.sink.paused()
        elif isinstance(event, RunResumed):
            self._recent.clear()
            self._recent.append((self.clock(), self.step))
            self.sink.resumed()
        elif isinstance(event, RunFinished):
            self._flush()
            self.finished = event
            self.run_dir = event.run_dir
        elif isinstance(event, RunFailed):
            self._flush()
            self.failure = event
            self.run_dir = event.run_dir or self.run_dir

    # -- events ----------------------------------------------------------------------
    def _on_started(self, event: RunStarted) -> None:
        self.run_dir = event.run_dir
        self.epochs = event.epochs
        self._batches_per_epoch = max(1, event.batches_per_epoch)
        if self.items_per_batch is None:
            self.items_per_batch = event.n_train / self._batches_per_epoch if event.n_train else None
        self._started = self.clock()
        self._budget_s = event.time_budget_s
        self._budget_origin = self._started - event.elapsed_s
        self._recent.clear()
        self._recent.append((self._started, 0))
        self.sink.run_started(event)

    def _on_batch(self, event: BatchEnd) -> None:
        now = self.clock()
        self.step = event.step
        self._batches_per_epoch = max(1, event.n_batches)
        if not self._recent:
            self._recent.append((now, event.step - 1))
        self._recent.append((now, event.step))
        self._pending.append(event)
        if event.batch == event.n_batches - 1:
            self._train_end = now
        if now - self._last_flush >= self.min_interval_s or event.batch == event.n_batches - 1:
            self._flush(now)

    def _flush(self, now: float | None = None) -> None:
        if not self._pending:
            return
        now = self.clock() if now is None else now
        last = self._pending[-1]
        progress = BatchProgress(
            epoch=last.epoch, batch=last.batch, n_batches=last.n_batches, epochs=self.epochs,
            steps=[e.step for e in self._pending], losses=[e.loss for e in self._pending],
            learning_rates=[e.lr for e in self._pending], items_per_s=self._rate(),
            eta_s=self._eta(last), elapsed_s=now - self._started, budget_s=self._budget_s,
            budget_left_s=None if self._budget_s is None else self._budget_s - (now - self._budget_origin),
        )
        self._pending = []
        self._last_flush = now
        self.sink.batches(progress)

    def _seconds_per_step(self) -> float | None:
        if len(self._recent) < 2:
            return None
        (t0, s0), (t1, s1) = self._recent[0], self._recent[-1]
        return (t1 - t0) / (s1 - s0) if s1 > s0 and t1 > t0 else None

    def _rate(self) -> float | None:
        per_step = self._seconds_per_step()
        if per_step is None or not self.items_per_batch:
            return None
        return self.items_per_batch / per_step

    def _eta(self, last: BatchEnd) -> float | None:
        per_step = self._seconds_per_step()
        if per_step is None or not self.epochs:
            return None
        epochs_left = max(0, self.epochs - last.epoch - 1)
        steps_left = (last.n_batches - last.batch - 1) + epochs_left * last.n_batches
        validation = (sum(self._validation_seconds) / len(self._validation_seconds)) if self._validation_seconds else 0.0
        return steps_left * per_step + (epochs_left + 1) * validation

    def _on_epoch(self, event: EpochEnd) -> None:
        self._flush()
        now = self.clock()
        if self._train_end is not None:
            self._validation_seconds.append(max(0.0, now - self._train_end))
        per_class = None
        if event.confusion_matrix and len(event.confusion_matrix) == len(self.class_names):
            per_class = per_class_figures(event.confusion_matrix, self.class_names)
        self.sink.epoch_finished(EpochReport(
            epoch=event.epoch, epochs=self.epochs, step=self.step, metrics=dict(event.metrics),
            confusion_matrix=event.confusion_matrix, class_names=list(self.class_names), per_class=per_class,
            is_best=event.is_best, trainable_stages=list(event.trainable_stages),
        ))
        if self.on_epoch is not None:
            self.on_epoch(event)
        self._recent.clear()
        self._recent.append((self.clock(), self.step))

    def _on_samples(self, event: ValidationSamples) -> None:
        if not self.class_names:
            return
        predictions = [ValidationPrediction(str(s.image_id), str(s.true_label), str(s.predicted_label),
                                            tuple(float(p) for p in s.probabilities)) for s in event.samples]
        self.sink.validation(validation_figures(event.epoch, self.class_names, predictions))
        self._recent.clear()
        self._recent.append((self.clock(), self.step))
