"""Choosing the decision threshold of a binary classifier."""

from __future__ import annotations

import numpy as np

THRESHOLD_POLICIES = {
    "fixed": "use the configured threshold (0.5 by default: right after a class-weighted loss)",
    "youden": "maximise Youden's J (sensitivity + specificity - 1) on the validation split",
}


def youden_threshold(y_true: np.ndarray, positive_scores: np.ndarray) -> float:
    """The score threshold that maximises sensitivity + specificity - 1 (via torchmetrics' ROC)."""
    import torch
    from torchmetrics.functional.classification import binary_roc

    labels = np.asarray(y_true, dtype=np.int64)
    if np.unique(labels).size < 2:
        return 0.5
    fpr, tpr, thresholds = binary_roc(
        torch.as_tensor(np.asarray(positive_scores, dtype=np.float64)), torch.as_tensor(labels)
    )
    best = int(torch.argmax(tpr - fpr))
    return float(min(max(thresholds[best].item(), 0.0), 1.0))
