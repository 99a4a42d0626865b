"""The segmentation task loss: Dice + cross-entropy, counted only inside the field of view.

The Dice part is MONAI's ``MaskedDiceLoss`` (the activation is applied
before masking, so pixels outside the field of view contribute nothing to
either the intersection or the sums); the cross-entropy part is the mean of
the per-pixel binary or categorical cross-entropy over field-of-view pixels.
Dice is computed over the whole batch (``batch=True``), so patches without
any foreground do not produce unstable per-patch Dice values.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class SegmentationLoss:
    """``dice_weight * Dice + ce_weight * CE`` of logits (B, outputs, H, W) against packed targets.

    Targets are int64 (B, 2, H, W): channel 0 label indices, channel 1 the
    field of view (1 where the pixel counts), as the patch dataset makes them.
    """

    def __init__(self, n_outputs: int, dice_weight: float = 1.0, ce_weight: float = 1.0):
        from monai.losses import MaskedDiceLoss

        self.n_outputs = n_outputs
        self.dice_weight = dice_weight
        self.ce_weight = ce_weight
        binary = n_outputs == 1
        self.dice = MaskedDiceLoss(sigmoid=binary, softmax=not binary, include_background=binary, batch=True,
                                   smooth_nr=1e-5, smooth_dr=1e-5)

    def to(self, device: torch.device) -> "SegmentationLoss":
        """Nothing to move (kept for the engine's interface)."""
        return self

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        labels = targets[:, 0]
        fov = targets[:, 1:2].float()
        if self.n_outputs == 1:
            truth = (labels > 0).float().unsqueeze(1)
            per_pixel = F.binary_cross_entropy_with_logits(logits, truth, reduction="none")
        else:
            truth = F.one_hot(labels.clamp(max=self.n_outputs - 1), self.n_outputs).permute(0, 3, 1, 2).float()
            per_pixel = F.cross_entropy(logits, labels, reduction="none").unsqueeze(1)
        ce = (per_pixel * fov).sum() / fov.sum().clamp_min(1.0)
        dice = self.dice(logits, truth, mask=fov)
        return self.dice_weight * dice + self.ce_weight * ce


def output_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Per-pixel probabilities (B, outputs, H, W): sigmoid of one output, softmax of several."""
    logits = logits.float()
    return torch.sigmoid(logits) if logits.shape[1] == 1 else torch.softmax(logits, dim=1)
