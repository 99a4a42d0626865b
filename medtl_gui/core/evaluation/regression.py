"""Regression metrics (torchmetrics): MAE, MSE, RMSE."""

from __future__ import annotations

from typing import Any

import numpy as np


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """MAE, MSE and RMSE over all values (any matching shapes)."""
    import torch
    from torchmetrics.functional import mean_absolute_error, mean_squared_error

    target = torch.as_tensor(np.asarray(y_true, dtype=np.float64))
    preds = torch.as_tensor(np.asarray(y_pred, dtype=np.float64))
    if target.shape != preds.shape:
        raise ValueError(f"predictions {tuple(preds.shape)} and targets {tuple(target.shape)} differ in shape")
    if target.numel() == 0:
        raise ValueError("no samples to evaluate")
    mse = float(mean_squared_error(preds, target))
    return {
        "n": int(target.shape[0]),
        "mae": float(mean_absolute_error(preds, target)),
        "mse": mse,
        "rmse": mse**0.5,
    }
