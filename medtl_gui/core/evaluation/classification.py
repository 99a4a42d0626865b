"""Classification metrics, computed with torchmetrics.

Binary tasks report precision, recall (sensitivity), specificity and F1 of
the positive class (index 1) at a decision threshold on its probability;
multi-class tasks report macro averages and argmax predictions. ROC AUC is
binary, or one-vs-rest macro for multi-class; it is ``None`` when the
labels hold a single class (undefined). Every result also carries the
confusion matrix (rows: true class, columns: predicted) and per-class
figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: the keys every classification result has (besides ``per_class``)
CLASSIFICATION_KEYS = (
    "n",
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "sensitivity",
    "specificity",
    "f1",
    "auc",
    "confusion_matrix",
    "threshold",
)


def _as_probabilities(probabilities: np.ndarray, n_classes: int) -> np.ndarray:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim == 1:
        if n_classes != 2:
            raise ValueError("1-D scores are only valid for binary tasks (probability of class 1)")
        probabilities = np.stack([1.0 - probabilities, probabilities], axis=1)
    if probabilities.ndim != 2 or probabilities.shape[1] != n_classes:
        raise ValueError(f"probabilities must have shape (n, {n_classes}), got {probabilities.shape}")
    return probabilities


def predict_labels(probabilities: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Class predictions: positive-class probability >= threshold (binary) or argmax."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim == 2 and probabilities.shape[1] == 2:
        return (probabilities[:, 1] >= threshold).astype(np.int64)
    if probabilities.ndim == 1:
        return (probabilities >= threshold).astype(np.int64)
    return probabilities.argmax(axis=1).astype(np.int64)


def _value(tensor: Any) -> float:
    """A metric in [0, 1] as a Python float (float32 round-off such as 1.0000001 removed)."""
    return min(1.0, max(0.0, float(tensor.item())))


def classification_metrics(
    y_true: Sequence[int] | np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    threshold: float = 0.5,
) -> dict[str, Any]:
    """All classification metrics for true labels and predicted probabilities (n, classes)."""
    import torch
    import torchmetrics.functional.classification as tmc

    n_classes = len(class_names)
    if n_classes < 2:
        raise ValueError("classification metrics need at least 2 classes")
    probs = _as_probabilities(probabilities, n_classes)
    labels = np.asarray(y_true, dtype=np.int64)
    if labels.shape != (len(probs),):
        raise ValueError(f"{len(labels)} labels for {len(probs)} predictions")
    if len(labels) == 0:
        raise ValueError("no samples to evaluate")
    predictions = predict_labels(probs, threshold)
    target = torch.from_numpy(labels)
    preds = torch.from_numpy(predictions)
    prob_t = torch.from_numpy(probs)
    k = {"num_classes": n_classes}
    confusion = tmc.multiclass_confusion_matrix(preds, target, **k).numpy()
    per_precision = tmc.multiclass_precision(preds, target, average="none", **k).numpy()
    per_recall = tmc.multiclass_recall(preds, target, average="none", **k).numpy()
    per_specificity = tmc.multiclass_specificity(preds, target, average="none", **k).numpy()
    per_f1 = tmc.multiclass_f1_score(preds, target, average="none", **k).numpy()
    present = np.unique(labels)
    per_auc: list[float | None] = [None] * n_classes
    if present.size >= 2:
        for c in range(n_classes):
            if c in present:
                per_auc[c] = _value(tmc.binary_auroc(prob_t[:, c], (target == c).long()))
    result: dict[str, Any] = {
        "n": int(len(labels)),
        "accuracy": _value(tmc.multiclass_accuracy(preds, target, average="micro", **k)),
        # mean recall over the classes that occur (sklearn's definition)
        "balanced_accuracy": float(np.mean(per_recall[present])),
        "confusion_matrix": confusion.astype(int).tolist(),
        "threshold": float(threshold) if n_classes == 2 else None,
    }
    if n_classes == 2:
        result["precision"] = _value(tmc.binary_precision(preds, target))
        result["recall"] = _value(tmc.binary_recall(preds, target))
        result["specificity"] = _value(tmc.binary_specificity(preds, target))
        result["f1"] = _value(tmc.binary_f1_score(preds, target))
        result["auc"] = _value(tmc.binary_auroc(prob_t[:, 1], target)) if present.size == 2 else None
    else:
        result["precision"] = float(np.mean(per_precision))
        result["recall"] = float(np.mean(per_recall))
        result["specificity"] = float(np.mean(per_specificity))
        result["f1"] = float(np.mean(per_f1))
        result["auc"] = (
            float(np.mean([a for a in per_auc if a is not None])) if present.size >= 2 else None
        )
    result["sensitivity"] = result["recall"]
    support = np.bincount(labels, minlength=n_classes)
    result["per_class"] = {
        name: {
            "precision": float(per_precision[c]),
            "recall": float(per_recall[c]),
            "specificity": float(per_specificity[c]),
            "f1": float(per_f1[c]),
            "auc": per_auc[c],
            "support": int(support[c]),
        }
        for c, name in enumerate(class_names)
    }
    return result
