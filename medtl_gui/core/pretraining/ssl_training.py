"""Self-supervised (SimCLR-style) pretraining of a zoo backbone on images without labels.

Same engine pieces as supervised training: progress through the events of
:mod:`medtl_gui.core.training.events` (``RunStarted``, ``BatchEnd``,
``EpochEnd`` with ``train_loss`` and ``contrastive_accuracy``,
``RunFinished``/``RunFailed``), cancel and pause through ``RunControl``
between batches, and a run folder (``config.json``, ``metrics.jsonl``,
``checkpoints/last.*``, ``report.json``). When the run completes, the
backbone (projection head dropped) is stored in the weight store as
``medtl-backbone`` weights with source "self-supervised (SimCLR) on X".
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from medtl_gui.core.data.labelled_images import LabelledImages
from medtl_gui.core.data.preprocessing import Preprocessing
from medtl_gui.core.data.torch_dataset import prepare_all
from medtl_gui.core.models.builder import ModelBundle, build_model
from medtl_gui.core.models.weights.errors import WeightsError
from medtl_gui.core.models.weights.manifest import WeightsEntry
from medtl_gui.core.models.weights.store import WeightStore
from medtl_gui.core.pretraining.config import PretrainConfig
from medtl_gui.core.pretraining.contrastive import ContrastiveNetwork, nt_xent_loss
from medtl_gui.core.pretraining.views import ContrastiveViews
from medtl_gui.core.runs import RunRecord, environment_record, utc_now
from medtl_gui.core.training import checkpoints
from medtl_gui.core.training.control import RunControl
from medtl_gui.core.training.device import ExecutionPlan, plan_execution
from medtl_gui.core.training.engine import RunResult
from medtl_gui.core.training.epoch_loop import DivergedError, wait_if_paused
from medtl_gui.core.training.events import BatchEnd, EpochEnd, Message, RunFailed, RunFinished, RunStarted, as_callback
from medtl_gui.core.training.optimisation import build_optimizer, build_scheduler
from medtl_gui.core.training.run_setup import detect_in_channels
from medtl_gui.core.training.seeding import derive_seed, make_deterministic, seed_everything


@dataclass
class PretrainResult(RunResult):
    """How a pretraining run ended (a :class:`RunResult`); ``weights`` is the new weight-store entry when
    it completed."""

    weights: WeightsEntry | None = None


def check_name_is_free(store: WeightStore, name: str) -> None:
    """Raise :class:`WeightsError` if the store already has weights called ``name``."""
    if store.find(name) is not None:
        raise WeightsError(store.directory, f"the weight store already holds weights named {name!r}; "
                                            "choose another --name")


def starting_bundle(config: PretrainConfig, in_channels: int, store: WeightStore) -> ModelBundle:
    """The zoo model (random, or from ``config.pretrained``) whose backbone will be pretrained; seeded."""
    weights = None
    if config.pretrained not in (None, "none"):
        entry = store.resolve(config.model, config.pretrained)
        weights = store.load(entry) if entry is not None else None
    seed_everything(config.seed)
    return build_model(config.model, task="classification", n_classes=2, in_channels=in_channels, weights=weights)


def _parameter_groups(network: torch.nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for module in network.modules():
        for name, parameter in module.named_parameters(recurse=False):
            is_norm = isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.LayerNorm,
                                          torch.nn.GroupNorm))
            (no_decay if is_norm or name == "bias" else decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class ContrastiveRun:
    """The state of one SimCLR run while it trains (built by :func:`pretrain_ssl`)."""

    def __init__(self, config: PretrainConfig, images: LabelledImages, bundle: ModelBundle, plan: ExecutionPlan,
                 preprocessing: Preprocessing, folder: RunRecord, emit, control: RunControl, store: WeightStore,
                 source_name: str):
        self.config, self.images, self.bundle, self.plan = config, images, bundle, plan
        self.preprocessing, self.folder, self.emit, self.control = preprocessing, folder, emit, control
        self.store, self.source_name = store, source_name
        self.network = ContrastiveNetwork(bundle.model.backbone, bundle.model.feature_dim, config.projection_dim)
        self.views = ContrastiveViews(config.crop_scale, config.rotation_degrees, config.allow_flips)
        self.epochs_completed = 0
        self.step = 0
        self.started = time.perf_counter()

    def _batch_size(self, n: int) -> int:
        return min(int(self.config.value("batch_size")), n)

    def _batches(self, n: int, generator: torch.Generator) -> list[torch.Tensor]:
        """This epoch's batches of image indices; an incomplete last batch is dropped
        (it would have fewer negatives and unstable batch-norm statistics)."""
        batch_size = self._batch_size(n)
        order = torch.randperm(n, generator=generator)
        return [order[i * batch_size:(i + 1) * batch_size] for i in range(n // batch_size)]

    def execute(self) -> PretrainResult:
        """Train every epoch (or until cancelled), then store the backbone."""
        make_deterministic()
        config, plan = self.config, self.plan
        for text in plan.messages:
            self.emit(Message(text, "warning" if "fall" in text else "info"))
        self.emit(Message(f"preparing {len(self.images)} images at {self.preprocessing.image_size} px"))
        unit_images = prepare_all(self.images, self.preprocessing)
        network = self.network.to(plan.device)
        if plan.channels_last:
            network = network.to(memory_format=torch.channels_last)
        epochs = int(config.value("epochs"))
        per_epoch = len(unit_images) // self._batch_size(len(unit_images))
        optimizer = build_optimizer("adamw", _parameter_groups(network, config.weight_decay),
                                    float(config.value("lr")), config.weight_decay, 0.0)
        scheduler = build_scheduler(optimizer, "cosine", epochs * per_epoch, round(config.warmup_epochs * per_epoch))
        self.emit(RunStarted(run_id=self.folder.run_id, run_dir=str(self.folder.path), device=str(plan.device),
                             precision=plan.precision, channels_last=plan.channels_last, n_train=len(unit_images),
                             n_val=0, batches_per_epoch=per_epoch, epochs=epochs, start_epoch=0,
                             trainable_stages=self.bundle.model.stage_names()[:-1] + ["projector"]))
        status = "completed"
        for epoch in range(epochs):
            if self.control.cancelled or not self._train_epoch(epoch, unit_images, optimizer, scheduler):
                status = "cancelled"
                break
        return self._finish(status)

    def _train_epoch(self, epoch: int, unit_images: torch.Tensor, optimizer, scheduler) -> bool:
        """One epoch; False if cancelled part-way."""
        generator = torch.Generator().manual_seed(derive_seed(self.config.seed, "ssl", epoch))
        batches = self._batches(len(unit_images), generator)
        self.network.train()
        losses, accuracies, seen = [], [], 0
        started = time.perf_counter()
        for index, batch in enumerate(batches):
            wait_if_paused(self.control, self.emit, epoch, self.step)
            if self.control.cancelled:
                return False
            images = unit_images[batch].to(self.plan.device).float()  # views are drawn on the training device
            pair = torch.cat([self.views(images, generator), self.views(images, generator)])
            inputs = self.plan.to_device(self.preprocessing.normalise(pair))
            optimizer.zero_grad(set_to_none=True)
            with self.plan.autocast():
                projections = self.network(inputs)
            loss, accuracy = nt_xent_loss(projections[: len(batch)], projections[len(batch):],
                                          self.config.temperature)
            value = float(loss.detach())
            if not torch.isfinite(loss.detach()):
                raise DivergedError(f"the contrastive loss became {value}; lower the learning rate")
            loss.backward()
            optimizer.step()
            scheduler.step()
            self.step += 1
            losses.append(value)
            accuracies.append(accuracy)
            seen += len(batch)
            lr = float(optimizer.param_groups[0]["lr"])
            self.emit(BatchEnd(epoch=epoch, batch=index, n_batches=len(batches), step=self.step, loss=value, lr=lr))
        seconds = time.perf_counter() - started
        record = {"epoch": epoch, "train_loss": sum(losses) / max(1, len(losses)),
                  "contrastive_accuracy": sum(accuracies) / max(1, len(accuracies)),
                  "lr": float(optimizer.param_groups[0]["lr"]), "seconds": seconds,
                  "train_images_per_s": seen / seconds if seconds > 0 else None}
        self.epochs_completed = epoch + 1
        state = {"epoch": epoch, "step": self.step, "saved": utc_now()}
        checkpoints.save_checkpoint(self.folder.checkpoints, "last", self.network, state)
        self.folder.append_metrics(record)
        self.emit(EpochEnd(epoch, record, None, False, self.bundle.model.stage_names()[:-1] + ["projector"]))
        return True

    def _finish(self, status: str) -> PretrainResult:
        metrics = self.folder.read_metrics()
        report: dict[str, Any] = {"status": status, "run_id": self.folder.run_id, "method": "ssl",
                                  "epochs_completed": self.epochs_completed, "steps": self.step,
                                  "final_loss": metrics[-1]["train_loss"] if metrics else None,
                                  "final_contrastive_accuracy": metrics[-1]["contrastive_accuracy"] if metrics else None}
        entry = None
        if status == "completed":
            backbone = {k: v.detach().float().cpu() if v.is_floating_point() else v.detach().cpu()
                        for k, v in self.network.backbone.state_dict().items()}
            notes = {"run_dir": str(self.folder.path), "method": "SimCLR (NT-Xent)",
                     "image_size": self.preprocessing.image_size, "epochs": self.epochs_completed,
                     "n_images": len(self.images), "temperature": self.config.temperature,
                     "allow_flips": self.config.allow_flips}
            entry = self.store.add_state_dict(
                self.config.name, self.config.model, backbone,
                source=f"self-supervised (SimCLR) on {self.source_name}",
                licence=f"derived from the images of {self.source_name}; their terms apply",
                layout="medtl-backbone", in_channels=self.bundle.in_channels, notes=json.dumps(notes),
            )
            report["weights"] = entry.to_json()
        report["seconds"] = time.perf_counter() - self.started
        report["finished"] = utc_now()
        self.folder.write_report(report)
        self.emit(RunFinished(status, str(self.folder.path), None, None, report))
        return PretrainResult(status, self.folder.path, epochs_completed=self.epochs_completed, report=report,
                              weights=entry)


def _config_record(config: PretrainConfig, images: LabelledImages, bundle: ModelBundle, plan: ExecutionPlan,
                   preprocessing: Preprocessing, folder: RunRecord, source_name: str) -> dict[str, Any]:
    weights = bundle.weights
    return {
        "run_id": folder.run_id, "kind": "pretraining", "method": "ssl", "pretrain_config": config.to_dict(),
        "resolved": {key: config.value(key) for key in ("image_size", "epochs", "batch_size", "lr")},
        "seed": config.seed,
        "execution": {"device": str(plan.device), "precision": plan.precision, "channels_last": plan.channels_last,
                      "messages": plan.messages},
        "model": {"architecture": config.model, "in_channels": bundle.in_channels,
                  "feature_dim": bundle.model.feature_dim},
        "weights": None if weights is None else {"name": weights.entry.name, "sha256": weights.sha256,
                                                 "source": weights.entry.source},
        "preprocessing": {"image_size": preprocessing.image_size, "in_channels": preprocessing.in_channels,
                          "mean": list(preprocessing.mean), "std": list(preprocessing.std),
                          "fingerprint": preprocessing.fingerprint()},
        "data": {"source": source_name, "name": images.name, "n_images": len(images), "ids": images.ids},
        **environment_record(),
    }


def pretrain_ssl(config: PretrainConfig, images: LabelledImages, events: Any = None, control: RunControl | None = None,
                 *, source_name: str = "", run_dir: str | Path | None = None, runs_dir: str | Path | None = None,
                 weight_store: WeightStore | None = None) -> PretrainResult:
    """SimCLR-pretrain ``config.model``'s backbone on ``images`` (labels ignored) and store it as ``config.name``.

    Bad input (config, name already taken, starting weights, no images)
    raises after a ``RunFailed`` event; failures during training return a
    result with status "failed" (traceback in the run folder's error.log).
    """
    emit = as_callback(events)
    control = control or RunControl()
    folder: RunRecord | None = None
    try:
        config.validate()
        if config.method != "ssl":
            raise ValueError(f"pretrain_ssl runs method 'ssl', not {config.method!r}")
        store = weight_store or WeightStore()
        check_name_is_free(store, config.name)
        plan = plan_execution(config.device, config.precision, config.channels_last)
        in_channels = config.in_channels or detect_in_channels(images)
        bundle = starting_bundle(config, in_channels, store)
        preprocessing = Preprocessing(int(config.value("image_size")), in_channels, bundle.mean, bundle.std)
        source_name = source_name or images.name
        if run_dir is not None:
            folder = RunRecord.at(run_dir)
        else:
            folder = RunRecord.create(runs_dir or Path("runs"), f"pretrain-ssl-{config.model}")
        folder.write_config(_config_record(config, images, bundle, plan, preprocessing, folder, source_name))
    except Exception as exc:
        emit(RunFailed(str(exc), str(folder.path) if folder else None))
        raise
    run = ContrastiveRun(config, images, bundle, plan, preprocessing, folder, emit, control, store, source_name)
    try:
        return run.execute()
    except Exception as exc:  # noqa: BLE001 - any failure during training ends the run cleanly
        reason, report = folder.record_failure(exc)
        emit(RunFailed(reason, str(folder.path)))
        return PretrainResult("failed", folder.path, epochs_completed=run.epochs_completed, report=report,
                              error=reason)
