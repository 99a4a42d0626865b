"""Self-supervised (SimCLR-style) pretraining of a zoo backbone on images without labels.

:func:`pretrain_ssl` checks the request, builds the starting model and the
run folder's config record, then trains through the one run loop
(:class:`~medtl_gui.core.training.run_loop.TrainingRun`) with the SimCLR
task of :mod:`contrastive_task`. So it shares supervised training's events
(``RunStarted``, ``BatchEnd``, ``EpochEnd`` with ``train_loss`` and
``contrastive_accuracy``, ``RunFinished``/``RunFailed``), cancel and pause
through ``RunControl`` between batches, and run folder (``config.json``,
``metrics.jsonl``, ``checkpoints/last.*``, ``report.json``). When the run
completes, the backbone (projection head dropped) is stored in the weight
store as ``medtl-backbone`` weights with source "self-supervised (SimCLR) on X".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medtl_gui.core.data.labelled_images import LabelledImages
from medtl_gui.core.data.preprocessing import Preprocessing
from medtl_gui.core.models.builder import ModelBundle, build_model
from medtl_gui.core.models.weights.errors import WeightsError
from medtl_gui.core.models.weights.manifest import WeightsEntry
from medtl_gui.core.models.weights.store import WeightStore
from medtl_gui.core.pretraining.config import PretrainConfig
from medtl_gui.core.pretraining.contrastive_task import (
    ContrastiveBundle,
    ContrastiveModel,
    ContrastiveRunConfig,
    ContrastiveSettings,
    ContrastiveTask,
    UnlabelledImages,
)
from medtl_gui.core.runs import RunRecord, environment_record
from medtl_gui.core.tasks.base import Prepared
from medtl_gui.core.training.control import RunControl
from medtl_gui.core.training.device import ExecutionPlan, plan_execution
from medtl_gui.core.training.events import RunFailed, as_callback
from medtl_gui.core.training.run_loop import RunResult, TrainingRun
from medtl_gui.core.training.run_setup import detect_in_channels
from medtl_gui.core.training.seeding import seed_everything


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
    network = ContrastiveModel(bundle.model.backbone, bundle.model.feature_dim, config.projection_dim)
    task = ContrastiveTask(config, images, preprocessing, store, source_name)
    prepared = Prepared(images, ContrastiveSettings(UnlabelledImages(len(images))), ContrastiveBundle(network, bundle))
    run = TrainingRun(task, ContrastiveRunConfig.of(config), prepared, plan, folder, emit, control, resumed=False)
    result = run.execute_or_fail()
    return PretrainResult(result.status, result.run_dir, result.best_epoch, result.best_metric,
                          result.epochs_completed, result.report, result.error, weights=task.weights)
