"""The one training engine: ``train(config, data, events, control) -> RunResult``.

The GUI's worker thread and ``medtl train`` both call :func:`train`. It
reports progress only through events (see :mod:`events`), checks
``control`` for cancel/pause between batches, and writes everything about
the run into its folder (see :mod:`run_folder`). The recipe per epoch:
choose the strategy's trainable stages, train one epoch, validate, keep the
best and last checkpoints, stop early when the monitored metric stalls.
With ``config.time_budget_minutes`` the epochs come from a timed probe and
the run stops in time (see :mod:`time_budget`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from medtl_gui.core.data.labelled_images import DataSplits
from medtl_gui.core.data.project_source import DATA_MESSAGES_KEY
from medtl_gui.core.data.sampling import inverse_frequency_weights
from medtl_gui.core.models.builder import ModelBundle
from medtl_gui.core.models.weights.store import WeightStore
from medtl_gui.core.training import distributed as ddp
from medtl_gui.core.training.config import ConfigError, TrainConfig
from medtl_gui.core.training.control import RunControl
from medtl_gui.core.training.device import ExecutionPlan, loader_workers, plan_execution
from medtl_gui.core.training.domain_adaptation import prepare_domain_data
from medtl_gui.core.training.domain_methods import DomainAdaptation, create_domain_adaptation
from medtl_gui.core.training.epoch_loop import StepRunner, predict, run_training_epoch
from medtl_gui.core.training.events import (
    EpochEnd,
    Message,
    RunFailed,
    RunFinished,
    RunStarted,
    ValidationSamples,
    as_callback,
)
from medtl_gui.core.training.feature_cache import FeatureCache
from medtl_gui.core.training.freezing import apply_trainable_stages, set_training_mode, stage_parameter_groups
from medtl_gui.core.training.losses import TaskLoss
from medtl_gui.core.training.optimisation import build_optimizer, build_scheduler
from medtl_gui.core.training.retention import L2SPPenalty, LwFDistillation
from medtl_gui.core.training.run_data import FeatureBatches, ImageBatches
from medtl_gui.core.training.run_folder import RunFolder, environment_record, utc_now
from medtl_gui.core.training.run_report import (
    choose_threshold,
    flat_metrics,
    sample_indices,
    split_metrics,
    test_report,
    validation_samples,
)
from medtl_gui.core.training.run_setup import (
    DATA_WARNINGS_KEY,
    ResolvedSettings,
    build_run_model,
    preprocessing_for,
    resolve_settings,
)
from medtl_gui.core.training.seeding import make_deterministic
from medtl_gui.core.training.budget_run import follow_time_budget, plan_time_budget
from medtl_gui.core.training.time_budget import BudgetClock, BudgetPlan

#: settings that may differ when resuming a run (they do not change the numbers)
RESUME_MAY_CHANGE = ("num_workers", "device", "validation_samples")


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


def check_resumable(config: TrainConfig, folder: RunFolder) -> None:
    """Refuse to resume ``folder`` with a config that would change the numbers."""
    saved = folder.read_config().get("config", {})
    for key, value in config.to_dict().items():
        if key not in RESUME_MAY_CHANGE and saved.get(key) != value:
            raise ConfigError(key, f"differs from the run being resumed ({saved.get(key)!r} there, {value!r} now)")


def train(
    config: TrainConfig,
    data: DataSplits,
    events: Any = None,
    control: RunControl | None = None,
    *,
    run_dir: str | Path | None = None,
    resume_from: str | Path | None = None,
    weight_store: WeightStore | None = None,
) -> RunResult:
    """Train a model on ``data`` as ``config`` says; returns how it ended.

    ``events``: a callable or an :class:`EventSink` receiving every event
    (on this thread). ``control``: cancel/pause flags. ``run_dir``: the
    folder for this run (default: a new folder in ``data.runs_dir``, or
    ``./runs``). ``resume_from``: an interrupted run folder to continue
    from its last completed epoch (same config). Bad input (config, data,
    weights) raises after a :class:`RunFailed` event; failures during
    training return a result with status "failed" and keep the traceback
    in the run folder's ``error.log``.
    """
    if config.task == "segmentation":  # same engine, segmentation data and validation
        from medtl_gui.core.training.segmentation_run import train_segmentation

        return train_segmentation(config, data, events, control, run_dir=run_dir, resume_from=resume_from,
                                  weight_store=weight_store)
    started = time.perf_counter()  # a time budget counts from here (the data is open)
    emit = as_callback(events)
    control = control or RunControl()
    folder: RunFolder | None = None
    try:
        config.validate()
        if config.time_budget_minutes and ddp.is_distributed():
            raise ConfigError("time_budget_minutes", "is for single-process runs: leave out --nproc-per-node")
        if resume_from is not None:  # several processes: rank 0 opens and writes the folder (see distributed.py)
            folder = ddp.main_process_folder(lambda: resumable_folder(config, resume_from))
        data = prepare_domain_data(config, data)  # domain adaptation: source splits + target images
        settings = resolve_settings(config, data)
        plan = plan_execution(config.device, config.precision, config.channels_last)
        bundle = build_run_model(config, settings, weight_store)
        if folder is None:
            folder = ddp.main_process_folder(lambda: _new_folder(config, data, settings, plan, bundle, run_dir))
    except Exception as exc:
        emit(RunFailed(str(exc), str(folder.path) if folder else None))
        raise
    run = TrainingRun(config, data, settings, plan, bundle, folder, emit, control, resumed=resume_from is not None)
    run.started = started
    return run.execute_or_fail()


def resumable_folder(config: TrainConfig, resume_from: str | Path) -> RunFolder:
    """The interrupted run's folder, after checking that ``config`` may continue it and that its ``last``
    checkpoint verifies (a run that completed epochs but lost or damaged ``last`` refuses to resume)."""
    from medtl_gui.core.training.checkpoint_integrity import require_resumable

    folder = RunFolder.existing(resume_from)
    check_resumable(config, folder)
    require_resumable(folder.path)
    return folder


def _new_folder(config: TrainConfig, data: DataSplits, settings: ResolvedSettings, plan: ExecutionPlan,
                bundle: ModelBundle, run_dir: str | Path | None) -> RunFolder:
    """A new run folder (``run_dir`` or a fresh one under the data's runs folder) with its config.json."""
    if run_dir is not None:
        folder = RunFolder.at(run_dir)
    else:
        folder = RunFolder.create(data.runs_dir or Path("runs"), f"{config.model}-{config.strategy}")
    folder.write_config(_config_record(config, data, settings, plan, bundle, folder))
    from medtl_gui.core.inference.model_scope import record_training_scope  # what the model is meant for

    record_training_scope(folder, data.extra.get("project"), settings.train.ids, [i.load for i in settings.train])
    return folder


def _config_record(config: TrainConfig, data: DataSplits, settings: ResolvedSettings, plan: ExecutionPlan,
                   bundle: ModelBundle, folder: RunFolder) -> dict[str, Any]:
    weights = bundle.weights
    prep = preprocessing_for(bundle, settings)
    splits = {"train": settings.train, "val": settings.val, "test": settings.test}
    return {
        "run_id": folder.run_id,
        "config": config.to_dict(),
        "seed": config.seed,
        "resolved": settings.to_json(),
        "execution": {"device": str(plan.device), "precision": plan.precision,
                      "channels_last": plan.channels_last, "messages": plan.messages},
        "model": {"architecture": config.model, "n_parameters": bundle.model.n_parameters(),
                  "head_kind": bundle.head_kind, "in_channels": bundle.in_channels,
                  "stages": bundle.model.stage_names()},
        "weights": None if weights is None else {
            "name": weights.entry.name, "sha256": weights.sha256, "source": weights.entry.source,
            "licence": weights.entry.licence, "file": Path(weights.entry.file).name,
            "verification": weights.entry.verification},
        "preprocessing": asdict(prep) | {"fingerprint": prep.fingerprint()},
        "data": {
            "source": data.source,
            "class_names": data.class_names,
            "counts": {name: (s.class_counts().tolist() if s.class_names else len(s))
                       for name, s in splits.items() if s is not None},
            "splits": {name: s.ids for name, s in splits.items() if s is not None},
        },
        **environment_record(),
    }


class TrainingRun:
    """The state of one run while it trains (built by :func:`train`)."""

    def __init__(self, config: TrainConfig, data: DataSplits, settings: ResolvedSettings, plan: ExecutionPlan,
                 bundle: ModelBundle, folder: RunFolder, emit, control: RunControl, resumed: bool):
        self.config, self.data, self.settings, self.plan = config, data, settings, plan
        self.bundle, self.model = bundle, bundle.model
        self.folder, self.emit, self.control, self.resumed = folder, emit, control, resumed
        self.class_names = settings.train.class_names
        self.best_epoch: int | None = None
        self.best_metric: float | None = None
        self.epochs_completed = 0
        self.bad_epochs = 0
        self.step = 0
        self.started = time.perf_counter()
        self.adaptation: DomainAdaptation | None = None
        self.budget: BudgetClock | None = None
        self.budget_plan: BudgetPlan | None = None

    # ----------------------------------------------------------------- setup
    def _source_messages(self) -> None:
        """What every task's run says first: the execution plan's choices and the data source's notes."""
        for text in self.plan.messages:
            self.emit(Message(text, "warning" if "fall" in text else "info"))
        extra = getattr(self.data, "extra", {})
        for text in extra.get(DATA_MESSAGES_KEY, ()):  # notes of the data source, e.g. images without a split
            self.emit(Message(text))
        for text in extra.get(DATA_WARNINGS_KEY, ()):  # e.g. images removed meanwhile
            self.emit(Message(text, "warning"))

    def _messages(self) -> None:
        self._source_messages()
        s = self.settings
        if s.imbalance != "none" and self.config.imbalance == "auto":
            counts = s.train.class_counts().tolist()
            self.emit(Message(f"training classes are imbalanced {counts}: using {s.imbalance.replace('_', ' ')}"))
        if s.val_held_out_of_train:
            self.emit(Message(f"no validation split: held out {len(s.val)} training images for validation"))
        if s.val is None:
            self.emit(Message("no validation images: the last epoch is kept as best", "warning"))
        if s.strategy.uses_feature_cache and self.config.cache_features and self.config.augmentation != "none":
            self.emit(Message("feature extraction with cached features: augmentation is not applied"))

    def _build_batches(self) -> ImageBatches:
        s, c = self.settings, self.config
        splits = {"train": s.train, "val": s.val, "test": s.test}
        prep = preprocessing_for(self.bundle, s)
        balanced = s.imbalance == "balanced_sampler"
        if s.strategy.uses_feature_cache and c.cache_features and not ddp.is_distributed():
            cache = FeatureCache(self.data.cache_dir)
            return FeatureBatches(splits, prep, c.batch_size, c.seed, balanced, self.model, self.plan,
                                  f"{self.bundle.weights_id}:{c.seed if self.bundle.weights is None else ''}",
                                  cache, progress=lambda text: self.emit(Message(text)))
        batches = ddp.image_batches(splits, prep, c.augmentation, c.batch_size,
                                    loader_workers(c.num_workers, self.plan.device), c.seed, balanced)
        for text in batches.messages:  # training images removed while they were being read
            self.emit(Message(text, "warning"))
        return batches

    def _build_runner(self, batches: ImageBatches) -> StepRunner:
        c, s = self.config, self.settings
        groups = stage_parameter_groups(self.model, c.lr, s.lr_decay, c.weight_decay,
                                        backbone_weight_decay=s.retention != "l2sp")
        if self.adaptation is not None:
            groups += self.adaptation.parameter_groups(c.lr, c.weight_decay)
        optimizer = build_optimizer(c.optimizer, groups, c.lr, c.weight_decay, c.momentum)
        per_epoch = batches.batches_per_epoch()
        scheduler = build_scheduler(optimizer, c.schedule, c.epochs * per_epoch, round(c.warmup_epochs * per_epoch))
        class_weights = None
        if s.imbalance == "weighted_loss":
            class_weights = torch.tensor(inverse_frequency_weights(s.train.class_counts()), dtype=torch.float32)
        loss_fn = TaskLoss(self.bundle.head_kind, class_weights, c.label_smoothing, c.regression_loss).to(self.plan.device)
        retention = None
        if s.retention == "l2sp":
            retention = L2SPPenalty(self.model)
        elif s.retention == "lwf":
            retention = LwFDistillation(self.model, self.bundle.pretrained_head, c.lwf_temperature).to(
                self.plan.device, self.plan.channels_last)
        scaler = torch.amp.GradScaler("cuda") if self.plan.needs_grad_scaler() else None
        return ddp.step_runner(StepRunner(self.model, self.plan, loss_fn, optimizer, scheduler, retention, s.alpha,
                                          c.beta, batches.features_mode, scaler, domain_objective=self.adaptation))

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
        self.adaptation = create_domain_adaptation(self.config, self.data, self.model, self.plan)
        self.model.to(self.plan.device)
        if self.plan.channels_last:
            self.model.to(memory_format=torch.channels_last)
        batches = self._build_batches()
        if self.config.time_budget_minutes and not self.resumed:
            batches = plan_time_budget(self, batches)
        runner = self._build_runner(batches)
        start_epoch = self._restore(runner) if self.resumed else 0
        if self.adaptation is not None:
            self.adaptation.attach(preprocessing_for(self.bundle, self.settings), self.step,
                                   self.config.epochs * batches.batches_per_epoch())
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
            stop = self._end_epoch(epoch, outcome, runner, val_loader, trainable, sample_at)
            if stop:
                status = "early_stopped"
                break
            if follow_time_budget(self, epoch, runner, batches.batches_per_epoch()):
                break
        return self._finish(status, runner, batches)

    def _end_epoch(self, epoch: int, outcome, runner: StepRunner, val_loader, trainable: list[str],
                   sample_at: list[int]) -> bool:
        """Validate, record, checkpoint and report one epoch; True to stop early."""
        record: dict[str, Any] = {"epoch": epoch, "train_loss": outcome.mean_loss}
        confusion = None
        predictions = ddp.gather_predictions(predict(runner, val_loader)) if val_loader is not None else None
        if predictions is not None:
            metrics = split_metrics(predictions, self.class_names, self.config.threshold)
            record.update(flat_metrics("val", metrics))
            confusion = metrics.get("confusion_matrix")
        if self.adaptation is not None:
            record.update(self.adaptation.epoch_metrics())
        record.update({"lr": runner.lr, "seconds": outcome.seconds,
                       "train_images_per_s": outcome.images / outcome.seconds if outcome.seconds > 0 else None,
                       "trainable_stages": trainable})
        stop = self._commit_epoch(epoch, record, runner, trainable, confusion)
        if predictions is not None and sample_at:
            self.emit(ValidationSamples(epoch, validation_samples(self.settings.val, predictions, sample_at,
                                                                  self.config.threshold)))
        return stop

    def _commit_epoch(self, epoch: int, record: dict[str, Any], runner: StepRunner, trainable: list[str],
                      confusion: Any = None) -> bool:
        """Keep score of the monitored metric, write the epoch's metrics line and checkpoints, report it.

        Shared by every task's run; returns True when early stopping ends the run.
        """
        value = record.get(self.settings.monitor)
        improved = self._is_improvement(value)
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
    def _finish(self, status: str, runner: StepRunner, batches: ImageBatches) -> RunResult:
        report: dict[str, Any] = {
            "status": status, "run_id": self.folder.run_id, "epochs_completed": self.epochs_completed,
            "steps": self.step, "best_epoch": self.best_epoch, "best_metric": self.best_metric,
            "monitor": self.settings.monitor, "device": str(self.plan.device), "precision": self.plan.precision,
            "class_names": self.class_names, "threshold_policy": self.config.threshold_policy,
            "decision_threshold": self.config.threshold,
        }
        if status != "cancelled" and ddp.checkpoint_exists(self.folder.checkpoints, "best"):
            self.model.load_state_dict(ddp.load_model_state(self.folder.checkpoints, "best"))
            val_loader = batches.eval_loader("val")
            val = ddp.gather_predictions(predict(runner, val_loader)) if val_loader is not None else None
            threshold = choose_threshold(self.config.threshold_policy, self.config.threshold, val, self.class_names)
            report["decision_threshold"] = threshold
            if val is not None:
                report["val"] = split_metrics(val, self.class_names, threshold)
            test_loader = batches.eval_loader("test")
            if test_loader is not None:
                report["test"] = test_report(ddp.gather_predictions(predict(runner, test_loader)), self.class_names,
                                             threshold,
                                             self.config.seed)
        if self.adaptation is not None:
            report["domain_adaptation"] = self.adaptation.finish(self.folder.checkpoints, self.model, status)
        report["seconds"] = time.perf_counter() - self.started
        if self.budget_plan is not None and self.budget is not None:
            report["time_budget"] = self.budget_plan.to_json() | {
                "epochs_completed": self.epochs_completed, "stopped_by_budget": self.budget.stopped_early,
                "replans": self.budget.replans,
                "seconds_used": report["seconds"]}
        report["finished"] = utc_now()
        self.folder.write_report(report)
        self.emit(RunFinished(status, str(self.folder.path), self.best_epoch, self.best_metric, report))
        return RunResult(status, self.folder.path, self.best_epoch, self.best_metric, self.epochs_completed, report)

