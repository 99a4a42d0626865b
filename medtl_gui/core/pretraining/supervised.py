"""Supervised in-domain pretraining: train on a labelled source project, keep the backbone.

The training itself is an ordinary engine run (default recipe, any
setting of the :class:`PretrainConfig` that is not ``None`` overriding
it), so it has the usual run folder, events, cancel and pause. When it
completes, the backbone of its best checkpoint goes into the weight store
as ``medtl-backbone`` weights with source "supervised on Y (classes ...)".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medtl_gui.core.data.labelled_images import DataSplits
from medtl_gui.core.models.weights.store import WeightStore
from medtl_gui.core.pretraining.config import PretrainConfig
from medtl_gui.core.pretraining.ssl_training import PretrainResult, check_name_is_free
from medtl_gui.core.runs import RunRecord
from medtl_gui.core.training.config import TrainConfig
from medtl_gui.core.training.control import RunControl
from medtl_gui.core.training.recipes import DEFAULT_RECIPE, recipe_for_data

#: PretrainConfig fields that carry over to the source run's TrainConfig when set
CARRIED = ("model", "pretrained", "image_size", "in_channels", "epochs", "batch_size", "lr", "weight_decay", "seed",
           "device", "precision", "channels_last")


def source_train_config(config: PretrainConfig, data: DataSplits) -> TrainConfig:
    """The TrainConfig of the source run: the default recipe for ``data`` with the config's settings."""
    overrides: dict[str, Any] = {key: getattr(config, key) for key in CARRIED if getattr(config, key) is not None}
    overrides["strategy"] = "full"
    return recipe_for_data(DEFAULT_RECIPE, data, **overrides)


def pretrain_supervised(config: PretrainConfig, data: DataSplits, events: Any = None,
                        control: RunControl | None = None, *, source_name: str = "",
                        run_dir: str | Path | None = None, weight_store: WeightStore | None = None) -> PretrainResult:
    """Train on ``data`` (the source project) and store the best checkpoint's backbone as ``config.name``."""
    from medtl_gui.core.training import checkpoints
    from medtl_gui.core.training.engine import train

    config.validate()
    if config.method != "supervised":
        raise ValueError(f"pretrain_supervised runs method 'supervised', not {config.method!r}")
    store = weight_store or WeightStore()
    check_name_is_free(store, config.name)
    train_config = source_train_config(config, data)
    result = train(train_config, data, events, control, run_dir=run_dir, weight_store=store)
    source_name = source_name or Path(data.source).name or "a labelled source"
    report = dict(result.report)
    if result.status not in ("completed", "early_stopped") or result.run_dir is None:
        return PretrainResult(result.status, result.run_dir, epochs_completed=result.epochs_completed, report=report,
                              error=result.error)
    run = RunRecord(result.run_dir)
    folder = run.checkpoints
    tag = "best" if checkpoints.checkpoint_exists(folder, "best") else "last"
    state = checkpoints.load_model_state(folder, tag)
    backbone = {key.removeprefix("backbone."): value for key, value in state.items() if key.startswith("backbone.")}
    record = run.read_config()
    classes = ", ".join(data.class_names)
    notes = {"run_dir": str(result.run_dir), "checkpoint": tag, "image_size": record["resolved"]["image_size"],
             "epochs": result.epochs_completed, "classes": data.class_names,
             "test_auc": (report.get("test") or {}).get("auc"), "val_auc": (report.get("val") or {}).get("auc")}
    entry = store.add_state_dict(
        config.name, train_config.model, backbone,
        source=f"supervised on {source_name} ({classes})",
        licence=f"derived from the images and labels of {source_name}; their terms apply",
        layout="medtl-backbone", in_channels=int(record["model"]["in_channels"]), notes=json.dumps(notes),
    )
    report["weights"] = entry.to_json()
    return PretrainResult(result.status, result.run_dir, epochs_completed=result.epochs_completed, report=report,
                          weights=entry)
