"""Evaluate a trained run on labelled images (its own test split or another project's)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.data.labelled_images import LabelledImages
from medtl_gui.core.evaluation.bootstrap import bootstrap_confidence_intervals
from medtl_gui.core.evaluation.classification import classification_metrics
from medtl_gui.core.evaluation.regression import regression_metrics


def _target_mapping(run_classes: list[str], data_classes: list[str], origin: str) -> np.ndarray:
    """Index in the run's classes of each of the data's classes (same names, any order)."""
    unknown = [name for name in data_classes if name not in run_classes]
    if unknown:
        raise DataError(origin, f"classes {unknown} are unknown to the model, which knows {run_classes}")
    return np.array([run_classes.index(name) for name in data_classes], dtype=np.int64)


def evaluate_run(
    run_dir: str | os.PathLike,
    images: LabelledImages,
    *,
    threshold: float | None = None,
    confidence_intervals: bool = True,
    device: str = "auto",
    checkpoint: str = "best",
    seed: int = 0,
    tta: str = "none",
) -> dict[str, Any]:
    """Metrics of run ``run_dir``'s model on ``images``, as a JSON-ready dict.

    Classification: accuracy, balanced accuracy, precision, recall
    (sensitivity), specificity, F1, ROC AUC, confusion matrix, per-class
    figures and (by default) bootstrap 95% intervals. Regression: MAE, MSE.
    The decision threshold defaults to the one the run chose. ``tta``:
    test-time augmentation (``none``, ``flips``, ``flips+rot``, ``full``).
    ``run_dir`` may be an ensemble folder: the result then also holds
    ``members``, each member's metrics beside the ensemble's.
    """
    from medtl_gui.core.inference.prediction import predict_images
    from medtl_gui.core.inference.trained_model import load_trained_model

    if len(images) == 0:
        raise DataError(images.name or "data", "no labelled images to evaluate")
    trained = load_trained_model(run_dir, checkpoint, tta=tta)
    if getattr(trained, "members", None) is not None:
        from medtl_gui.core.inference.ensemble_evaluation import evaluate_ensemble

        targets = _target_mapping(trained.class_names, images.class_names, images.name)[images.targets()]
        return evaluate_ensemble(trained, images, targets, threshold=threshold,
                                 confidence_intervals=confidence_intervals, device=device, seed=seed)
    probabilities = predict_images(trained, images, device)
    base = {"run": str(trained.run_dir), "checkpoint": trained.checkpoint, "data": images.name, "tta": tta}
    if not trained.class_names:
        return base | regression_metrics(images.targets().reshape(probabilities.shape), probabilities)
    mapping = _target_mapping(trained.class_names, images.class_names, images.name)
    targets = mapping[images.targets()]
    used_threshold = trained.threshold if threshold is None else threshold
    result = base | classification_metrics(targets, probabilities, trained.class_names, threshold=used_threshold)
    result["class_names"] = trained.class_names
    if confidence_intervals:
        result["ci95"] = bootstrap_confidence_intervals(targets, probabilities, threshold=used_threshold,
                                                        seed=seed)["intervals"]
    return result
