"""Train within a time budget: time a short probe, choose the epochs (and maybe the image size), stop on time.

``TrainConfig.time_budget_minutes`` (``medtl train --time-budget M``, the
panel's *Time budget*) asks the run to finish within M minutes, counted from
the moment the engine starts (data already opened), and to use them:

1. **Probe** (:func:`probe_costs`): before the learning-rate schedule is
   built, a throwaway optimizer trains a few batches (the first one is a
   warm-up and not counted), one validation pass runs and one ``last``
   checkpoint is written to a scratch folder; the model's weights and
   batch-norm statistics are restored afterwards, so the probe leaves no
   trace in the run.
2. **Plan** (:func:`plan_budget`): an epoch costs its batches plus a
   validation pass plus its checkpoints; the end of the run costs a
   validation and a test pass on the best checkpoint plus
   :data:`END_RESERVE_S`. The epochs are what fits into
   :data:`SAFETY` (90%) of the time left, at least 1 and at most
   :data:`MAX_BUDGET_EPOCHS`. When even that cap leaves most of the budget
   unused, a larger image size is worth more than more epochs: a run whose
   image size is the recipe's grows it one step (64 -> 96 -> 128 px, cost
   assumed to scale with the pixel count) while the larger size still
   affords :data:`MIN_EPOCHS_AFTER_GROWTH` epochs. Feature extraction on
   cached features, segmentation and resumed runs keep their image size.
   A segmentation run's validation (whole images, sliding windows) is not
   probed: its first epochs are measured by the clock instead. A time
   budget is for single-process runs (not ``--nproc-per-node``); a resumed
   run trains the epochs chosen when it started.
3. **Clock** (:class:`BudgetClock`): after every epoch the run compares the
   plan with the epochs measured so far (mean epoch time, validation and
   checkpoints included). When the epochs the time left affords differ from
   the plan by more than :data:`REPLAN_TOLERANCE`, the run re-plans: the
   epoch count changes and the learning-rate schedule is stretched or
   shortened to the new number of steps (the probe may have run while the
   machine was busy, or the machine may get busy later). When not even one
   more epoch plus the end fits, it stops cleanly there, keeps the best
   checkpoint and runs the normal end-of-run evaluation (the report says so).

Early stopping (``early_stopping_patience``) still applies and may end a
budgeted run sooner; the recipes leave it off, so a budget normally uses
its time. The chosen epochs (and image size) are written back into the
run's ``config.json`` (``config`` and ``time_budget``), so the run can be
resumed, or repeated exactly with ``--epochs N``; how many fit depends on
the machine's speed.
"""

from __future__ import annotations

import copy
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: the most epochs a budget chooses (more rarely helps; a larger image size may use the time instead)
MAX_BUDGET_EPOCHS = 100
#: a larger image size is chosen only while it still affords this many epochs
MIN_EPOCHS_AFTER_GROWTH = 40
#: image sizes a recipe's run may grow to under a generous budget
GROWTH_SIZES = (64, 96, 128)
#: share of the remaining time the plan fills (the rest absorbs timing noise)
SAFETY = 0.9
#: re-plan when the measured epochs afford this share more or fewer epochs than planned
REPLAN_TOLERANCE = 0.2
#: seconds kept for the end of the run beyond the measured evaluation passes (report, intervals)
END_RESERVE_S = 3.0
#: timed probe batches (after one warm-up batch), and the most seconds the probe may spend training
PROBE_BATCHES = 6
PROBE_MAX_SHARE = 0.05


@dataclass
class ProbeCosts:
    """What the probe measured, in seconds."""

    seconds_per_batch: float
    validation_s: float
    checkpoint_s: float
    probe_s: float
    batches_timed: int

    def epoch_s(self, batches_per_epoch: int, scale: float = 1.0) -> float:
        """One epoch: its batches and validation (scaled by the pixel count), plus its checkpoints."""
        return (batches_per_epoch * self.seconds_per_batch + self.validation_s) * scale + 1.5 * self.checkpoint_s


@dataclass
class BudgetPlan:
    """The epochs (and image size) a budget affords; ``to_json`` goes into config.json and report.json."""

    minutes: float
    epochs: int
    image_size: int
    original_image_size: int
    epoch_s: float
    end_s: float
    elapsed_before_s: float
    affordable_epochs: int
    capped: bool
    costs: ProbeCosts

    @property
    def budget_s(self) -> float:
        return self.minutes * 60.0

    def summary(self) -> str:
        """One line for the user."""
        size = (f", image size {self.original_image_size} -> {self.image_size} px"
                if self.image_size != self.original_image_size else "")
        cap = f" (capped at {MAX_BUDGET_EPOCHS})" if self.capped else ""
        return (f"time budget {self.minutes:g} min: {self.epochs} epochs{cap}{size}, about "
                f"{self.epoch_s:.1f} s each (probe {self.costs.probe_s:.1f} s)")

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["costs"] = asdict(self.costs)
        return record


def _cycle(loaders: Callable[[int], Any]) -> Iterator[Any]:
    epoch = 0
    while True:
        got = False
        for batch in loaders(epoch):
            got = True
            yield batch
        if not got:
            return
        epoch += 1


def probe_costs(runner: Any, batches: Any, budget_s: float, scratch_dir: Path,
                val_loader: Any = None) -> ProbeCosts:
    """Time training steps, a validation pass and a checkpoint with ``runner`` (its model is restored after).

    ``runner`` is a throwaway :class:`StepRunner` (its optimizer and
    schedule are discarded); ``batches`` gives ``train_loader(epoch)``.
    """
    import torch

    from medtl_gui.core.training import checkpoints
    from medtl_gui.core.training.epoch_loop import predict

    model = runner.model
    saved = copy.deepcopy(model.state_dict())
    started = time.perf_counter()
    limit = max(1.0, PROBE_MAX_SHARE * budget_s)
    timed, seconds = 0, 0.0
    try:
        model.train()
        source = _cycle(batches.train_loader)
        for index, (inputs, targets) in enumerate(source):
            t0 = time.perf_counter()
            runner.step(runner.plan.to_device(inputs), targets.to(runner.plan.device))
            if runner.plan.device.type == "cuda":
                torch.cuda.synchronize(runner.plan.device)
            if index > 0:  # the first batch warms up (allocations, kernels) and is not counted
                seconds += time.perf_counter() - t0
                timed += 1
            if timed >= PROBE_BATCHES or (timed and time.perf_counter() - started > limit):
                break
        t0 = time.perf_counter()
        if val_loader is not None:
            predict(runner, val_loader)
        validation_s = time.perf_counter() - t0
        scratch = Path(tempfile.mkdtemp(prefix=".budget-probe-", dir=scratch_dir))
        try:
            t0 = time.perf_counter()
            checkpoints.save_checkpoint(scratch, "last", model, {"epoch": 0, "step": 0}, runner.optimizer,
                                        runner.scheduler)
            checkpoint_s = time.perf_counter() - t0
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    finally:
        model.load_state_dict(saved)
    per_batch = seconds / timed if timed else (time.perf_counter() - started)
    return ProbeCosts(per_batch, validation_s, checkpoint_s, time.perf_counter() - started, timed)


def plan_budget(minutes: float, elapsed_s: float, costs: ProbeCosts, batches_per_epoch: int, image_size: int,
                n_val: int, n_test: int, may_grow: bool) -> BudgetPlan:
    """The epochs (and image size) that fit into the ``minutes`` left after ``elapsed_s`` (see module doc)."""
    budget_s = minutes * 60.0

    def at(size: int) -> tuple[int, float, float]:
        scale = (size / image_size) ** 2
        epoch_s = max(1e-3, costs.epoch_s(batches_per_epoch, scale))
        val_share = costs.validation_s * scale
        end_s = val_share * (1.0 + (n_test / n_val if n_val else 1.0)) + END_RESERVE_S
        usable = SAFETY * (budget_s - elapsed_s) - end_s
        return max(0, math.floor(usable / epoch_s)), epoch_s, end_s

    size = image_size
    affordable, epoch_s, end_s = at(size)
    if may_grow:
        for bigger in (s for s in GROWTH_SIZES if s > image_size):
            if affordable <= MAX_BUDGET_EPOCHS:
                break
            grown = at(bigger)
            if grown[0] < MIN_EPOCHS_AFTER_GROWTH:
                break
            size, (affordable, epoch_s, end_s) = bigger, grown
    epochs = max(1, min(MAX_BUDGET_EPOCHS, affordable))
    return BudgetPlan(minutes, epochs, size, image_size, epoch_s, end_s, elapsed_s, affordable,
                      affordable > MAX_BUDGET_EPOCHS, costs)


class BudgetClock:
    """Says when a budgeted run must stop: after an epoch, when one more epoch and the end no longer fit."""

    def __init__(self, budget_s: float, started: float, end_s: float, clock: Callable[[], float] = time.perf_counter):
        self.budget_s = budget_s
        self.started = started
        self.end_s = end_s
        self.clock = clock
        self._epoch_seconds: list[float] = []
        self._epoch_start = clock()
        self.stopped_early = False
        self.replans: list[dict[str, Any]] = []  # {"after_epoch", "epochs", "epoch_s"} per re-plan

    def elapsed(self) -> float:
        return self.clock() - self.started

    def left(self) -> float:
        """Seconds left of the budget (negative when over)."""
        return self.budget_s - self.elapsed()

    def epoch_started(self) -> None:
        self._epoch_start = self.clock()

    def epoch_ended(self) -> None:
        self._epoch_seconds.append(self.clock() - self._epoch_start)

    def must_stop(self) -> bool:
        """True when another epoch (mean so far) plus the end of the run would overrun the budget."""
        if not self._epoch_seconds:
            return False
        mean = sum(self._epoch_seconds) / len(self._epoch_seconds)
        self.stopped_early = self.elapsed() + mean + self.end_s > self.budget_s
        return self.stopped_early

    def replanned_epochs(self, planned: int, done: int) -> int | None:
        """The new epoch count when the measured epochs say ``planned`` is off, else None.

        The time left (less the end of the run) is filled to :data:`SAFETY`
        at the mean measured epoch time; the count stays within ``done + 1``
        (the stop check decides about ending) and :data:`MAX_BUDGET_EPOCHS`.
        """
        if not self._epoch_seconds or done >= MAX_BUDGET_EPOCHS:
            return None
        mean = sum(self._epoch_seconds) / len(self._epoch_seconds)
        fit = math.floor((SAFETY * self.left() - self.end_s) / max(mean, 1e-3))
        affordable = min(MAX_BUDGET_EPOCHS, done + max(1, fit))
        if abs(affordable - planned) <= REPLAN_TOLERANCE * planned or affordable == planned:
            return None
        self.replans.append({"after_epoch": done, "epochs": affordable, "epoch_s": round(mean, 3)})
        return affordable
