"""Segmentation overlap metrics: Dice and IoU (Jaccard), via torchmetrics.

Dice equals the F1 score over pixels and IoU the Jaccard index, so both use
torchmetrics' binary classification functions on flattened masks.
"""

from __future__ import annotations

from typing import Any

import numpy as np


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
