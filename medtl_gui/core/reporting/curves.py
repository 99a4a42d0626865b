"""The curves a report draws from a model's probabilities: ROC, precision-recall and calibration.

The numbers printed in the report (AUC, accuracy, ...) come from
``medtl evaluate``'s code; these functions only give the points of the
figures and the expected calibration error. One-vs-rest for each class of
a multi-class model; binary models use the positive class (index 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Curve:
    """Points of one curve (``x``, ``y``) and its name in the legend."""

    name: str
    x: np.ndarray
    y: np.ndarray


def _sorted_scores(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative true and false positives at each distinct threshold, highest score first."""
    order = np.argsort(-scores, kind="mergesort")
    scores, positive = scores[order], positive[order]
    distinct = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tps = np.cumsum(positive)[distinct]
    fps = (distinct + 1) - tps
    return tps.astype(np.float64), fps.astype(np.float64)


def roc_curve(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates (from (0, 0) to (1, 1)); empty arrays when a class is absent."""
    scores, positive = np.asarray(scores, float), np.asarray(positive, bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return np.zeros(0), np.zeros(0)
    tps, fps = _sorted_scores(scores, positive)
    return np.r_[0.0, fps / n_neg], np.r_[0.0, tps / n_pos]


def precision_recall_curve(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Recall and precision at each threshold (recall rising from 0); empty when there is no positive."""
    scores, positive = np.asarray(scores, float), np.asarray(positive, bool)
    if not positive.any():
        return np.zeros(0), np.zeros(0)
    tps, fps = _sorted_scores(scores, positive)
    precision = tps / (tps + fps)
    recall = tps / positive.sum()
    return np.r_[0.0, recall], np.r_[precision[0], precision]


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Area under the step precision-recall curve (sum of precision x recall increments)."""
    recall, precision = precision_recall_curve(scores, positive)
    if recall.size == 0:
        return None
    return float(np.sum(np.diff(recall) * precision[1:]))


def class_curves(probabilities: np.ndarray, targets: np.ndarray, class_names: list[str]) -> dict[str, list[Curve]]:
    """``{"roc": [...], "pr": [...]}``: the positive class for a binary model, each class otherwise."""
    probabilities = np.asarray(probabilities, float)
    targets = np.asarray(targets, int)
    classes = [1] if len(class_names) == 2 else list(range(len(class_names)))
    out: dict[str, list[Curve]] = {"roc": [], "pr": []}
    for c in classes:
        positive = targets == c
        fpr, tpr = roc_curve(probabilities[:, c], positive)
        if fpr.size:
            out["roc"].append(Curve(class_names[c], fpr, tpr))
        recall, precision = precision_recall_curve(probabilities[:, c], positive)
        if recall.size:
            out["pr"].append(Curve(class_names[c], recall, precision))
    return out


@dataclass
class Calibration:
    """A reliability diagram: per confidence bin its mean confidence, accuracy and count; and the ECE."""

    bin_edges: np.ndarray
    confidence: np.ndarray  # mean predicted confidence per bin (NaN when empty)
    accuracy: np.ndarray  # share of correct predictions per bin (NaN when empty)
    counts: np.ndarray
    ece: float


def calibration(probabilities: np.ndarray, targets: np.ndarray, predictions: np.ndarray,
                n_bins: int = 10) -> Calibration:
    """Reliability of the predicted class's probability (top-label calibration), equal-width bins.

    ECE = sum over bins of (bin count / n) * |accuracy - mean confidence|.
    """
    probabilities = np.asarray(probabilities, float)
    predictions = np.asarray(predictions, int)
    confidence = probabilities[np.arange(len(predictions)), predictions]
    correct = (predictions == np.asarray(targets, int)).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    counts = np.bincount(index, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(index, weights=confidence, minlength=n_bins) / counts
        accuracy = np.bincount(index, weights=correct, minlength=n_bins) / counts
    filled = counts > 0
    ece = float(np.sum(counts[filled] / max(len(predictions), 1)
                       * np.abs(accuracy[filled] - mean_confidence[filled])))
    return Calibration(edges, mean_confidence, accuracy, counts.astype(int), ece)


def most_confident_errors(probabilities: np.ndarray, targets: np.ndarray, predictions: np.ndarray,
                          limit: int = 8) -> list[int]:
    """Indices of wrong predictions, the most confident first (at most ``limit``)."""
    probabilities = np.asarray(probabilities, float)
    predictions = np.asarray(predictions, int)
    wrong = np.flatnonzero(predictions != np.asarray(targets, int))
    confidence = probabilities[wrong, predictions[wrong]]
    return wrong[np.argsort(-confidence, kind="mergesort")][:limit].tolist()
