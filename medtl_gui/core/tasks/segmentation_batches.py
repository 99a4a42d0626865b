"""Segmentation's batches and whole-image scoring (used by :mod:`medtl_gui.core.tasks.segmentation`).

Training batches are random patches (:mod:`medtl_gui.core.data.patches`),
a new set each epoch; validation and test predict whole images with
sliding windows and report Dice, IoU, pixel ROC AUC, sensitivity and
specificity (:mod:`medtl_gui.core.evaluation.segmentation`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, DistributedSampler

from medtl_gui.core.data.patches import JointAugmentation, PatchDataset, PatchSampler
from medtl_gui.core.data.segmentation_cases import PreparedCase
from medtl_gui.core.evaluation.segmentation import SegmentationScorer
from medtl_gui.core.training.config import ConfigError, TrainConfig
from medtl_gui.core.training.epoch_loop import StepRunner
from medtl_gui.core.training.seeding import derive_seed, seed_everything
from medtl_gui.core.training.segmentation_inference import predict_case

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
