"""SimCLR pretraining as a task of the one run loop (:mod:`medtl_gui.core.training.run_loop`).

:func:`~medtl_gui.core.pretraining.ssl_training.pretrain_ssl` prepares the
run (config, images, starting model, run folder) and hands the loop a
:class:`ContrastiveTask` with a :class:`ContrastiveRunConfig` (the loop's
view of a ``PretrainConfig``) and :class:`ContrastiveSettings`. The loop
then trains as it trains every task; what differs is expressed through its
generic pieces:

- batches: each batch is two augmented views of ``batch_size`` images,
  stacked (views drawn on the training device from a generator seeded by
  ``derive_seed(seed, "ssl", epoch)``, which also orders the images), with
  dummy targets (one per image); there is no validation data;
- model: :class:`ContrastiveModel`, the zoo backbone plus a projection head,
  whose ``outputs_and_features`` gives the projections;
- loss: :class:`NTXentLoss` on the two halves of the projections, keeping
  each batch's contrastive accuracy for the epoch's metrics line;
- optimiser: AdamW with decay / no-decay groups (norms and biases) over the
  whole network (:meth:`ContrastiveTask.parameter_groups`), cosine schedule
  with warm-up;
- no model selection (the settings monitor nothing, so the loop keeps no
  ``best`` checkpoint): when the run completes, the final backbone
  (projection head dropped) goes into the weight store
  (:meth:`ContrastiveTask.on_finish`).

The task is not registered in the task registry: it is no ``medtl train`` task.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from medtl_gui.core.data.labelled_images import LabelledImages
from medtl_gui.core.data.preprocessing import Preprocessing
from medtl_gui.core.models.builder import ModelBundle
from medtl_gui.core.models.weights.manifest import WeightsEntry
from medtl_gui.core.models.weights.store import WeightStore
from medtl_gui.core.pretraining.config import PretrainConfig
from medtl_gui.core.pretraining.contrastive import ContrastiveNetwork, nt_xent_loss
from medtl_gui.core.pretraining.views import ContrastiveViews
from medtl_gui.core.tasks.base import Task
from medtl_gui.core.training.device import ExecutionPlan
from medtl_gui.core.training.epoch_loop import DivergedError
from medtl_gui.core.training.seeding import derive_seed
from medtl_gui.core.training.strategies import Strategy, get_strategy

#: the ``task`` value of a pretraining run's report (config.json says "kind": "pretraining")
PRETRAINING_TASK = "pretraining"
_NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)


# ----------------------------------------------------------------------------------- what the loop reads
@dataclass
class ContrastiveRunConfig:
    """The run loop's view of a :class:`PretrainConfig` (SimCLR defaults filled in)."""

    lr: float
    weight_decay: float
    epochs: int
    warmup_epochs: float
    seed: int
    batch_size: int
    optimizer: str = "adamw"
    schedule: str = "cosine"
    momentum: float = 0.0
    early_stopping_patience: int | None = None
    validation_samples: int = 0
    time_budget_minutes: float | None = None
    domain_adaptation: str = "none"
    lwf_temperature: float = 1.0
    beta: float = 1.0
    task: str = PRETRAINING_TASK

    @classmethod
    def of(cls, config: PretrainConfig) -> "ContrastiveRunConfig":
        return cls(lr=float(config.value("lr")), weight_decay=config.weight_decay, epochs=int(config.value("epochs")),
                   warmup_epochs=config.warmup_epochs, seed=config.seed, batch_size=int(config.value("batch_size")))


@dataclass
class UnlabelledImages:
    """The training images as the loop counts them: labels are never used, so no class names."""

    n: int
    class_names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return self.n


@dataclass
class ContrastiveSettings:
    """Resolved settings of a SimCLR run: everything trains, no retention, nothing monitored (no best model)."""

    train: UnlabelledImages
    strategy: Strategy = field(default_factory=lambda: get_strategy("full"))
    lr_decay: float = 1.0
    retention: str = "none"
    alpha: float = 0.0
    monitor: str | None = None
    monitor_mode: str = "min"
    val: Any = None
    test: Any = None


@dataclass
class ContrastiveBundle:
    """``Prepared.bundle`` of a SimCLR run: the network that trains and the zoo bundle it came from."""

    model: "ContrastiveModel"
    source: ModelBundle

    @property
    def in_channels(self) -> int:
        return self.source.in_channels


# ----------------------------------------------------------------------------------- model and loss
class ContrastiveModel(ContrastiveNetwork):
    """Backbone + projection head with the interface the step runner and freezing use (state dict keys as
    :class:`ContrastiveNetwork`'s: ``backbone.*``, ``projector.*``)."""

    head_kind = "projection"

    def outputs_and_features(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self(images), None

    def stages(self) -> list[tuple[str, nn.Module]]:
        """The backbone's stages (children with parameters), then the projector."""
        named = [(name, module) for name, module in self.backbone.named_children()
                 if any(True for _ in module.parameters())]
        return named + [("projector", self.projector)]

    def stage_names(self) -> list[str]:
        return [name for name, _ in self.stages()]

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


class NTXentLoss(nn.Module):
    """NT-Xent of a batch of stacked view pairs (targets ignored); keeps each batch's contrastive accuracy."""

    def __init__(self, temperature: float):
        super().__init__()
        self.temperature = temperature
        self.accuracies: list[float] = []

    def forward(self, projections: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        n = projections.shape[0] // 2
        loss, accuracy = nt_xent_loss(projections[:n], projections[n:], self.temperature)
        if not torch.isfinite(loss.detach()):
            raise DivergedError(f"the contrastive loss became {float(loss.detach())}; lower the learning rate")
        self.accuracies.append(accuracy)
        return loss

    def epoch_accuracy(self) -> float:
        """The mean accuracy of the batches since the last call (which starts a new epoch)."""
        accuracies, self.accuracies = self.accuracies, []
        return sum(accuracies) / max(1, len(accuracies))


def decay_parameter_groups(network: nn.Module, weight_decay: float) -> list[dict]:
    """Two optimiser groups over the whole network: weight decay, and none for norms and biases."""
    decay, no_decay = [], []
    for module in network.modules():
        for name, parameter in module.named_parameters(recurse=False):
            (no_decay if isinstance(module, _NORM_TYPES) or name == "bias" else decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


# ----------------------------------------------------------------------------------- batches
class EpochViews:
    """One epoch's batches: (two views of each image stacked and normalised, one dummy target per image).

    The epoch's generator orders the images, then draws every batch's two
    views in turn; an incomplete last batch is dropped (it would have fewer
    negatives and unstable batch-norm statistics).
    """

    def __init__(self, batches: "ContrastiveBatches", epoch: int):
        self.owner = batches
        self.generator = torch.Generator().manual_seed(derive_seed(batches.seed, "ssl", epoch))

    def __len__(self) -> int:
        return self.owner.batches_per_epoch()

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        owner, generator = self.owner, self.generator
        order = torch.randperm(len(owner.unit_images), generator=generator)
        for index in range(len(self)):
            batch = order[index * owner.batch_size:(index + 1) * owner.batch_size]
            images = owner.unit_images[batch].to(owner.plan.device).float()  # views are drawn on the device
            pair = torch.cat([owner.views(images, generator), owner.views(images, generator)])
            yield owner.preprocessing.normalise(pair), torch.zeros(len(batch))


@dataclass
class ContrastiveBatches:
    """The run's batches (prepared [0, 1] images at the run's size); no validation or test split."""

    unit_images: torch.Tensor
    views: ContrastiveViews
    preprocessing: Preprocessing
    plan: ExecutionPlan
    batch_size: int
    seed: int
    features_mode: bool = False

    def batches_per_epoch(self) -> int:
        return len(self.unit_images) // self.batch_size

    def train_loader(self, epoch: int) -> EpochViews:
        return EpochViews(self, epoch)

    def eval_loader(self, split: str) -> None:
        return None


# ----------------------------------------------------------------------------------- the task
class ContrastiveTask(Task):
    """SimCLR pretraining of one run (see the module docstring); holds the run's inputs and, once it
    completed, the new weight-store entry (``weights``)."""

    name = PRETRAINING_TASK
    names = (PRETRAINING_TASK,)
    title = "Self-supervised pretraining (SimCLR)"
    retentions = ()

    def __init__(self, config: PretrainConfig, images: LabelledImages, preprocessing: Preprocessing,
                 store: WeightStore, source_name: str):
        self.pretrain_config, self.images, self.preprocessing = config, images, preprocessing
        self.store, self.source_name = store, source_name
        self.weights: WeightsEntry | None = None
        self._loss: NTXentLoss | None = None

    def messages(self, run: Any) -> list[tuple[str, str]]:
        return [(f"preparing {len(self.images)} images at {self.preprocessing.image_size} px", "info")]

    def batches(self, run: Any) -> ContrastiveBatches:
        from medtl_gui.core.data.torch_dataset import prepare_all

        unit_images = prepare_all(self.images, self.preprocessing)
        c = self.pretrain_config
        views = ContrastiveViews(c.crop_scale, c.rotation_degrees, c.allow_flips)
        return ContrastiveBatches(unit_images, views, self.preprocessing, run.plan,
                                  min(run.config.batch_size, len(unit_images)), run.config.seed)

    def loss(self, run: Any) -> NTXentLoss:
        self._loss = NTXentLoss(self.pretrain_config.temperature)
        return self._loss

    def parameter_groups(self, run: Any) -> list[dict]:
        return decay_parameter_groups(run.model, run.config.weight_decay)

    def train_metrics(self, run: Any) -> dict[str, Any]:
        return {"contrastive_accuracy": self._loss.epoch_accuracy() if self._loss is not None else None}

    def report_fields(self, run: Any) -> dict[str, Any]:
        metrics = run.folder.read_metrics()
        return {"method": "ssl", "final_loss": metrics[-1]["train_loss"] if metrics else None,
                "final_contrastive_accuracy": metrics[-1]["contrastive_accuracy"] if metrics else None}

    def on_finish(self, run: Any, status: str, report: dict[str, Any]) -> None:
        """A completed run: the final network's backbone (projection head dropped) into the weight store."""
        if status != "completed":
            return
        backbone = {k: v.detach().float().cpu() if v.is_floating_point() else v.detach().cpu()
                    for k, v in run.model.backbone.state_dict().items()}
        c = self.pretrain_config
        notes = {"run_dir": str(run.folder.path), "method": "SimCLR (NT-Xent)",
                 "image_size": self.preprocessing.image_size, "epochs": run.epochs_completed,
                 "n_images": len(self.images), "temperature": c.temperature, "allow_flips": c.allow_flips}
        self.weights = self.store.add_state_dict(
            c.name, c.model, backbone,
            source=f"self-supervised (SimCLR) on {self.source_name}",
            licence=f"derived from the images of {self.source_name}; their terms apply",
            layout="medtl-backbone", in_channels=run.bundle.in_channels, notes=json.dumps(notes),
        )
        report["weights"] = self.weights.to_json()
