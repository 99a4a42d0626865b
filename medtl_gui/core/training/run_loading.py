"""Rebuild a trained model from its run folder (no weight store needed)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medtl_gui.core.data.preprocessing import Preprocessing
from medtl_gui.core.models.builder import build_model
from medtl_gui.core.models.transfer_model import TransferModel
from medtl_gui.core.training import checkpoints
from medtl_gui.core.training.config import TrainConfig
from medtl_gui.core.training.run_folder import RunFolder


@dataclass
class TrainedModel:
    """A run's trained network with what is needed to feed it and read its outputs."""

    model: TransferModel
    config: TrainConfig
    preprocessing: Preprocessing
    class_names: list[str]
    threshold: float
    checkpoint: str
    record: dict[str, Any]
    run_dir: Path


def load_trained_model(run_dir: str | os.PathLike, checkpoint: str = "best") -> TrainedModel:
    """The model of checkpoint ``best`` (default; ``last`` if there is no best) of a run.

    The decision threshold comes from the run's report (chosen on the
    validation split when the run used ``threshold_policy="youden"``).
    """
    folder = RunFolder.existing(run_dir)
    record = folder.read_config()
    config = TrainConfig.from_dict(record["config"], origin=str(folder.path / RunFolder.CONFIG))
    if not checkpoints.checkpoint_exists(folder.checkpoints, checkpoint):
        if checkpoint == "best" and checkpoints.checkpoint_exists(folder.checkpoints, "last"):
            checkpoint = "last"
        else:
            raise FileNotFoundError(f"{folder.path}: the run has no saved checkpoint (did it finish an epoch?)")
    model_info = record["model"]
    class_names = list(record["data"]["class_names"])
    bundle = build_model(
        config.model,
        task=config.task,
        n_classes=len(class_names),
        in_channels=int(model_info["in_channels"]),
        head_dropout=config.head_dropout,
    )
    bundle.model.load_state_dict(checkpoints.load_model_state(folder.checkpoints, checkpoint))
    bundle.model.eval()
    prep = record["preprocessing"]
    preprocessing = Preprocessing(
        image_size=int(prep["image_size"]),
        in_channels=int(prep["in_channels"]),
        mean=tuple(prep["mean"]),
        std=tuple(prep["std"]),
        low_percentile=float(prep.get("low_percentile", 0.5)),
        high_percentile=float(prep.get("high_percentile", 99.5)),
    )
    report = folder.read_report() or {}
    threshold = float(report.get("decision_threshold") or config.threshold)
    return TrainedModel(bundle.model, config, preprocessing, class_names, threshold, checkpoint, record, folder.path)
