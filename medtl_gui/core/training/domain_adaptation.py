"""Building blocks of domain adaptation: gradient reversal, the DANN schedule, AdaBN, target batches.

The three methods (``TrainConfig.domain_adaptation``) are in
:mod:`domain_methods`; this module holds what they are made of:

- :class:`GradientReversal` / :func:`reverse_gradient`: identity forward,
  ``-lambda * grad`` backward (Ganin & Lempitsky 2015);
- :func:`dann_lambda`: the schedule ``2 / (1 + exp(-10 p)) - 1`` over
  training progress ``p`` in [0, 1];
- :class:`DomainDiscriminator`: a small MLP on pooled backbone features
  (one logit: target vs source);
- :func:`adapt_batch_norm`: AdaBN (Li et al. 2016): re-estimate every
  batch-norm layer's running statistics on target images, nothing else
  changes (like ``torch.optim.swa_utils.update_bn``, but dropout stays off
  and only the backbone runs);
- :class:`TargetBatches`: an endless, seeded stream of target-image batches;
- :func:`prepare_domain_data`: source splits + target images for a run;
- :func:`checkpoint_for_domain`: which checkpoint of a run serves a domain.

Checkpoints of a domain-adaptation run (``<run>/checkpoints/``):
``best``/``last`` are for the **source** domain (validation is on the source
validation split); ``target`` (AdaBN and DSBN) is the best model with the
target domain's batch-norm statistics, used for target predictions. DANN
learns domain-invariant features, so its ``best`` serves both domains. The
run's ``report.json`` records this under ``"domain_adaptation"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from medtl_gui.core.data.labelled_images import DataSplits, LabelledImages
from medtl_gui.core.runs import RunRecord
from medtl_gui.core.training.config import ConfigError, TrainConfig
from medtl_gui.core.training.seeding import derive_seed

_BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


# --------------------------------------------------------------------------- gradient reversal
class _ReverseGradient(torch.autograd.Function):
    """Identity forward; the backward pass multiplies the gradient by ``-strength``."""

    @staticmethod
    def forward(ctx: Any, inputs: torch.Tensor, strength: float) -> torch.Tensor:  # noqa: D102
        ctx.strength = float(strength)
        return inputs.view_as(inputs)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: D102
        return -ctx.strength * grad_output, None


def reverse_gradient(inputs: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    """``inputs`` unchanged, but gradients flowing back through it are multiplied by ``-strength``."""
    return _ReverseGradient.apply(inputs, strength)


class GradientReversal(nn.Module):
    """The gradient-reversal layer; ``strength`` (lambda) may change between steps."""

    def __init__(self, strength: float = 1.0):
        super().__init__()
        self.strength = float(strength)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Identity (see :func:`reverse_gradient`)."""
        return reverse_gradient(inputs, self.strength)

    def extra_repr(self) -> str:
        return f"strength={self.strength}"


def dann_lambda(progress: float, gamma: float = 10.0) -> float:
    """DANN's reversal strength ``2 / (1 + exp(-gamma p)) - 1`` at training progress ``p`` (clipped to [0, 1])."""
    p = min(max(float(progress), 0.0), 1.0)
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0


class DomainDiscriminator(nn.Module):
    """A small MLP: pooled backbone features -> one logit (positive: target domain)."""

    def __init__(self, feature_dim: int, hidden: int = 256, dropout: float = 0.25):
        super().__init__()
        hidden = max(16, min(hidden, feature_dim * 2))
        self.layers = nn.Sequential(
            nn.Linear(feature_dim, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Domain logits, shape (batch,)."""
        return self.layers(features.float()).squeeze(-1)


# --------------------------------------------------------------------------- AdaBN
def batch_norm_layers(model: nn.Module) -> list[nn.Module]:
    """Every batch-norm layer of ``model`` that tracks running statistics."""
    return [m for m in model.modules() if isinstance(m, _BN_TYPES) and m.track_running_stats]


@torch.no_grad()
def adapt_batch_norm(model: nn.Module, batches, device: torch.device | str = "cpu",
                     forward: Any = None) -> int:
    """AdaBN: replace every BN layer's running mean/var by their average over ``batches``.

    ``batches`` yields image tensors or ``(images, targets)`` pairs.
    ``forward(model, images)`` runs the part of the network that holds the
    BN layers (default: ``model.backbone`` if present, else ``model``). Only
    BN running statistics (and their batch counters) change; parameters and
    every other buffer stay as they were, and the model comes back in its
    previous train/eval mode. Returns the number of images seen.
    """
    layers = batch_norm_layers(model)
    if not layers:
        return 0
    was_training = model.training
    momenta = {layer: layer.momentum for layer in layers}
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average over all batches
    model.eval()
    for layer in layers:
        layer.train()
    run = forward or (lambda m, x: m.backbone(x) if hasattr(m, "backbone") else m(x))
    seen = 0
    try:
        for batch in batches:
            images = batch[0] if isinstance(batch, (list, tuple)) else batch
            run(model, images.to(device))
            seen += int(images.shape[0])
    finally:
        for layer, momentum in momenta.items():
            layer.momentum = momentum
        model.train(was_training)
    return seen


# --------------------------------------------------------------------------- target batches
class TargetBatches:
    """Endless shuffled batches of target images (augmented like training), reproducible from the seed."""

    def __init__(self, dataset, batch_size: int, seed: int, num_workers: int = 0):
        if len(dataset) < 2:
            raise ConfigError("domain_adaptation", f"the target domain needs at least 2 images, found {len(dataset)}")
        self.dataset = dataset
        self.batch_size = min(batch_size, len(dataset))
        self.seed = seed
        self.num_workers = num_workers
        self.passes = 0
        self._iterator: Iterator | None = None

    def _loader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(derive_seed(self.seed, "target", self.passes))
        drop_last = len(self.dataset) % self.batch_size == 1  # a 1-image batch breaks batch norm
        return DataLoader(self.dataset, batch_size=self.batch_size, shuffle=True, generator=generator,
                          num_workers=self.num_workers, drop_last=drop_last)

    def next(self) -> torch.Tensor:
        """The next batch of target images (CPU tensor)."""
        while True:
            if self._iterator is None:
                self._iterator = iter(self._loader())
                self.passes += 1
            try:
                batch = next(self._iterator)
            except StopIteration:
                self._iterator = None
                continue
            return batch[0] if isinstance(batch, (list, tuple)) else batch


# --------------------------------------------------------------------------- data and checkpoints
def prepare_domain_data(config: TrainConfig, data: DataSplits) -> DataSplits:
    """``data`` for ``config``: unchanged without domain adaptation, else source splits + target images.

    Raises :class:`ConfigError` for settings the methods cannot honour
    (DANN and DSBN need the backbone to run on every batch, so not with
    cached features) and ``DataError`` when there are no target images.
    """
    if config.domain_adaptation == "none":
        return data
    from medtl_gui.core.data.target_domain import split_domains
    from medtl_gui.core.training import distributed
    from medtl_gui.core.training.strategies import get_strategy

    if distributed.is_distributed():
        raise ConfigError("domain_adaptation", "is not available in multi-process (torch.distributed) runs yet; "
                          "train on one device")

    if config.domain_adaptation in ("dann", "dsbn") and get_strategy(config.strategy).uses_feature_cache \
            and config.cache_features:
        raise ConfigError("domain_adaptation", f"{config.domain_adaptation} trains the backbone on target images; "
                          "it does not work with cached features (feature_extraction): use adabn, or set "
                          "cache_features to false")
    return split_domains(data, config.target_domain)


def domain_checkpoints(run_dir: str | Path) -> dict[str, str]:
    """Which checkpoint serves which domain in a run: ``{"source": tag, "target": tag}`` (target only if any)."""
    report = RunRecord(run_dir).read_report()
    record: dict[str, Any] = (report.get("domain_adaptation") or {}) if report is not None else {}
    mapping = {"source": "best"}
    if record.get("target_checkpoint"):
        mapping["target"] = str(record["target_checkpoint"])
    return mapping


def checkpoint_for_domain(run_dir: str | Path, domain: str) -> str:
    """The checkpoint tag of ``run_dir`` to use for images of ``domain`` ("source" or "target").

    Raises ``ValueError`` when the run has no checkpoint for the target
    domain (it was not trained with domain adaptation, or has not finished).
    """
    mapping = domain_checkpoints(run_dir)
    if domain not in ("source", "target"):
        raise ValueError(f"domain must be 'source' or 'target', not {domain!r}")
    if domain not in mapping:
        raise ValueError(f"{run_dir}: the run has no target-domain checkpoint (it was not trained with domain "
                         "adaptation, or it did not finish)")
    return mapping[domain]


def target_dataset(images: LabelledImages, preprocessing, augmentation: str | None):
    """An image dataset over the target images (augmented with ``augmentation``, or not with None)."""
    from medtl_gui.core.data.augmentation import Augmenter
    from medtl_gui.core.data.torch_dataset import ImageTensorDataset

    return ImageTensorDataset(images, preprocessing, Augmenter(augmentation) if augmentation else None)


def evaluation_inputs_for_domain(run_dir: str | Path, domain: str, data: DataSplits,
                                 images: LabelledImages) -> tuple[str, LabelledImages]:
    """The checkpoint for ``domain`` and the images to evaluate it on.

    For a project, ``images`` (one split) is restricted to the run's target
    domain (``domain="target"``) or to the images outside it (``"source"``);
    other data (an ``.npz`` of target images) is used as it is.
    """
    checkpoint = checkpoint_for_domain(run_dir, domain)
    project = data.extra.get("project")
    if project is None:
        return checkpoint, images
    run = RunRecord(run_dir)
    config = run.read_config().get("config", {}) if RunRecord.is_run(run.path) else {}
    target_domain = config.get("target_domain") or "target"
    target_ids = {str(r.id) for r in project.images(domain=target_domain)}
    keep = [i for i, item in enumerate(images) if (item.id in target_ids) == (domain == "target")]
    if not keep:
        raise ValueError(f"{data.source}: no {images.name} image is in the {domain} domain "
                         f"(target domain {target_domain!r})")
    return checkpoint, images.subset(keep, f"{images.name}[{domain}]")
