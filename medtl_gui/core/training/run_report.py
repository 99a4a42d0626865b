"""Metrics of predictions on a split, validation samples, and the final run report."""

from __future__ import annotations

from typing import Any

import numpy as np

from medtl_gui.core.data.labelled_images import LabelledImages
from medtl_gui.core.evaluation.bootstrap import bootstrap_confidence_intervals
from medtl_gui.core.evaluation.classification import classification_metrics, predict_labels
from medtl_gui.core.evaluation.regression import regression_metrics
from medtl_gui.core.evaluation.thresholds import youden_threshold
from medtl_gui.core.training.epoch_loop import Predictions
from medtl_gui.core.training.events import ValidationSample


def split_metrics(predictions: Predictions, class_names: list[str], threshold: float) -> dict[str, Any]:
    """Classification or regression metrics of one split's predictions, plus its mean loss."""
    if class_names:
        metrics = classification_metrics(predictions.targets.astype(np.int64), predictions.probabilities,
                                         class_names, threshold=threshold)
    else:
        values = predictions.probabilities
        metrics = regression_metrics(predictions.targets.reshape(values.shape), values)
    metrics["loss"] = predictions.loss
    return metrics


def flat_metrics(prefix: str, metrics: dict[str, Any]) -> dict[str, float | None]:
    """Scalar entries of ``metrics`` as ``<prefix>_<name>`` (matrices and per-class left out)."""
    return {
        f"{prefix}_{name}": (float(value) if value is not None else None)
        for name, value in metrics.items()
        if name not in ("confusion_matrix", "per_class", "threshold", "n") and (value is None or np.isscalar(value))
    }


def choose_threshold(policy: str, fixed: float, predictions: Predictions | None, class_names: list[str]) -> float:
    """The binary decision threshold: fixed, or Youden's J on the validation predictions."""
    if policy == "youden" and predictions is not None and len(class_names) == 2 and len(predictions.targets):
        return youden_threshold(predictions.targets.astype(np.int64), predictions.probabilities[:, 1])
    return fixed


def sample_indices(n: int, count: int) -> list[int]:
    """``count`` evenly spread indices into ``n`` items (always the same ones)."""
    if n == 0 or count == 0:
        return []
    return sorted(set(np.linspace(0, n - 1, num=min(n, count)).round().astype(int).tolist()))


def validation_samples(images: LabelledImages, predictions: Predictions, indices: list[int],
                       threshold: float) -> list[ValidationSample]:
    """The chosen validation images with their true and predicted labels and probabilities."""
    names = images.class_names
    samples = []
    for index in indices:
        probabilities = predictions.probabilities[index]
        if names:
            predicted = int(predict_labels(probabilities[None, :], threshold)[0])
            true_label: str | float = names[int(predictions.targets[index])]
            predicted_label: str | float = names[predicted]
        else:
            true_label = float(predictions.targets[index])
            predicted_label = float(probabilities[0])
        samples.append(ValidationSample(images[index].id, true_label, predicted_label,
                                        [float(p) for p in probabilities]))
    return samples


def test_report(predictions: Predictions, class_names: list[str], threshold: float, seed: int) -> dict[str, Any]:
    """Test-split metrics with bootstrap 95% intervals (classification)."""
    metrics = split_metrics(predictions, class_names, threshold)
    if class_names:
        metrics["ci95"] = bootstrap_confidence_intervals(
            predictions.targets.astype(np.int64), predictions.probabilities, threshold=threshold, seed=seed
        )["intervals"]
    return metrics
