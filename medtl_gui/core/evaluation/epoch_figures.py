"""Numbers the run monitor draws, computed from the engine's events (numpy only, no Qt, no torch).

The worker computes them on the training thread and sends the results, so
the GUI thread only draws: per-class precision/recall/specificity/F1 from a
confusion matrix, row-normalised percentages, ROC curves from the
validation predictions, and which validation images fall in a
confusion-matrix cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ClassFigures:
    """Precision, recall (sensitivity), specificity and F1 of one class (one-vs-rest); None when undefined."""

    name: str
    support: int
    precision: float | None
    recall: float | None
    specificity: float | None
    f1: float | None


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator > 0 else None


def per_class_figures(confusion: Sequence[Sequence[int]], class_names: Sequence[str]) -> list[ClassFigures]:
    """One-vs-rest figures of every class from a confusion matrix (rows: true class, columns: predicted)."""
    matrix = np.asarray(confusion, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] != len(class_names):
        raise ValueError(f"confusion matrix of shape {matrix.shape} does not fit {len(class_names)} classes")
    total = matrix.sum()
    figures = []
    for c, name in enumerate(class_names):
        tp = matrix[c, c]
        fn = matrix[c].sum() - tp
        fp = matrix[:, c].sum() - tp
        tn = total - tp - fn - fp
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        f1 = None
        if precision is not None and recall is not None:
            f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        figures.append(ClassFigures(name, int(matrix[c].sum()), precision, recall, _ratio(tn, tn + fp), f1))
    return figures


def row_percentages(confusion: Sequence[Sequence[int]]) -> np.ndarray:
    """Each row divided by its sum, in percent (rows without images stay 0)."""
    matrix = np.asarray(confusion, dtype=np.float64)
    sums = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix * 100.0, sums, out=np.zeros_like(matrix), where=sums > 0)


@dataclass(frozen=True)
class RocCurve:
    """One ROC curve: false and true positive rates (from (0, 0) to (1, 1)) and the area under it."""

    label: str
    fpr: np.ndarray
    tpr: np.ndarray
    auc: float


def roc_curve(y_true: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False/true positive rates at every distinct score threshold (``y_true``: 1 positive, 0 negative).

    Raises ``ValueError`` when the labels hold only one class (the curve is undefined).
    """
    truth = np.asarray(y_true, dtype=bool)
    score = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(truth.sum()), int((~truth).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("a ROC curve needs positive and negative examples")
    order = np.argsort(-score, kind="mergesort")
    score, truth = score[order], truth[order]
    last_of_each = np.r_[np.nonzero(np.diff(score))[0], len(score) - 1]  # thresholds between distinct scores
    tps = np.cumsum(truth)[last_of_each]
    fps = (last_of_each + 1) - tps
    return np.r_[0.0, fps / n_neg], np.r_[0.0, tps / n_pos]


def roc_curves(true_labels: Sequence[str], probabilities: Sequence[Sequence[float]],
               class_names: Sequence[str]) -> list[RocCurve]:
    """The positive class's curve (two classes) or one one-vs-rest curve per class present."""
    probs = np.asarray(probabilities, dtype=np.float64)
    index = {name: i for i, name in enumerate(class_names)}
    truth = np.array([index[str(label)] for label in true_labels], dtype=np.int64)
    if probs.ndim != 2 or probs.shape != (len(truth), len(class_names)) or len(truth) == 0:
        return []
    classes = [1] if len(class_names) == 2 else range(len(class_names))
    curves = []
    for c in classes:
        try:
            fpr, tpr = roc_curve(truth == c, probs[:, c])
        except ValueError:
            continue
        curves.append(RocCurve(class_names[c], fpr, tpr, float(np.trapezoid(tpr, fpr))))
    return curves


@dataclass(frozen=True)
class ValidationPrediction:
    """One validation image's true and predicted class and probabilities (image ids are the project's)."""

    image_id: str
    true_label: str
    predicted_label: str
    probabilities: tuple[float, ...]


@dataclass
class ValidationFigures:
    """What one epoch's validation predictions show: ROC curves and the images behind each matrix cell."""

    epoch: int
    class_names: list[str]
    predictions: list[ValidationPrediction]
    curves: list[RocCurve] = field(default_factory=list)

    def image_ids_in_cell(self, true_index: int, predicted_index: int) -> list[str]:
        """Validation images of true class ``true_index`` predicted as ``predicted_index``."""
        true_name, predicted_name = self.class_names[true_index], self.class_names[predicted_index]
        return [p.image_id for p in self.predictions
                if p.true_label == true_name and p.predicted_label == predicted_name]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (kept in the run folder so a reopened run shows its ROC and cells)."""
        return {"epoch": self.epoch, "class_names": self.class_names,
                "predictions": [[p.image_id, p.true_label, p.predicted_label, list(p.probabilities)]
                                for p in self.predictions]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ValidationFigures":
        """Rebuild from :meth:`to_json` (ROC curves recomputed)."""
        names = [str(n) for n in data["class_names"]]
        predictions = [ValidationPrediction(str(i), str(t), str(p), tuple(float(v) for v in probs))
                       for i, t, p, probs in data["predictions"]]
        return validation_figures(int(data["epoch"]), names, predictions)


def validation_figures(epoch: int, class_names: Sequence[str],
                       predictions: Sequence[ValidationPrediction]) -> ValidationFigures:
    """ROC curves and cell lookup of one epoch's validation predictions."""
    names = list(class_names)
    curves = roc_curves([p.true_label for p in predictions], [p.probabilities for p in predictions], names) \
        if predictions and names else []
    return ValidationFigures(epoch, names, list(predictions), curves)
