"""The task loss (L_new) and turning network outputs into probabilities."""

from __future__ import annotations

import torch
import torch.nn.functional as F


class TaskLoss:
    """Loss of a head's outputs against targets.

    - ``binary``: binary cross-entropy on one logit; class weights weight
      each sample by its class (normalised by the total weight, like
      ``cross_entropy``); label smoothing pulls targets towards 0.5.
    - ``multiclass``: cross-entropy with optional class weights and smoothing.
    - ``regression``: mean squared or mean absolute error.
    """

    def __init__(
        self,
        head_kind: str,
        class_weights: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        regression_loss: str = "mse",
    ):
        self.head_kind = head_kind
        self.class_weights = class_weights
        self.label_smoothing = label_smoothing
        self.regression_loss = regression_loss

    def to(self, device: torch.device) -> "TaskLoss":
        """Move the class weights to ``device``."""
        if self.class_weights is not None:
            self.class_weights = self.class_weights.to(device)
        return self

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        outputs = outputs.float()
        if self.head_kind == "binary":
            labels = targets.float()
            soft = labels * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
            per_sample = F.binary_cross_entropy_with_logits(outputs[:, 0], soft, reduction="none")
            if self.class_weights is None:
                return per_sample.mean()
            weights = self.class_weights[targets.long()]
            return (per_sample * weights).sum() / weights.sum()
        if self.head_kind == "multiclass":
            return F.cross_entropy(outputs, targets.long(), weight=self.class_weights, label_smoothing=self.label_smoothing)
        values = targets.float().view(outputs.shape)
        if self.regression_loss == "mae":
            return F.l1_loss(outputs, values)
        return F.mse_loss(outputs, values)


def output_probabilities(outputs: torch.Tensor, head_kind: str) -> torch.Tensor:
    """Class probabilities (n, classes) for classifiers; the raw values for regression."""
    outputs = outputs.float()
    if head_kind == "binary":
        positive = torch.sigmoid(outputs[:, 0])
        return torch.stack([1.0 - positive, positive], dim=1)
    if head_kind == "multiclass":
        return torch.softmax(outputs, dim=1)
    return outputs
