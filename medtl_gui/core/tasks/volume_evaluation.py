"""A trained 3D classification run evaluated on a split of volumes (``medtl evaluate``).

The run's checkpoint is re-loaded through its run folder (safetensors,
checked by :mod:`medtl_gui.core.training.checkpoints`), the volumes go
through the preprocessing recorded in config.json, the forward pass uses
the run's precision, and the figures are classification's
(:func:`~medtl_gui.core.training.run_report.split_metrics`, bootstrap 95%
intervals), so they match the run's own test report.
"""

from __future__ import annotations

import itertools
import os
from types import SimpleNamespace
from typing import Any

import numpy as np

from medtl_gui.core.data.errors import DataError


def class_mapping(run_classes: list[str], data_classes: list[str], origin: str) -> np.ndarray:
    """Index in the run's classes of each of the data's classes (same names, any order)."""
    unknown = [name for name in data_classes if name not in run_classes]
    if unknown:
        raise DataError(origin, f"classes {unknown} are unknown to the model, which knows {run_classes}")
    return np.array([run_classes.index(name) for name in data_classes], dtype=np.int64)


def prediction_runner(model: Any, plan: Any, loss_fn: Any, tta: str = "none") -> Any:
    """What ``epoch_loop.predict`` needs of a step runner: model, plan, loss and forward (``tta="flips"``: the
    mean output over the 8 combinations of flips along the three axes)."""

    def forward(inputs: Any) -> tuple[Any, None]:
        with plan.autocast():
            if tta != "flips":
                return model(inputs), None
            outputs = [model(inputs.flip(dims) if dims else inputs)
                       for n in range(4) for dims in itertools.combinations((2, 3, 4), n)]
            return sum(o.float() for o in outputs) / len(outputs), None

    return SimpleNamespace(model=model, plan=plan, loss_fn=loss_fn, forward=forward)


def evaluate_volume_run(run_dir: str | os.PathLike, volumes: Any, *, threshold: float | None = None,
                        confidence_intervals: bool = True, device: str = "auto", checkpoint: str = "best",
                        tta: str = "none", seed: int = 0) -> dict[str, Any]:
    """Classification figures of run ``run_dir``'s model on ``volumes`` (a ``volume_data.Volumes``), JSON-ready."""
    import torch

    from medtl_gui.core.evaluation.bootstrap import bootstrap_confidence_intervals
    from medtl_gui.core.models.volume_models import build_volume_model
    from medtl_gui.core.runs import RunRecord
    from medtl_gui.core.tasks.volume_batches import VolumeBatches
    from medtl_gui.core.tasks.volume_data import VolumePreprocessing
    from medtl_gui.core.training.checkpoints import load_model_state
    from medtl_gui.core.training.device import plan_execution
    from medtl_gui.core.training.epoch_loop import predict
    from medtl_gui.core.training.losses import TaskLoss
    from medtl_gui.core.training.run_report import split_metrics

    if tta not in ("none", "flips"):
        raise ValueError(f"3D classification offers test-time augmentation 'none' or 'flips', not {tta!r}")
    if len(volumes) == 0:
        raise DataError(volumes.name or "data", "no labelled volumes to evaluate")
    record = RunRecord.existing(run_dir)
    saved = record.read_config()
    class_names = list(saved["data"]["class_names"])
    bundle = build_volume_model(saved["model"]["architecture"], head_kind=saved["model"]["head_kind"],
                                n_classes=len(class_names), in_channels=int(saved["model"]["in_channels"]),
                                head_dropout=float(saved["config"].get("head_dropout", 0.0)))
    model = bundle.model
    model.load_state_dict(load_model_state(record.checkpoints, checkpoint))
    plan = plan_execution(device, saved.get("execution", {}).get("precision", "fp32"), channels_last=False)
    model.to(plan.device).eval()
    targets = class_mapping(class_names, volumes.class_names, volumes.name)[volumes.targets]
    batches = VolumeBatches({"test": _Split(volumes.volumes, targets)},
                            VolumePreprocessing.from_json(saved["preprocessing"]), "none",
                            int(saved["config"].get("batch_size", 32)), seed)
    with torch.no_grad():
        predictions = predict(prediction_runner(model, plan, TaskLoss(bundle.head_kind).to(plan.device), tta),
                              batches.eval_loader("test"))
    if threshold is None:
        report = record.report_or_none() or {}
        threshold = float(report.get("decision_threshold", saved["config"].get("threshold", 0.5)))
    metrics = split_metrics(predictions, class_names, threshold)
    metrics.pop("loss", None)
    result = {"run": str(record.path), "checkpoint": checkpoint, "data": volumes.name, "tta": tta} | metrics
    result["class_names"] = class_names
    if confidence_intervals:
        result["ci95"] = bootstrap_confidence_intervals(predictions.targets.astype(np.int64), predictions.probabilities,
                                                        threshold=threshold, seed=seed)["intervals"]
    return result


class _Split:
    """Volumes with targets in the run's class order (what ``VolumeBatches`` reads)."""

    def __init__(self, volumes: np.ndarray, targets: np.ndarray):
        self.volumes, self.targets = volumes, np.asarray(targets, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.targets)
