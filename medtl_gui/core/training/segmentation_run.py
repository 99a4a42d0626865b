"""Segmentation runs through the one training engine.

``engine.train(config, ...)`` hands configs with ``task="segmentation"`` to
:func:`train_segmentation`, which prepares them the segmentation way
(:mod:`segmentation_setup`) and then runs :class:`SegmentationRun`, a
:class:`TrainingRun` whose epoch loop, strategies (stage freezing,
gradual unfreezing, discriminative learning rates), L2-SP, optimiser,
schedule, checkpoints, cancel/pause, resume and events are the engine's
own. What differs: batches are random patches (:mod:`medtl_gui.core.data.patches`),
the loss is Dice + cross-entropy inside the field of view, and validation
predicts whole images with sliding windows and reports Dice, IoU, pixel
ROC AUC, sensitivity and specificity (:mod:`medtl_gui.core.evaluation.segmentation`).

Masked images removed from the project by another process (or whose files
were deleted) are left out with a warning, as classification does: before
the run folder is written (``run_setup.leave_out_vanished``: config.json
lists only the images used), and while the images are read at the start of
training. Losing every training image ends the run with a reason naming the
project. A vanished validation (or test) case is left out too: the run goes
on with the others, and when none is left it monitors the training loss,
as a run without validation images does.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, DistributedSampler

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.data.labelled_images import vanished_message
from medtl_gui.core.data.patches import JointAugmentation, PatchDataset, PatchSampler
from medtl_gui.core.data.segmentation import SegmentationImages, SegmentationSplits
from medtl_gui.core.data.segmentation_cases import PreparedCase, SegmentationInput, prepare_available_cases
from medtl_gui.core.evaluation.segmentation import SegmentationScorer
from medtl_gui.core.models.weights.store import WeightStore
from medtl_gui.core.training import distributed as ddp
from medtl_gui.core.training.config import ConfigError, TrainConfig
from medtl_gui.core.training.control import RunControl
from medtl_gui.core.training.device import loader_workers, plan_execution
from medtl_gui.core.training.engine import RunResult, TrainingRun, resumable_folder
from medtl_gui.core.training.epoch_loop import StepRunner
from medtl_gui.core.training.events import Message, RunFailed, RunFinished, as_callback
from medtl_gui.core.training.freezing import stage_parameter_groups
from medtl_gui.core.training.optimisation import build_optimizer, build_scheduler
from medtl_gui.core.training.retention import L2SPPenalty
from medtl_gui.core.training.run_folder import RunFolder, environment_record, utc_now
from medtl_gui.core.training.run_setup import leave_out_vanished
from medtl_gui.core.training.seeding import derive_seed, seed_everything
from medtl_gui.core.training.segmentation_inference import predict_case
from medtl_gui.core.training.segmentation_loss import SegmentationLoss
from medtl_gui.core.training.segmentation_setup import (
    SegmentationSettings,
    build_segmentation_run_model,
    input_spec_for,
    resolve_segmentation_settings,
)

#: the per-epoch validation figures written to metrics.jsonl (prefixed "val_")
EPOCH_METRICS = ("dice", "iou", "auc", "sensitivity", "specificity", "accuracy", "dice_pooled", "auc_pooled")


class SegmentationBatches:
    """Prepared images of every split; a new set of random patches for each training epoch.

    In a distributed job (``replicas`` processes) every process draws the
    same epoch plan and takes its share of it through a ``DistributedSampler``
    (as classification does: one seeded order, padded by wrapping around so
    that each process takes the same number of steps); ``batch_size`` stays
    the global batch, each process taking ``batch_size / replicas`` patches
    per step, and augmentation is seeded per process.
    """

    features_mode = False

    def __init__(self, splits: dict[str, list[PreparedCase]], config: TrainConfig, patch_size: int,
                 num_workers: int = 0, replicas: int = 1, rank: int = 0):
        self.cases = splits
        self.config = config
        self.patch_size = patch_size
        self.num_workers = num_workers
        self.replicas, self.rank = replicas, rank
        if config.batch_size % replicas:
            raise ConfigError("batch_size", f"{config.batch_size} patches per step cannot be shared evenly by "
                                            f"{replicas} processes; choose a multiple of {replicas}")
        self.local_batch_size = config.batch_size // replicas
        self.sampler = PatchSampler(patch_size, config.foreground_fraction)
        self.augmenter = JointAugmentation(config.augmentation)

    def patches_per_epoch(self) -> int:
        """Training patches per epoch (of this process)."""
        return -(-len(self.cases["train"]) * self.config.patches_per_image // self.replicas)

    def _drop_last(self) -> bool:
        n, size = self.patches_per_epoch(), self.local_batch_size
        return n > size and n % size == 1  # a last batch of one patch breaks batch norm

    def batches_per_epoch(self) -> int:
        """Training batches per epoch (the same in every process)."""
        n, size = self.patches_per_epoch(), self.local_batch_size
        return n // size if self._drop_last() else -(-n // size)

    def train_loader(self, epoch: int) -> DataLoader:
        """This epoch's patches (positions, order and augmentation seeded by (run seed, epoch[, rank]))."""
        distributed = self.replicas > 1
        seed_everything(derive_seed(self.config.seed, "epoch", epoch, "rank", self.rank) if distributed
                        else derive_seed(self.config.seed, "epoch", epoch))
        plan = self.sampler.epoch_plan(self.cases["train"], self.config.patches_per_image,
                                       derive_seed(self.config.seed, "patches", epoch))
        generator = torch.Generator().manual_seed(derive_seed(self.config.seed, "order", epoch))
        dataset = PatchDataset(self.cases["train"], plan, self.patch_size, self.augmenter,
                               dihedral=self.config.augmentation != "none")
        sampler = None
        if distributed:
            sampler = DistributedSampler(dataset, self.replicas, self.rank, shuffle=True,
                                         seed=derive_seed(self.config.seed, "order"), drop_last=False)
            sampler.set_epoch(epoch)
        return DataLoader(dataset, batch_size=self.local_batch_size, shuffle=not distributed, sampler=sampler,
                          generator=generator, num_workers=self.num_workers, drop_last=self._drop_last())

    def eval_loader(self, split: str) -> list[PreparedCase] | None:
        """The whole prepared images of ``split`` (predicted with sliding windows), or None."""
        return self.cases.get(split) or None


def score_cases(runner: StepRunner, cases: list[PreparedCase], label_names: list[str], config: TrainConfig,
                patch_size: int, scale: float) -> tuple[dict[str, Any], float]:
    """Whole-image (sliding-window) metrics of ``cases`` and their mean loss."""
    scorer = SegmentationScorer(label_names, config.threshold, config.seed)
    losses = []
    for case in cases:
        logits, probabilities = predict_case(runner.model, case, patch_size, config.sliding_window_overlap,
                                             config.batch_size, runner.plan, scale=scale)
        target = torch.stack([case.labels.long(), case.fov.long()]).unsqueeze(0)
        losses.append(float(runner.loss_fn(logits, target)))
        scorer.add(case.case_id, probabilities, case.labels.numpy(), case.fov.numpy() if case.has_fov else None)
    return scorer.report(), float(sum(losses) / len(losses))


class SegmentationRun(TrainingRun):
    """A :class:`TrainingRun` for segmentation (see the module docstring)."""

    settings: SegmentationSettings

    def __init__(self, *args: Any, input_spec: SegmentationInput, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.input_spec = input_spec

    def _messages(self) -> None:
        self._source_messages()  # plan choices, data notes (e.g. images without a split), removed images
        s = self.settings
        if s.val_held_out_of_train:
            self.emit(Message(f"no validation split: held out {len(s.val)} training images (whole cases)"))
        if s.val is None:
            self.emit(Message("no validation images: the last epoch is kept as best", "warning"))
        if s.strategy.uses_feature_cache:
            self.emit(Message("feature extraction: the encoder stays frozen and the decoder trains "
                              "(features are not cached for segmentation)"))

    def _build_batches(self) -> SegmentationBatches:
        s = self.settings
        progress = lambda text: self.emit(Message(text))  # noqa: E731
        splits: dict[str, list[PreparedCase]] = {}
        for name, images in (("train", s.train), ("val", s.val), ("test", s.test)):
            if images:
                splits[name], gone = prepare_available_cases(images, self.input_spec, progress)
                if gone:
                    self._leave_out(name, images, gone)
        if "val" in splits and not splits["val"]:  # every validation case went
            self.emit(Message("no validation images left: the last epoch is kept as best", "warning"))
            if s.monitor.startswith("val_"):
                s.monitor, s.monitor_mode = "train_loss", "min"
        # patches are cut at the network's working resolution; val/test stay at full size (predict_case resamples)
        splits["train"] = [case.resampled(self.input_spec.scale) for case in splits["train"]]
        return SegmentationBatches(splits, self.config, s.image_size,
                                   loader_workers(self.config.num_workers, self.plan.device),
                                   ddp.world_size(), ddp.rank())

    def _leave_out(self, name: str, images: SegmentationImages, gone: list[str]) -> None:
        """Warn about the ``name`` cases that vanished while they were read and drop them from the settings;
        a DataError naming the project when no training case is left."""
        left_out = set(gone)
        kept = [index for index, item in enumerate(images) if item.case_id not in left_out]
        if name == "train" and not kept:
            raise DataError(self.data.source or images.name, "every training image with a mask is gone (removed "
                                                             "from the project while the run was starting)")
        self.emit(Message(vanished_message(gone, f"the {name} images"), "warning"))
        setattr(self.settings, name, images.subset(kept, images.name) if kept else None)

    def _build_runner(self, batches: SegmentationBatches) -> StepRunner:
        c, s = self.config, self.settings
        groups = stage_parameter_groups(self.model, c.lr, s.lr_decay, c.weight_decay,
                                        backbone_weight_decay=s.retention != "l2sp")
        optimizer = build_optimizer(c.optimizer, groups, c.lr, c.weight_decay, c.momentum)
        per_epoch = batches.batches_per_epoch()
        scheduler = build_scheduler(optimizer, c.schedule, c.epochs * per_epoch, round(c.warmup_epochs * per_epoch))
        retention = L2SPPenalty(self.model) if s.retention == "l2sp" else None
        scaler = torch.amp.GradScaler("cuda") if self.plan.needs_grad_scaler() else None
        loss_fn = SegmentationLoss(self.model.n_outputs, dice_weight=c.dice_weight)
        return ddp.step_runner(StepRunner(self.model, self.plan, loss_fn, optimizer, scheduler, retention, s.alpha,
                                          c.beta, False, scaler))

    def _end_epoch(self, epoch: int, outcome, runner: StepRunner, val_loader, trainable: list[str],
                   sample_at: list[int]) -> bool:
        """Validate on whole images, record, checkpoint and report one epoch; True to stop early."""
        record: dict[str, Any] = {"epoch": epoch, "train_loss": outcome.mean_loss}
        if val_loader:
            report, loss = score_cases(runner, val_loader, self.settings.label_names, self.config,
                                       self.settings.image_size, self.input_spec.scale)
            record["val_loss"] = loss
            record.update({f"val_{key}": report.get(key) for key in EPOCH_METRICS})
        record.update({"lr": runner.lr, "seconds": outcome.seconds,
                       "train_patches_per_s": outcome.images / outcome.seconds if outcome.seconds > 0 else None,
                       "trainable_stages": trainable})
        return self._commit_epoch(epoch, record, runner, trainable)

    def _finish(self, status: str, runner: StepRunner, batches: SegmentationBatches) -> RunResult:
        report: dict[str, Any] = {
            "status": status, "run_id": self.folder.run_id, "task": "segmentation",
            "epochs_completed": self.epochs_completed, "steps": self.step, "best_epoch": self.best_epoch,
            "best_metric": self.best_metric, "monitor": self.settings.monitor, "device": str(self.plan.device),
            "precision": self.plan.precision, "class_names": self.class_names,
            "label_names": self.settings.label_names, "threshold_policy": "fixed",
            "decision_threshold": self.config.threshold,
        }
        if status != "cancelled" and ddp.checkpoint_exists(self.folder.checkpoints, "best"):
            self.model.load_state_dict(ddp.load_model_state(self.folder.checkpoints, "best"))
            for split in ("val", "test"):
                cases = batches.eval_loader(split)
                if cases:
                    report[split], report[f"{split}_loss"] = score_cases(
                        runner, cases, self.settings.label_names, self.config, self.settings.image_size,
                        self.input_spec.scale)
        report["seconds"] = time.perf_counter() - self.started
        report["finished"] = utc_now()
        self.folder.write_report(report)
        self.emit(RunFinished(status, str(self.folder.path), self.best_epoch, self.best_metric, report))
        return RunResult(status, self.folder.path, self.best_epoch, self.best_metric, self.epochs_completed, report)


def _config_record(config: TrainConfig, data: SegmentationSplits, settings: SegmentationSettings, plan,
                   bundle, input_spec: SegmentationInput, folder: RunFolder) -> dict[str, Any]:
    weights = bundle.weights
    splits = {"train": settings.train, "val": settings.val, "test": settings.test}
    return {
        "run_id": folder.run_id,
        "task": "segmentation",
        "config": config.to_dict(),
        "seed": config.seed,
        "resolved": settings.to_json(),
        "execution": {"device": str(plan.device), "precision": plan.precision,
                      "channels_last": plan.channels_last, "messages": plan.messages},
        "model": {"architecture": config.model, "encoder": bundle.architecture.encoder,
                  "n_parameters": bundle.model.n_parameters(), "head_kind": "segmentation",
                  "in_channels": bundle.in_channels, "n_outputs": bundle.n_outputs,
                  "stages": bundle.model.stage_names()},
        "weights": None if weights is None else {
            "name": weights.entry.name, "sha256": weights.sha256, "source": weights.entry.source,
            "licence": weights.entry.licence, "file": Path(weights.entry.file).name,
            "verification": weights.entry.verification},
        "preprocessing": input_spec.to_json() | {"patch_size": settings.image_size},
        "data": {
            "source": data.source,
            "class_names": settings.label_names,
            "label_names": settings.label_names,
            "counts": {name: len(s) for name, s in splits.items() if s is not None},
            "splits": {name: s.ids for name, s in splits.items() if s is not None},
        },
        **environment_record(),
    }


def _new_folder(config: TrainConfig, data: SegmentationSplits, settings: SegmentationSettings, plan, bundle,
                input_spec: SegmentationInput, run_dir: str | Path | None) -> RunFolder:
    folder = RunFolder.at(run_dir) if run_dir is not None else RunFolder.create(
        data.runs_dir or Path("runs"), f"seg-{config.model}-{config.strategy}")
    folder.write_config(_config_record(config, data, settings, plan, bundle, input_spec, folder))
    from medtl_gui.core.inference.model_scope import record_training_scope  # what the model is meant for

    record_training_scope(folder, data.extra.get("project"), data.train.ids, [i.load_image for i in data.train])
    return folder


def train_segmentation(
    config: TrainConfig,
    data: SegmentationSplits,
    events: Any = None,
    control: RunControl | None = None,
    *,
    run_dir: str | Path | None = None,
    resume_from: str | Path | None = None,
    weight_store: WeightStore | None = None,
) -> RunResult:
    """Train a segmentation network on ``data``; same contract as :func:`engine.train`."""
    emit = as_callback(events)
    control = control or RunControl()
    folder: RunFolder | None = None
    try:
        config.validate()
        if not isinstance(data, SegmentationSplits):
            raise TypeError("a segmentation run needs SegmentationSplits (see core.data.segmentation), "
                            f"got {type(data).__name__}")
        if resume_from is not None:  # several processes: rank 0 opens and writes the folder (distributed.py)
            folder = ddp.main_process_folder(lambda: resumable_folder(config, resume_from))
        if leave_out_vanished(data) and len(data.train) == 0:  # masked images removed meanwhile (a warning)
            raise DataError(data.source or "data", "every image with a mask to train on is gone (removed from "
                                                   "the project meanwhile?)")
        settings = resolve_segmentation_settings(config, data)
        plan = plan_execution(config.device, config.precision, config.channels_last)
        bundle = build_segmentation_run_model(config, settings, weight_store)
        input_spec = input_spec_for(bundle, config)
        if folder is None:
            folder = ddp.main_process_folder(
                lambda: _new_folder(config, data, settings, plan, bundle, input_spec, run_dir))
    except Exception as exc:
        emit(RunFailed(str(exc), str(folder.path) if folder else None))
        raise
    run = SegmentationRun(config, data, settings, plan, bundle, folder, emit, control,
                          resumed=resume_from is not None, input_spec=input_spec)
    return run.execute_or_fail()
