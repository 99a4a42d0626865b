"""The domain-adaptation methods the engine runs: AdaBN, DSBN and DANN.

Each is a :class:`DomainAdaptation` that the engine (``engine.py``) calls at
four points: :func:`create_domain_adaptation` before the model moves to its
device (DSBN swaps its batch-norm layers there), :meth:`parameter_groups`
when the optimiser is built (DANN's discriminator trains with the model),
:meth:`extra_loss` inside every optimisation step (``epoch_loop.StepRunner``),
:meth:`epoch_metrics` when an epoch's record is written (the domain
classifier's accuracy) and :meth:`finish` once the best checkpoint is
loaded (writes the ``target`` checkpoint and returns the report entry).

- **AdaBN**: plain training; at the end the best model's batch-norm
  statistics are re-estimated on the target images (no augmentation) and
  saved as checkpoint ``target``.
- **DSBN**: every ``BatchNorm2d`` becomes a domain-specific BN
  (``models/dsbn.py``). Source batches train through the source BN; each
  step also runs one target batch (no gradient) through the target BN, which
  tracks the target statistics (affine parameters shared, the target images
  being unlabelled). At the end ``best``/``last`` hold the plain network
  with source BN and ``target`` the one with target BN.
- **DANN**: a domain discriminator on the pooled backbone features behind a
  gradient-reversal layer whose strength follows ``2/(1+exp(-10p))-1``; its
  loss (weight ``dann_weight``) on each source batch plus one target batch
  is added to the task loss. ``best`` serves both domains.

Per epoch, DANN logs its discriminator's accuracy and DSBN the accuracy of
a detached probe (a discriminator trained on features it cannot change) as
``train_domain_accuracy``: near 0.5 means the domains look alike to it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from torch import nn

from medtl_gui.core.data.labelled_images import DataSplits
from medtl_gui.core.data.preprocessing import Preprocessing
from medtl_gui.core.data.target_domain import target_images
from medtl_gui.core.models.dsbn import SOURCE, TARGET, convert_to_dsbn, plain_state_dict, route_domain
from medtl_gui.core.models.transfer_model import TransferModel
from medtl_gui.core.training import checkpoints
from medtl_gui.core.training.config import TrainConfig
from medtl_gui.core.training.device import ExecutionPlan, loader_workers
from medtl_gui.core.training.domain_adaptation import (
    DomainDiscriminator,
    TargetBatches,
    adapt_batch_norm,
    dann_lambda,
    reverse_gradient,
    target_dataset,
)
from medtl_gui.core.runs import utc_now

#: metric names this module adds to each epoch's record
DOMAIN_ACCURACY = "train_domain_accuracy"
DANN_LAMBDA = "dann_lambda"


def _save_state(folder: Path, tag: str, state: dict[str, torch.Tensor], record: dict[str, Any]) -> None:
    """Write a checkpoint ``tag`` (model tensors + JSON record, SHA-256 recorded) through the checkpoint journal."""
    checkpoints.save_model_tensors(folder, tag, state, record)


class DomainAdaptation:
    """The common part: target images, their batches, the per-epoch accuracy counter."""

    method = "none"
    uses_target_batches = True

    def __init__(self, config: TrainConfig, data: DataSplits, model: TransferModel, plan: ExecutionPlan):
        images = target_images(data)
        if images is None:
            raise ValueError("no target images attached to the data (see prepare_domain_data)")
        self.config, self.model, self.plan = config, model, plan
        self.images = images
        self.preprocessing: Preprocessing | None = None
        self.stream: TargetBatches | None = None
        self.step = 0
        self.total_steps = 1
        self._correct = 0
        self._seen = 0

    # ---------------------------------------------------------------- engine hooks
    def parameter_groups(self, lr: float, weight_decay: float) -> list[dict]:
        """Extra optimiser parameter groups (none by default)."""
        return []

    def attach(self, preprocessing: Preprocessing, start_step: int, total_steps: int) -> None:
        """Prepare the target batches once the run's preprocessing and length are known."""
        self.preprocessing = preprocessing
        self.step = start_step
        self.total_steps = max(1, total_steps)
        if self.uses_target_batches:
            dataset = target_dataset(self.images, preprocessing, self.config.augmentation)
            self.stream = TargetBatches(dataset, self.config.batch_size, self.config.seed,
                                        loader_workers(self.config.num_workers, self.plan.device))

    def next_target(self) -> torch.Tensor:
        """The next target batch, on the run's device."""
        assert self.stream is not None, "attach() first"
        return self.plan.to_device(self.stream.next())

    def extra_loss(self, runner: Any, inputs: torch.Tensor, features: torch.Tensor | None) -> torch.Tensor | None:
        """Called in every optimisation step; returns a loss to add, or None."""
        self.step += 1
        return None

    def count(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """Add a batch of domain predictions to this epoch's accuracy."""
        self._correct += int(((logits.detach() > 0).float() == labels).sum())
        self._seen += int(labels.numel())

    def epoch_metrics(self) -> dict[str, float | None]:
        """This epoch's domain metrics (and reset the counters)."""
        if not self._seen:
            return {}
        accuracy = self._correct / self._seen
        self._correct = self._seen = 0
        return {DOMAIN_ACCURACY: accuracy}

    def finish(self, checkpoint_dir: Path, model: TransferModel, status: str) -> dict[str, Any]:
        """Called once the best checkpoint is loaded into ``model``; returns the report entry."""
        return self.report_entry(None)

    def report_entry(self, target_checkpoint: str | None) -> dict[str, Any]:
        """What the run's report records about domain adaptation."""
        return {
            "method": self.method,
            "target_domain": self.config.target_domain,
            "target_images": self.images.name,
            "n_target_images": len(self.images),
            "target_checkpoint": target_checkpoint,
            "checkpoints": {"best": "source", "last": "source"} | (
                {target_checkpoint: "target"} if target_checkpoint and target_checkpoint != "best" else {}),
        }


class AdaBNAdaptation(DomainAdaptation):
    """AdaBN: re-estimate batch-norm statistics of the best model on the target images."""

    method = "adabn"
    uses_target_batches = False

    def finish(self, checkpoint_dir: Path, model: TransferModel, status: str) -> dict[str, Any]:
        """Write checkpoint ``target``: the best model with target BN statistics."""
        if status in ("cancelled", "failed") or self.preprocessing is None \
                or not checkpoints.checkpoint_exists(checkpoint_dir, "best"):
            return self.report_entry(None)
        adapted = copy.deepcopy(model)
        dataset = target_dataset(self.images, self.preprocessing, None)
        loader = torch.utils.data.DataLoader(dataset, batch_size=max(self.config.batch_size, 64), shuffle=False)
        plan = self.plan

        def forward(network: nn.Module, images: torch.Tensor) -> torch.Tensor:
            with plan.autocast():
                return network.backbone(plan.to_device(images))

        seen = adapt_batch_norm(adapted, loader, plan.device, forward)
        record = checkpoints.read_checkpoint_record(checkpoint_dir, "best")
        _save_state(checkpoint_dir, "target", checkpoints.model_state(adapted), record | {
            "domain": "target", "method": self.method, "from_checkpoint": "best", "adapted_images": seen,
            "saved": utc_now()})
        return self.report_entry("target")


class DSBNAdaptation(DomainAdaptation):
    """Domain-specific batch norm: source BN for source batches, target BN for target batches."""

    method = "dsbn"

    def __init__(self, config: TrainConfig, data: DataSplits, model: TransferModel, plan: ExecutionPlan):
        super().__init__(config, data, model, plan)
        self.n_layers = convert_to_dsbn(model.backbone, share_affine=True)
        if self.n_layers == 0:
            raise ValueError(f"{config.model} has no BatchNorm2d layer: DSBN does not apply (use dann)")
        self.probe = DomainDiscriminator(model.feature_dim).to(plan.device)
        self.probe_optimizer = torch.optim.Adam(self.probe.parameters(), lr=1e-3)

    def _bn_training(self) -> list[nn.Module]:
        """Target BN layers put in train mode (even in frozen stages) so their statistics track the target."""
        from medtl_gui.core.models.dsbn import dsbn_layers

        switched = [layer for layer in dsbn_layers(self.model) if not layer.training]
        for layer in switched:
            layer.train()
        return switched

    def extra_loss(self, runner: Any, inputs: torch.Tensor, features: torch.Tensor | None) -> torch.Tensor | None:
        """Run one target batch through the target BN (statistics only) and update the probe."""
        self.step += 1
        target = self.next_target()
        switched = self._bn_training()
        try:
            with torch.no_grad(), route_domain(self.model, TARGET), self.plan.autocast():
                target_features = self.model.backbone(target)
        finally:
            for layer in switched:
                layer.eval()
        if features is not None:
            both = torch.cat([features.detach().float(), target_features.float()])
            labels = torch.cat([torch.zeros(len(features)), torch.ones(len(target_features))]).to(both.device)
            self.probe.train()
            logits = self.probe(both)
            loss = nn.functional.binary_cross_entropy_with_logits(logits, labels)
            self.probe_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.probe_optimizer.step()
            self.count(logits, labels)
        return None

    def finish(self, checkpoint_dir: Path, model: TransferModel, status: str) -> dict[str, Any]:
        """Write ``target`` (target BN) and make ``best``/``last`` plain source networks."""
        if status in ("cancelled", "failed") or not checkpoints.checkpoint_exists(checkpoint_dir, "best"):
            return self.report_entry(None) | {"note": "checkpoints still hold both BN sets (DSBN layout)"}
        state = checkpoints.model_state(model)
        record = checkpoints.read_checkpoint_record(checkpoint_dir, "best")
        _save_state(checkpoint_dir, "target", plain_state_dict(state, TARGET), record | {
            "domain": "target", "method": self.method, "from_checkpoint": "best", "saved": utc_now()})
        for tag in ("best", "last"):
            if checkpoints.checkpoint_exists(checkpoint_dir, tag):
                plain = plain_state_dict(checkpoints.load_model_state(checkpoint_dir, tag), SOURCE)
                _save_state(checkpoint_dir, tag, plain, checkpoints.read_checkpoint_record(checkpoint_dir, tag)
                            | {"domain": "source"})
        return self.report_entry("target")


class DANNAdaptation(DomainAdaptation):
    """Adversarial adaptation: a domain discriminator behind a gradient-reversal layer."""

    method = "dann"

    def __init__(self, config: TrainConfig, data: DataSplits, model: TransferModel, plan: ExecutionPlan):
        super().__init__(config, data, model, plan)
        self.discriminator = DomainDiscriminator(model.feature_dim).to(plan.device)
        self.strength = 0.0

    def parameter_groups(self, lr: float, weight_decay: float) -> list[dict]:
        """The discriminator trains with the model at the head's learning rate."""
        return [{"params": list(self.discriminator.parameters()), "lr": lr, "weight_decay": weight_decay,
                 "stage": "domain_discriminator"}]

    def extra_loss(self, runner: Any, inputs: torch.Tensor, features: torch.Tensor | None) -> torch.Tensor | None:
        """``dann_weight`` * BCE of the discriminator on reversed source + target features."""
        if features is None:
            raise RuntimeError("DANN needs backbone features (image batches, not cached features)")
        self.strength = dann_lambda(self.step / self.total_steps)
        self.step += 1
        target = self.next_target()
        with self.plan.autocast():
            target_features = self.model.backbone(target)
        both = torch.cat([features.float(), target_features.float()])
        labels = torch.cat([torch.zeros(len(features)), torch.ones(len(target_features))]).to(both.device)
        self.discriminator.train()
        logits = self.discriminator(reverse_gradient(both, self.strength))
        self.count(logits, labels)
        return self.config.dann_weight * nn.functional.binary_cross_entropy_with_logits(logits, labels)

    def epoch_metrics(self) -> dict[str, float | None]:
        """Discriminator accuracy and the current reversal strength."""
        return super().epoch_metrics() | {DANN_LAMBDA: self.strength}

    def finish(self, checkpoint_dir: Path, model: TransferModel, status: str) -> dict[str, Any]:
        """DANN's features are shared: ``best`` serves the target domain too."""
        entry = self.report_entry("best" if checkpoints.checkpoint_exists(checkpoint_dir, "best") else None)
        entry["checkpoints"] = {"best": "source and target", "last": "source and target"}
        return entry


METHODS: dict[str, type[DomainAdaptation]] = {"adabn": AdaBNAdaptation, "dsbn": DSBNAdaptation,
                                              "dann": DANNAdaptation}


def create_domain_adaptation(config: TrainConfig, data: DataSplits, model: TransferModel,
                             plan: ExecutionPlan) -> DomainAdaptation | None:
    """The method ``config.domain_adaptation`` asks for (``None`` for "none"); DSBN converts ``model`` in place."""
    if config.domain_adaptation == "none":
        return None
    return METHODS[config.domain_adaptation](config, data, model, plan)
