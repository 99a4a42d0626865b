"""Rebuild a trained model from its run folder (no weight store needed).

A run folder holds everything: ``config.json`` (architecture, classes,
preprocessing), the ``best``/``last`` checkpoints and ``report.json`` (the
decision threshold the run chose). Prediction, evaluation and export all
start from :func:`load_trained_model`.
"""

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
from medtl_gui.core.runs import RunRecord


@dataclass
class TrainedModel:
    """A run's trained network with what is needed to feed it and read its outputs.

    ``record`` is the run's ``config.json``; ``report`` its ``report.json``
    (empty while the run has not ended); ``threshold`` the binary decision
    threshold the run chose; ``tta`` the test-time augmentation prediction
    applies (see :mod:`medtl_gui.core.inference.tta`).
    """

    model: TransferModel
    config: TrainConfig
    preprocessing: Preprocessing
    class_names: list[str]
    threshold: float
    checkpoint: str
    record: dict[str, Any]
    run_dir: Path
    report: dict[str, Any]
    tta: str = "none"

    @property
    def run_id(self) -> str:
        """The run folder's name."""
        return self.run_dir.name

    @property
    def head_kind(self) -> str:
        """binary, multiclass or regression."""
        return self.model.head_kind


def load_trained_model(run_dir: str | os.PathLike, checkpoint: str = "best", tta: str = "none") -> TrainedModel:
    """The model of checkpoint ``checkpoint`` (default ``best``) of a run, in eval mode.

    The checkpoint is verified first (its SHA-256 against the one recorded
    when it was saved): a damaged or missing checkpoint raises
    :class:`~medtl_gui.core.training.checkpoint_integrity.CheckpointError`
    naming the file; no other checkpoint is used in its place.

    The decision threshold comes from the run's report (chosen on the
    validation split when the run used ``threshold_policy="youden"``).
    ``tta``: test-time augmentation mode used when predicting (``none``,
    ``flips``, ``flips+rot``, ``full``). An ensemble folder (``ensemble.json``)
    gives an :class:`~medtl_gui.core.inference.ensemble.EnsembleModel`, which
    prediction, evaluation and export accept in place of a run's model.
    Raises ``FileNotFoundError`` for a folder that is not a run.
    """
    from medtl_gui.core.inference.tta import check_tta_mode

    tta = check_tta_mode(tta)
    if RunRecord(run_dir).is_ensemble:
        from medtl_gui.core.inference.ensemble import load_ensemble

        return load_ensemble(run_dir, tta=tta)  # type: ignore[return-value]
    folder = RunRecord.existing(run_dir)
    record = folder.read_config()
    config = folder.train_config(record)
    state = checkpoints.load_model_state(folder.checkpoints, checkpoint)  # verified; no fallback to another
    model_info = record["model"]
    class_names = list(record["data"]["class_names"])
    bundle = build_model(
        config.model,
        task=config.task,
        n_classes=len(class_names),
        in_channels=int(model_info["in_channels"]),
        head_dropout=config.head_dropout,
    )
    bundle.model.load_state_dict(state)
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
    return TrainedModel(bundle.model, config, preprocessing, class_names, threshold, checkpoint, record,
                        folder.path, report, tta)
