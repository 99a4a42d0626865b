"""One optimisation step, one training epoch, and prediction over a loader."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from medtl_gui.core.models.transfer_model import TransferModel
from medtl_gui.core.training.control import RunControl
from medtl_gui.core.training.device import ExecutionPlan
from medtl_gui.core.training.events import BatchEnd, Event, RunPaused, RunResumed
from medtl_gui.core.training.losses import TaskLoss, output_probabilities
from medtl_gui.core.training.retention import L2SPPenalty, LwFDistillation


class DivergedError(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class StepRunner:
    """Performs optimisation steps: forward (with autocast), combined loss, backward, update.

    ``L_total = alpha * L_pre + beta * L_new`` where ``L_new`` is the task
    loss and ``L_pre`` the retention term (L2-SP or LwF), if any. With
    ``features_mode`` the inputs are cached backbone features and only the
    head runs.
    """

    model: TransferModel
    plan: ExecutionPlan
    loss_fn: TaskLoss
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    retention: L2SPPenalty | LwFDistillation | None = None
    alpha: float = 0.0
    beta: float = 1.0
    features_mode: bool = False
    scaler: torch.amp.GradScaler | None = None
    #: domain adaptation (see domain_methods.py): adds its loss (or side update) to every step
    domain_objective: Any = None

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Head outputs and (in image mode) what the model gives with them (its backbone features)."""
        with self.plan.autocast():
            if self.features_mode:
                return self.model.head(inputs), None
            return self.model.outputs_and_features(inputs)

    def loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The combined loss of one batch (graph kept for backward)."""
        outputs, features = self.forward(inputs)
        total = self.beta * self.loss_fn(outputs, targets)
        if self.retention is not None and self.alpha > 0:
            if isinstance(self.retention, LwFDistillation):
                with self.plan.autocast():
                    retained = self.retention(inputs, features)
            else:
                retained = self.retention()
            total = total + self.alpha * retained
        if self.domain_objective is not None:
            extra = self.domain_objective.extra_loss(self, inputs, features)
            if extra is not None:
                total = total + extra
        return total

    def step(self, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        """One update; returns the batch's total loss."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(inputs, targets)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise DivergedError(f"the loss became {value}; lower the learning rate or check the data")
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        self.scheduler.step()
        return value

    @property
    def lr(self) -> float:
        """The head's current learning rate."""
        return float(self.optimizer.param_groups[-1]["lr"]) if self.optimizer.param_groups else 0.0


@dataclass
class EpochOutcome:
    """What one training epoch did."""

    mean_loss: float
    batches: int
    images: int
    seconds: float
    cancelled: bool
    step: int


def wait_if_paused(control: RunControl, emit: Callable[[Event], None], epoch: int, step: int) -> None:
    """Hold between batches while paused, reporting pause and resume."""
    if not control.paused:
        return
    emit(RunPaused(epoch, step))
    while control.paused and not control.cancelled:
        control.wait_while_paused(0.2)
    emit(RunResumed(epoch, step))


def run_training_epoch(
    runner: StepRunner,
    loader,
    epoch: int,
    step: int,
    control: RunControl,
    emit: Callable[[Event], None],
) -> EpochOutcome:
    """Train over ``loader`` once, checking cancel/pause before every batch."""
    n_batches = len(loader)
    losses: list[float] = []
    images = 0
    started = time.perf_counter()
    cancelled = False
    for batch, (inputs, targets) in enumerate(loader):
        wait_if_paused(control, emit, epoch, step)
        if control.cancelled:
            cancelled = True
            break
        inputs = runner.plan.to_device(inputs)
        targets = targets.to(runner.plan.device, non_blocking=True)
        loss = runner.step(inputs, targets)
        losses.append(loss)
        images += int(targets.shape[0])
        step += 1
        emit(BatchEnd(epoch=epoch, batch=batch, n_batches=n_batches, step=step, loss=loss, lr=runner.lr))
    if not cancelled and control.cancelled:
        cancelled = True
    return EpochOutcome(
        mean_loss=float(np.mean(losses)) if losses else float("nan"),
        batches=len(losses),
        images=images,
        seconds=time.perf_counter() - started,
        cancelled=cancelled,
        step=step,
    )


@dataclass
class Predictions:
    """Outputs over a whole loader: probabilities (or values), targets, mean task loss."""

    probabilities: np.ndarray
    targets: np.ndarray
    loss: float


@torch.no_grad()
def predict(runner: StepRunner, loader) -> Predictions:
    """Evaluate the model in eval mode over ``loader`` (no augmentation expected)."""
    was_training = runner.model.training
    runner.model.eval()
    outputs_all, targets_all, losses, counts = [], [], [], []
    try:
        for inputs, targets in loader:
            inputs = runner.plan.to_device(inputs)
            targets = targets.to(runner.plan.device)
            outputs, _ = runner.forward(inputs)
            losses.append(float(runner.loss_fn(outputs, targets)))
            counts.append(int(targets.shape[0]))
            outputs_all.append(output_probabilities(outputs, runner.model.head_kind).cpu().numpy())
            targets_all.append(targets.cpu().numpy())
    finally:
        runner.model.train(was_training)
    if not outputs_all:
        return Predictions(np.zeros((0, 0)), np.zeros(0), float("nan"))
    return Predictions(
        probabilities=np.concatenate(outputs_all).astype(np.float64),
        targets=np.concatenate(targets_all),
        loss=float(np.average(losses, weights=counts)),
    )
