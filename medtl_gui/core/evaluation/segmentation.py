"""Segmentation metrics: Dice, IoU, pixel ROC AUC, sensitivity, specificity, accuracy.

- :func:`segmentation_metrics`: Dice and IoU of foreground masks (via
  torchmetrics; Dice equals the pixel F1 score and IoU the Jaccard index).
- :class:`SegmentationScorer`: accumulates a model's probability maps
  against label masks, image by image, counting only pixels inside each
  image's field of view when it has one, and reports per label, per case
  (a volume's slices pooled into one case) and over all pixels.

Definitions (per label, from the pixel confusion counts): Dice = 2TP /
(2TP + FP + FN), IoU = TP / (TP + FP + FN) (both 1 when prediction and
truth are empty), sensitivity = TP / (TP + FN), specificity = TN / (TN +
FP), accuracy = (TP + TN) / all; ROC AUC of the label's probability over
the pixels. ``dice``/``iou``/... are means over cases; ``*_pooled`` pool
every pixel of every case (how most retinal-vessel papers report).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: at most this many pixels per label are kept for the pooled ROC AUC (a seeded random subset beyond)
MAX_AUC_PIXELS = 20_000_000


def _overlap(pred: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    import torch
    from torchmetrics.functional.classification import binary_f1_score, binary_jaccard_index

    p = torch.as_tensor(np.asarray(pred).reshape(-1) > 0).long()
    t = torch.as_tensor(np.asarray(true).reshape(-1) > 0).long()
    if int(p.sum()) == 0 and int(t.sum()) == 0:
        return 1.0, 1.0  # both empty: perfect agreement
    return float(binary_f1_score(p, t)), float(binary_jaccard_index(p, t))


def segmentation_metrics(pred_masks: np.ndarray, true_masks: np.ndarray) -> dict[str, Any]:
    """Dice and IoU of foreground (> 0) masks, shape (n, ...) each.

    ``dice``/``iou`` are means over images (an image where both masks are
    empty scores 1); ``dice_global``/``iou_global`` pool all pixels.
    """
    pred_masks = np.asarray(pred_masks)
    true_masks = np.asarray(true_masks)
    if pred_masks.shape != true_masks.shape:
        raise ValueError(f"mask shapes differ: {pred_masks.shape} vs {true_masks.shape}")
    if pred_masks.shape[0] == 0:
        raise ValueError("no masks to evaluate")
    per_image = [_overlap(p, t) for p, t in zip(pred_masks, true_masks)]
    dice_global, iou_global = _overlap(pred_masks, true_masks)
    return {
        "n": int(pred_masks.shape[0]),
        "dice": float(np.mean([d for d, _ in per_image])),
        "iou": float(np.mean([j for _, j in per_image])),
        "dice_global": dice_global,
        "iou_global": iou_global,
    }


# --------------------------------------------------------------------------- confusion-count metrics
@dataclass
class PixelCounts:
    """Pixel confusion counts of one label."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, other: "PixelCounts") -> None:
        """Add another set of counts to these."""
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn

    @classmethod
    def of(cls, predicted: np.ndarray, truth: np.ndarray) -> "PixelCounts":
        """Counts of boolean arrays of the same shape."""
        predicted, truth = np.asarray(predicted, bool), np.asarray(truth, bool)
        tp = int(np.count_nonzero(predicted & truth))
        fp = int(np.count_nonzero(predicted)) - tp
        fn = int(np.count_nonzero(truth)) - tp
        return cls(tp, fp, fn, int(predicted.size) - tp - fp - fn)

    def metrics(self) -> dict[str, float | None]:
        """Dice, IoU, sensitivity, specificity, accuracy (None where undefined)."""
        tp, fp, fn, tn = self.tp, self.fp, self.fn, self.tn
        union = tp + fp + fn
        total = tp + fp + fn + tn
        return {
            "dice": 1.0 if union == 0 else 2 * tp / (2 * tp + fp + fn),
            "iou": 1.0 if union == 0 else tp / union,
            "sensitivity": tp / (tp + fn) if tp + fn else None,
            "specificity": tn / (tn + fp) if tn + fp else None,
            "accuracy": (tp + tn) / total if total else None,
        }


def dice_iou(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Dice and IoU of two boolean masks (1, 1 when both are empty)."""
    values = PixelCounts.of(predicted, truth).metrics()
    return float(values["dice"]), float(values["iou"])


def pixel_auc(scores: np.ndarray, truth: np.ndarray) -> float | None:
    """ROC AUC of pixel scores against boolean truth (None when only one class is present)."""
    import torch
    from torchmetrics.functional.classification import binary_auroc

    truth = np.asarray(truth, bool).reshape(-1)
    if truth.all() or not truth.any():
        return None
    return float(binary_auroc(torch.as_tensor(np.asarray(scores, np.float32).reshape(-1)),
                              torch.as_tensor(truth).long()))


def label_probabilities(probabilities: np.ndarray, n_labels: int) -> np.ndarray:
    """(n_labels, H, W) probability of each label from a model's (outputs, H, W) probabilities."""
    if probabilities.shape[0] == 1:
        return probabilities
    return probabilities[1: n_labels + 1]


def predicted_labels(probabilities: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Label indices (H, W): sigmoid output >= threshold, or the most probable of the softmax outputs."""
    if probabilities.shape[0] == 1:
        return (probabilities[0] >= threshold).astype(np.uint8)
    return np.argmax(probabilities, axis=0).astype(np.uint8)


@dataclass
class _CaseState:
    counts: list[PixelCounts]
    scores: list[list[np.ndarray]]
    truths: list[list[np.ndarray]]
    n_images: int = 0


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


@dataclass
class SegmentationScorer:
    """Accumulates predictions image by image; :meth:`report` gives the metrics.

    ``probabilities`` passed to :meth:`add` are the model's per-pixel
    output probabilities (1, H, W) for one label (sigmoid) or (labels + 1,
    H, W) (softmax). Only pixels inside ``fov`` count.
    """

    label_names: list[str]
    threshold: float = 0.5
    seed: int = 0
    _cases: dict[str, _CaseState] = field(default_factory=dict)
    _has_fov: bool = False

    def add(self, case_id: str, probabilities: np.ndarray, labels: np.ndarray, fov: np.ndarray | None = None) -> None:
        """Score one image (or slice) of case ``case_id``."""
        n = len(self.label_names)
        probabilities = np.asarray(probabilities, dtype=np.float32)
        labels = np.asarray(labels)
        if probabilities.shape[1:] != labels.shape:
            raise ValueError(f"prediction shape {probabilities.shape[1:]} differs from the mask's {labels.shape}")
        inside = np.ones(labels.shape, bool) if fov is None else np.asarray(fov, bool)
        self._has_fov = self._has_fov or fov is not None
        predicted = predicted_labels(probabilities, self.threshold)[inside]
        truth = labels[inside]
        per_label = label_probabilities(probabilities, n)
        state = self._cases.setdefault(case_id, _CaseState([PixelCounts() for _ in range(n)],
                                                           [[] for _ in range(n)], [[] for _ in range(n)]))
        state.n_images += 1
        for k in range(n):
            state.counts[k].add(PixelCounts.of(predicted == k + 1, truth == k + 1))
            state.scores[k].append(per_label[k][inside])
            state.truths[k].append(truth == k + 1)

    def _pooled_auc(self, k: int) -> float | None:
        scores = np.concatenate([s for state in self._cases.values() for s in state.scores[k]])
        truths = np.concatenate([t for state in self._cases.values() for t in state.truths[k]])
        if scores.size > MAX_AUC_PIXELS:
            keep = np.random.default_rng(self.seed).choice(scores.size, MAX_AUC_PIXELS, replace=False)
            scores, truths = scores[keep], truths[keep]
        return pixel_auc(scores, truths)

    def report(self) -> dict[str, Any]:
        """Metrics per label, per case and overall, as a JSON-ready dict (see the module docstring)."""
        if not self._cases:
            raise ValueError("no images were scored")
        n = len(self.label_names)
        per_case = []
        case_values: list[list[dict[str, float | None]]] = []
        for case_id, state in self._cases.items():
            values = []
            for k in range(n):
                metrics = state.counts[k].metrics()
                metrics["auc"] = pixel_auc(np.concatenate(state.scores[k]), np.concatenate(state.truths[k]))
                values.append(metrics)
            case_values.append(values)
            entry: dict[str, Any] = {"case": case_id, "n_images": state.n_images}
            entry.update({key: _mean([v[key] for v in values]) for key in values[0]})
            if n > 1:
                entry["labels"] = dict(zip(self.label_names, values))
            per_case.append(entry)
        labels: dict[str, dict[str, float | None]] = {}
        for k, name in enumerate(self.label_names):
            pooled = PixelCounts()
            for state in self._cases.values():
                pooled.add(state.counts[k])
            pooled_metrics = pooled.metrics()
            labels[name] = {key: _mean([values[k][key] for values in case_values]) for key in case_values[0][k]}
            labels[name].update({f"{key}_pooled": value for key, value in pooled_metrics.items()})
            labels[name]["auc_pooled"] = self._pooled_auc(k)
        keys = list(next(iter(labels.values())))
        overall = {key: _mean([labels[name][key] for name in self.label_names]) for key in keys}
        return {
            "n_images": sum(state.n_images for state in self._cases.values()),
            "n_cases": len(self._cases),
            "threshold": self.threshold,
            "inside_fov": self._has_fov,
            "label_names": list(self.label_names),
            **overall,
            "labels": labels,
            "per_case": per_case,
        }
