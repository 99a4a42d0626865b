"""Bootstrap 95% confidence intervals for classification metrics.

Resampling a test set 1000 times and calling torchmetrics 1000 times would
take seconds; instead each resample is a vector of draw counts per sample,
and every metric is computed from count-weighted confusion matrices and a
weighted Mann-Whitney AUC, vectorised over all resamples at once. The
weighted formulas equal the point estimates of
:func:`~medtl_gui.core.evaluation.classification.classification_metrics`
for the identity resample (checked in the tests).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from medtl_gui.core.evaluation.classification import predict_labels

BOOTSTRAP_METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "specificity", "f1", "auc")


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros_like(numerator, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def weighted_auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Binary ROC AUC of ``scores`` for each row of sample ``weights`` (r, n); NaN if a class is absent.

    AUC = P(score_pos > score_neg) + 0.5 P(tie), with pairs weighted by the
    product of their draw counts.
    """
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    group_starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    w = weights[:, order]
    positive = labels[order] == 1
    pos_groups = np.add.reduceat(w * positive, group_starts, axis=1)
    neg_groups = np.add.reduceat(w * ~positive, group_starts, axis=1)
    neg_below = np.cumsum(neg_groups, axis=1) - neg_groups
    numerator = (pos_groups * (neg_below + 0.5 * neg_groups)).sum(axis=1)
    total_pos = pos_groups.sum(axis=1)
    total_neg = neg_groups.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = numerator / (total_pos * total_neg)
    auc[(total_pos == 0) | (total_neg == 0)] = np.nan
    return auc


def weighted_metrics(labels: np.ndarray, probabilities: np.ndarray, weights: np.ndarray, threshold: float) -> dict[str, np.ndarray]:
    """Every metric in :data:`BOOTSTRAP_METRICS`, one value per row of ``weights`` (r, n)."""
    n_classes = probabilities.shape[1]
    predictions = predict_labels(probabilities, threshold)
    pair = labels * n_classes + predictions
    one_hot = np.zeros((len(labels), n_classes * n_classes))
    one_hot[np.arange(len(labels)), pair] = 1.0
    confusion = (weights @ one_hot).reshape(-1, n_classes, n_classes)
    total = confusion.sum(axis=(1, 2))
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    actual = confusion.sum(axis=2)
    predicted = confusion.sum(axis=1)
    fp, fn = predicted - tp, actual - tp
    tn = total[:, None] - tp - fp - fn
    precision = _safe_divide(tp, tp + fp)
    recall = _safe_divide(tp, tp + fn)
    specificity = _safe_divide(tn, tn + fp)
    f1 = _safe_divide(2 * tp, 2 * tp + fp + fn)
    present = actual > 0
    balanced = _safe_divide((recall * present).sum(axis=1), present.sum(axis=1).astype(np.float64))
    if n_classes == 2:
        pick = lambda a: a[:, 1]  # noqa: E731 - positive class
        auc = weighted_auc(labels, probabilities[:, 1], weights)
    else:
        pick = lambda a: a.mean(axis=1)  # noqa: E731 - macro average
        per_class = np.stack(
            [weighted_auc((labels == c).astype(np.int64), probabilities[:, c], weights) for c in range(n_classes)],
            axis=1,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
            auc = np.nanmean(per_class, axis=1)
    return {
        "accuracy": _safe_divide(tp.sum(axis=1), total),
        "balanced_accuracy": balanced,
        "precision": pick(precision),
        "recall": pick(recall),
        "specificity": pick(specificity),
        "f1": pick(f1),
        "auc": auc,
    }


def bootstrap_confidence_intervals(
    y_true: np.ndarray,
    probabilities: np.ndarray,
    threshold: float = 0.5,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Percentile bootstrap intervals ``{metric: [low, high]}`` plus the settings used."""
    labels = np.asarray(y_true, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim == 1:
        probabilities = np.stack([1 - probabilities, probabilities], axis=1)
    n = len(labels)
    if n == 0:
        raise ValueError("no samples to resample")
    rng = np.random.default_rng(seed)
    intervals: dict[str, list[float | None]] = {}
    values: dict[str, list[np.ndarray]] = {name: [] for name in BOOTSTRAP_METRICS}
    chunk = 250
    for start in range(0, n_resamples, chunk):
        rows = min(chunk, n_resamples - start)
        draws = rng.integers(0, n, size=(rows, n))
        weights = np.zeros((rows, n))
        np.add.at(weights, (np.arange(rows)[:, None], draws), 1.0)
        for name, value in weighted_metrics(labels, probabilities, weights, threshold).items():
            values[name].append(value)
    alpha = (1.0 - confidence) / 2
    for name, parts in values.items():
        data = np.concatenate(parts)
        data = data[np.isfinite(data)]
        intervals[name] = (
            [float(np.quantile(data, alpha)), float(np.quantile(data, 1 - alpha))] if data.size else [None, None]
        )
    return {"confidence": confidence, "n_resamples": n_resamples, "seed": seed, "intervals": intervals}
