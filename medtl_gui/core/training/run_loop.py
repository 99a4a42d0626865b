"""The one run loop: set-up, epochs, journaled commit, finish or fail - for every task.

:class:`TrainingRun` is built by :func:`medtl_gui.core.training.engine.train`
once the task (:mod:`medtl_gui.core.tasks`) has prepared the config, data
and model and the run folder exists. The loop owns what every task shares:
stage freezing per strategy, the optimiser and schedule, the step runner
(mixed precision, retention term, distributed wrapping), cancel/pause,
resume from ``last``, the monitored metric and early stopping, the crash-safe
order of metrics line, ``last`` and ``best`` checkpoints, and the report.
The task supplies batches, loss, validation figures and its report fields
(and, where it differs from supervised training, optimiser groups, figures
of each training epoch and a last step before the report: SSL pretraining);
cross-cutting concerns (domain adaptation, time budget) are callbacks
(:mod:`run_callbacks`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from medtl_gui.core.data.project_source import DATA_MESSAGES_KEY
from medtl_gui.core.training import distributed as ddp
from medtl_gui.core.training.control import RunControl
from medtl_gui.core.training.device import ExecutionPlan
from medtl_gui.core.training.epoch_loop import StepRunner, run_training_epoch
from medtl_gui.core.training.events import EpochEnd, Message, RunFailed, RunFinished, RunStarted
from medtl_gui.core.training.freezing import apply_trainable_stages, set_training_mode, stage_parameter_groups
from medtl_gui.core.training.optimisation import build_optimizer, build_scheduler
from medtl_gui.core.training.run_callbacks import RunCallback, retention_term, run_callbacks
from medtl_gui.core.training.run_report import sample_indices
from medtl_gui.core.training.run_setup import DATA_WARNINGS_KEY
from medtl_gui.core.training.seeding import make_deterministic
from medtl_gui.core.runs import RunRecord, utc_now


@dataclass
class RunResult:
    """How a run ended. ``status``: completed, early_stopped, cancelled or failed."""

    status: str
    run_dir: Path | None
    best_epoch: int | None = None
    best_metric: float | None = None
    epochs_completed: int = 0
    report: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True unless the run failed."""
        return self.status != "failed"


class TrainingRun:
    """The state of one run while it trains (built by ``engine.train``)."""

    def __init__(self, task: Any, config: Any, prepared: Any, plan: ExecutionPlan, folder: RunRecord, emit,
                 control: RunControl, resumed: bool):
        self.task, self.config, self.plan = task, config, plan
        self.prepared = prepared
        self.data, self.settings = prepared.data, prepared.settings
        self.bundle, self.model = prepared.bundle, prepared.bundle.model
        self.folder, self.emit, self.control, self.resumed = folder, emit, control, resumed
        self.class_names = self.settings.train.class_names
        self.best_epoch: int | None = None
        self.best_metric: float | None = None
        self.epochs_completed = 0
        self.bad_epochs = 0
        self.step = 0
        self.started = time.perf_counter()
        self.callbacks: list[RunCallback] = []
        self.budget = None  # the time budget's clock and plan (budget_run.py)
        self.budget_plan = None

    # ----------------------------------------------------------------- setup
    def _messages(self) -> None:
        """The execution plan's choices, the data source's notes and warnings, then the task's own."""
        for text in self.plan.messages:
            self.emit(Message(text, "warning" if "fall" in text else "info"))
        extra = getattr(self.data, "extra", {})
        for text in extra.get(DATA_MESSAGES_KEY, ()):  # notes of the data source, e.g. images without a split
            self.emit(Message(text))
        for text in extra.get(DATA_WARNINGS_KEY, ()):  # e.g. images removed meanwhile
            self.emit(Message(text, "warning"))
        for text, level in self.task.messages(self):
            self.emit(Message(text, level))

    def _build_batches(self) -> Any:
        return self.task.batches(self)

    def _build_runner(self, batches: Any) -> StepRunner:
        c, s = self.config, self.settings
        groups = self.task.parameter_groups(self)  # None: per-stage groups (discriminative learning rates)
        if groups is None:
            groups = stage_parameter_groups(self.model, c.lr, s.lr_decay, c.weight_decay,
                                            backbone_weight_decay=s.retention != "l2sp")
        for callback in self.callbacks:
            groups += callback.parameter_groups(self)
        optimizer = build_optimizer(c.optimizer, groups, c.lr, c.weight_decay, c.momentum)
        per_epoch = batches.batches_per_epoch()
        scheduler = build_scheduler(optimizer, c.schedule, c.epochs * per_epoch, round(c.warmup_epochs * per_epoch))
        loss_fn = self.task.loss(self).to(self.plan.device)
        scaler = torch.amp.GradScaler("cuda") if self.plan.needs_grad_scaler() else None
        objective = next((o for o in (cb.step_objective(self) for cb in self.callbacks) if o is not None), None)
        return ddp.step_runner(StepRunner(self.model, self.plan, loss_fn, optimizer, scheduler, retention_term(self),
                                          s.alpha, c.beta, batches.features_mode, scaler, domain_objective=objective))

    def _restore(self, runner: StepRunner) -> int:
        if not ddp.checkpoint_exists(self.folder.checkpoints, "last"):
            self.emit(Message("the run has no completed epoch yet: starting from the beginning", "warning"))
            self.folder.truncate_metrics(0)
            return 0
        record = ddp.restore_training_state(self.folder.checkpoints, "last", self.model,
                                            runner.optimizer, runner.scheduler)
        self.epochs_completed = int(record["epoch"]) + 1
        self.step = int(record["step"])
        self.best_epoch, self.best_metric = record.get("best_epoch"), record.get("best_metric")
        self.bad_epochs = int(record.get("bad_epochs", 0))
        self.folder.truncate_metrics(self.epochs_completed)
        self.emit(Message(f"resuming after epoch {self.epochs_completed} (step {self.step})"))
        return self.epochs_completed

    # ----------------------------------------------------------------- loop
    def execute_or_fail(self) -> RunResult:
        """:meth:`execute`; a failure during training ends the run cleanly (recorded in the run folder)."""
        try:
            return self.execute()
        except Exception as exc:  # noqa: BLE001 - any failure during training ends the run cleanly
            reason, report = self.folder.record_failure(exc)
            self.emit(RunFailed(reason, str(self.folder.path)))
            return RunResult("failed", self.folder.path, self.best_epoch, self.best_metric, self.epochs_completed,
                             report, reason)

    def execute(self) -> RunResult:
        """Train all epochs (or until stopped) and write the report."""
        make_deterministic()
        self._messages()
        self.callbacks = run_callbacks(self)
        self.model.to(self.plan.device)
        if self.plan.channels_last:
            self.model.to(memory_format=torch.channels_last)
        batches = self._build_batches()
        for callback in self.callbacks:
            batches = callback.after_batches(self, batches)
        runner = self._build_runner(batches)
        start_epoch = self._restore(runner) if self.resumed else 0
        for callback in self.callbacks:
            callback.on_train_begin(self, runner, batches)
        strategy, n_stages = self.settings.strategy, len(self.model.stages())
        val_loader = batches.eval_loader("val")
        sample_at = sample_indices(len(self.settings.val or []), self.config.validation_samples)
        self.emit(RunStarted(
            run_id=self.folder.run_id, run_dir=str(self.folder.path), device=str(self.plan.device),
            precision=self.plan.precision, channels_last=self.plan.channels_last,
            n_train=len(self.settings.train), n_val=len(self.settings.val or []),
            batches_per_epoch=batches.batches_per_epoch(), epochs=self.config.epochs, start_epoch=start_epoch,
            trainable_stages=self.model.stage_names()[strategy.first_trainable_stage(n_stages, start_epoch, self.config):],
            time_budget_s=self.budget.budget_s if self.budget is not None else None,
            elapsed_s=time.perf_counter() - self.started,
        ))
        status = "completed"
        epoch = start_epoch - 1
        while (epoch := epoch + 1) < self.config.epochs:  # a time budget may re-plan the epochs
            if self.control.cancelled:
                status = "cancelled"
                break
            if self.budget is not None:
                self.budget.epoch_started()
            first = strategy.first_trainable_stage(n_stages, epoch, self.config)
            trainable = apply_trainable_stages(self.model, first)
            set_training_mode(self.model, first)
            ddp.prepare_epoch(runner)
            outcome = run_training_epoch(runner, batches.train_loader(epoch), epoch, self.step, self.control, self.emit)
            outcome = ddp.combine_outcome(outcome)
            self.step = outcome.step
            if outcome.cancelled:
                status = "cancelled"
                break
            if self._end_epoch(epoch, outcome, runner, val_loader, trainable, sample_at):
                status = "early_stopped"
                break
            if any([callback.after_epoch(self, epoch, runner, batches) for callback in self.callbacks]):
                break
        return self._finish(status, runner, batches)

    def _end_epoch(self, epoch: int, outcome, runner: StepRunner, val_loader, trainable: list[str],
                   sample_at: list[int]) -> bool:
        """Validate, record, checkpoint and report one epoch; True to stop early."""
        record: dict[str, Any] = {"epoch": epoch, "train_loss": outcome.mean_loss, **self.task.train_metrics(self)}
        validation = self.task.validate(self, runner, val_loader) if val_loader is not None else None
        if validation is not None:
            record.update(validation.metrics)
        for callback in self.callbacks:
            record.update(callback.epoch_metrics(self))
        record.update({"lr": runner.lr, "seconds": outcome.seconds,
                       self.task.throughput_key: outcome.images / outcome.seconds if outcome.seconds > 0 else None,
                       "trainable_stages": trainable})
        stop = self._commit_epoch(epoch, record, runner, trainable, validation.confusion if validation else None)
        if validation is not None and sample_at:
            event = self.task.validation_event(self, epoch, validation, sample_at)
            if event is not None:
                self.emit(event)
        return stop

    def _commit_epoch(self, epoch: int, record: dict[str, Any], runner: StepRunner, trainable: list[str],
                      confusion: Any = None) -> bool:
        """Keep score of the monitored metric, write the epoch's metrics line and checkpoints, report it;
        returns True when early stopping ends the run."""
        value = record.get(self.settings.monitor)
        # a run that monitors nothing (SSL pretraining) keeps no best model: its result is the final one
        improved = self.settings.monitor is not None and self._is_improvement(value)
        if improved:
            self.best_epoch, self.best_metric, self.bad_epochs = epoch, value, 0
        else:
            self.bad_epochs += 1
        self.epochs_completed = epoch + 1
        state = {"epoch": epoch, "step": self.step, "best_epoch": self.best_epoch, "best_metric": self.best_metric,
                 "bad_epochs": self.bad_epochs, "monitor": self.settings.monitor, "saved": utc_now()}
        # crash order: metrics line, then 'last', then 'best' (a resume drops metrics of epochs after 'last'
        # and rewrites 'best' from 'last' when a kill fell between the two; see checkpoints.recover_checkpoints)
        self.folder.append_metrics(record | {"confusion_matrix": confusion, "is_best": improved})
        ddp.save_checkpoint(self.folder.checkpoints, "last", self.model, state, runner.optimizer, runner.scheduler)
        if improved:
            ddp.save_checkpoint(self.folder.checkpoints, "best", self.model, state)
        self.emit(EpochEnd(epoch, {k: v for k, v in record.items() if k != "trainable_stages"}, confusion,
                           improved, trainable))
        patience = self.config.early_stopping_patience
        return patience is not None and self.bad_epochs >= patience

    def _is_improvement(self, value: float | None) -> bool:
        if self.best_metric is None:
            return True
        if value is None:
            return False
        if self.settings.monitor_mode == "max":
            return value > self.best_metric
        return value < self.best_metric

    # ----------------------------------------------------------------- end
    def _finish(self, status: str, runner: StepRunner, batches: Any) -> RunResult:
        report: dict[str, Any] = {
            "status": status, "run_id": self.folder.run_id, "task": self.config.task,
            "epochs_completed": self.epochs_completed, "steps": self.step, "best_epoch": self.best_epoch,
            "best_metric": self.best_metric, "monitor": self.settings.monitor, "device": str(self.plan.device),
            "precision": self.plan.precision, "class_names": self.class_names,
            **self.task.report_fields(self),
        }
        if status != "cancelled" and ddp.checkpoint_exists(self.folder.checkpoints, "best"):
            self.model.load_state_dict(ddp.load_model_state(self.folder.checkpoints, "best"))
            self.task.evaluate_best(self, runner, batches, report)
        self.task.on_finish(self, status, report)
        report["seconds"] = time.perf_counter() - self.started
        for callback in self.callbacks:
            callback.report(self, report, status)
        report["finished"] = utc_now()
        self.folder.write_report(report)
        self.emit(RunFinished(status, str(self.folder.path), self.best_epoch, self.best_metric, report))
        return RunResult(status, self.folder.path, self.best_epoch, self.best_metric, self.epochs_completed, report)
