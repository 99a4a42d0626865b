"""Metrics: torchmetrics-based results cross-checked against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from medtl_gui.core.evaluation import (
    CLASSIFICATION_KEYS,
    bootstrap_confidence_intervals,
    classification_metrics,
    regression_metrics,
    segmentation_metrics,
    youden_threshold,
)
from medtl_gui.core.evaluation.bootstrap import weighted_metrics


def _binary_case(seed: int = 0, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.35).astype(np.int64)
    scores = np.clip(0.3 * labels + rng.normal(0.4, 0.2, n), 0, 1)
    scores[:20] = np.round(scores[:20], 1)  # some ties
    return labels, np.stack([1 - scores, scores], axis=1)


def _multiclass_case(seed: int = 1, n: int = 240, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[labels]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, probs


@pytest.mark.parametrize("threshold", [0.5, 0.42])
def test_binary_metrics_match_sklearn(threshold: float) -> None:
    labels, probs = _binary_case()
    result = classification_metrics(labels, probs, ["normal", "pneumonia"], threshold=threshold)
    preds = (probs[:, 1] >= threshold).astype(int)
    tn, fp, fn, tp = skm.confusion_matrix(labels, preds).ravel()
    assert set(CLASSIFICATION_KEYS) <= set(result)
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(labels, preds))
    assert result["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(labels, preds))
    assert result["precision"] == pytest.approx(skm.precision_score(labels, preds))
    assert result["recall"] == pytest.approx(skm.recall_score(labels, preds))
    assert result["sensitivity"] == result["recall"]
    assert result["specificity"] == pytest.approx(tn / (tn + fp))
    assert result["f1"] == pytest.approx(skm.f1_score(labels, preds))
    assert result["auc"] == pytest.approx(skm.roc_auc_score(labels, probs[:, 1]), abs=1e-6)
    assert result["confusion_matrix"] == skm.confusion_matrix(labels, preds).tolist()
    assert result["n"] == len(labels)
    assert result["per_class"]["pneumonia"]["support"] == int(labels.sum())
    assert result["per_class"]["normal"]["recall"] == pytest.approx(tn / (tn + fp))


def test_multiclass_metrics_match_sklearn() -> None:
    labels, probs = _multiclass_case()
    names = ["a", "b", "c", "d"]
    result = classification_metrics(labels, probs, names)
    preds = probs.argmax(axis=1)
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(labels, preds))
    assert result["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(labels, preds))
    assert result["precision"] == pytest.approx(skm.precision_score(labels, preds, average="macro"))
    assert result["recall"] == pytest.approx(skm.recall_score(labels, preds, average="macro"))
    assert result["f1"] == pytest.approx(skm.f1_score(labels, preds, average="macro"))
    assert result["auc"] == pytest.approx(skm.roc_auc_score(labels, probs, multi_class="ovr", average="macro"), abs=1e-6)
    per_class_f1 = skm.f1_score(labels, preds, average=None)
    assert [result["per_class"][n]["f1"] for n in names] == pytest.approx(per_class_f1.tolist())
    assert result["threshold"] is None


def test_auc_is_none_when_only_one_class_is_present() -> None:
    labels = np.zeros(5, dtype=int)
    probs = np.full((5, 2), 0.5)
    assert classification_metrics(labels, probs, ["x", "y"])["auc"] is None


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        classification_metrics([0, 1], np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="labels for"):
        classification_metrics([0, 1, 1], np.zeros((2, 2)), ["a", "b"])


@pytest.mark.parametrize("case", ["binary", "multiclass"])
def test_vectorised_bootstrap_formulas_equal_point_estimates(case: str) -> None:
    labels, probs = _binary_case() if case == "binary" else _multiclass_case()
    names = [str(i) for i in range(probs.shape[1])]
    point = classification_metrics(labels, probs, names, threshold=0.45)
    identity = weighted_metrics(labels, probs, np.ones((1, len(labels))), 0.45)
    for name, value in identity.items():
        assert value[0] == pytest.approx(point[name], abs=1e-6), name
    # a resample with duplicated samples equals sklearn on the expanded arrays
    rng = np.random.default_rng(3)
    draws = rng.integers(0, len(labels), len(labels))
    weights = np.bincount(draws, minlength=len(labels))[None, :].astype(float)
    expanded = weighted_metrics(labels, probs, weights, 0.45)
    if case == "binary":
        assert expanded["auc"][0] == pytest.approx(skm.roc_auc_score(labels[draws], probs[draws, 1]))
    assert expanded["accuracy"][0] == pytest.approx(
        skm.accuracy_score(labels[draws], (probs[draws, 1] >= 0.45) if case == "binary" else probs[draws].argmax(1))
    )


def test_bootstrap_intervals_bracket_the_estimate_and_are_reproducible() -> None:
    labels, probs = _binary_case(n=400)
    point = classification_metrics(labels, probs, ["a", "b"])
    ci = bootstrap_confidence_intervals(labels, probs, n_resamples=500, seed=7)
    again = bootstrap_confidence_intervals(labels, probs, n_resamples=500, seed=7)
    assert ci == again
    for name in ("accuracy", "auc", "f1", "specificity"):
        low, high = ci["intervals"][name]
        assert low < point[name] < high
        assert high - low < 0.2


def test_youden_threshold_separates_shifted_scores() -> None:
    labels = np.array([0] * 50 + [1] * 50)
    scores = np.r_[np.linspace(0.0, 0.6, 50), np.linspace(0.65, 1.0, 50)]
    threshold = youden_threshold(labels, scores)
    assert 0.6 < threshold <= 0.65
    result = classification_metrics(labels, scores, ["a", "b"], threshold=threshold)
    assert result["accuracy"] == 1.0


def test_regression_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=50), rng.normal(size=50)
    result = regression_metrics(y, p)
    assert result["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert result["mse"] == pytest.approx(skm.mean_squared_error(y, p))


def test_dice_and_iou_match_sklearn_on_pixels() -> None:
    rng = np.random.default_rng(0)
    true = rng.random((3, 16, 16)) > 0.6
    pred = true ^ (rng.random((3, 16, 16)) > 0.9)
    result = segmentation_metrics(pred, true)
    per_dice = [skm.f1_score(t.ravel(), p.ravel()) for p, t in zip(pred, true)]
    per_iou = [skm.jaccard_score(t.ravel(), p.ravel()) for p, t in zip(pred, true)]
    assert result["dice"] == pytest.approx(np.mean(per_dice))
    assert result["iou"] == pytest.approx(np.mean(per_iou))
    assert result["dice_global"] == pytest.approx(skm.f1_score(true.ravel(), pred.ravel()))
    empty = segmentation_metrics(np.zeros((1, 4, 4)), np.zeros((1, 4, 4)))
    assert empty["dice"] == 1.0 and empty["iou"] == 1.0
