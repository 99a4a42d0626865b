"""Progress events the engine emits: plain dataclasses, no Qt.

The GUI's worker turns each into a Qt signal; the CLI prints a progress
bar. An event sink is any callable taking one event, or an object with an
``emit(event)`` method.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass
class RunStarted:
    """The run folder exists and training is about to begin."""

    run_id: str
    run_dir: str
    device: str
    precision: str
    channels_last: bool
    n_train: int
    n_val: int
    batches_per_epoch: int
    epochs: int
    start_epoch: int  # 0 for a new run, later when resuming
    trainable_stages: list[str] = field(default_factory=list)
    time_budget_s: float | None = None  # the run's time budget (None: none), see time_budget.py
    elapsed_s: float = 0.0  # seconds the run had used when training began (data, model, budget probe)


@dataclass
class Message:
    """Something the user should know (fallbacks, automatic choices); ``level`` is info or warning."""

    text: str
    level: str = "info"


@dataclass
class PlanChanged(Message):
    """The run changed its number of epochs (a time budget re-planned); shown like a :class:`Message`."""

    epochs: int = 0


@dataclass
class BatchEnd:
    """One optimisation step finished. ``epoch`` and ``batch`` count from 0."""

    epoch: int
    batch: int
    n_batches: int
    step: int
    loss: float
    lr: float


@dataclass
class EpochEnd:
    """An epoch finished and was validated.

    ``metrics`` holds flat numbers: ``train_loss``, ``val_loss``,
    ``val_accuracy``, ``val_auc`` ... and ``lr``, ``seconds``;
    ``confusion_matrix`` is the validation matrix (rows: true class).
    """

    epoch: int
    metrics: dict[str, float | None]
    confusion_matrix: list[list[int]] | None
    is_best: bool
    trainable_stages: list[str]


@dataclass
class ValidationSample:
    """One validation prediction shown to the user."""

    image_id: str
    true_label: str | float
    predicted_label: str | float
    probabilities: list[float]


@dataclass
class ValidationSamples:
    """A few validation predictions after an epoch."""

    epoch: int
    samples: list[ValidationSample]


@dataclass
class RunPaused:
    """Training is paused between batches."""

    epoch: int
    step: int


@dataclass
class RunResumed:
    """Training continues after a pause."""

    epoch: int
    step: int


@dataclass
class RunFinished:
    """The run ended normally. ``status``: completed, early_stopped or cancelled."""

    status: str
    run_dir: str
    best_epoch: int | None
    best_metric: float | None
    report: dict[str, Any]


@dataclass
class RunFailed:
    """The run stopped on an error; ``reason`` is one readable line."""

    reason: str
    run_dir: str | None


Event = RunStarted | Message | BatchEnd | EpochEnd | ValidationSamples | RunPaused | RunResumed | RunFinished | RunFailed


@runtime_checkable
class EventSink(Protocol):
    """An object that receives events."""

    def emit(self, event: Event) -> None:
        """Handle one event (called on the training thread)."""


def as_callback(events: Callable[[Event], None] | EventSink | None) -> Callable[[Event], None]:
    """A plain callable for any accepted sink (``None`` discards events)."""
    if events is None:
        return lambda event: None
    if isinstance(events, EventSink):
        return events.emit
    if callable(events):
        return events
    raise TypeError(f"events must be a callable or have an emit() method, got {type(events).__name__}")
