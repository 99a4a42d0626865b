"""Whole-image prediction of a segmentation network: MONAI sliding-window inference with blending.

The image is covered by windows of the network's input size overlapping by
``overlap`` (a fraction of the window); each window's logits are weighted
by a Gaussian centred on the window (``mode="gaussian"``) so that seams
disappear and the less reliable window borders count less. Images smaller
than a window are padded and the padding is cropped away again. With
``flips`` the prediction is averaged with those of the horizontally and
vertically flipped image (test-time augmentation).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from medtl_gui.core.data.segmentation_cases import PreparedCase
from medtl_gui.core.training.device import ExecutionPlan
from medtl_gui.core.training.segmentation_loss import output_probabilities


@torch.no_grad()
def sliding_window_logits(model: nn.Module, image: torch.Tensor, window: int, overlap: float = 0.5,
                          batch_size: int = 16, plan: ExecutionPlan | None = None,
                          flips: bool = False) -> torch.Tensor:
    """Logits (1, outputs, H, W) of a normalised image (1, C, H, W), on the CPU in float32."""
    from monai.inferers import sliding_window_inference

    was_training = model.training
    model.eval()
    device = plan.device if plan is not None else next(model.parameters()).device

    def predictor(batch: torch.Tensor) -> torch.Tensor:
        batch = plan.to_device(batch) if plan is not None else batch.to(device)
        if plan is not None:
            with plan.autocast():
                return model(batch).float()
        return model(batch).float()

    def run(x: torch.Tensor) -> torch.Tensor:
        return sliding_window_inference(x, roi_size=(window, window), sw_batch_size=batch_size,
                                        predictor=predictor, overlap=overlap, mode="gaussian",
                                        padding_mode="constant", cval=0.0, sw_device=device, device="cpu")

    try:
        logits = run(image)
        if flips:
            logits = (logits + run(image.flip(-1)).flip(-1) + run(image.flip(-2)).flip(-2)) / 3.0
    finally:
        model.train(was_training)
    return logits.float()


def predict_case(model: nn.Module, case: PreparedCase, window: int, overlap: float = 0.5, batch_size: int = 16,
                 plan: ExecutionPlan | None = None, flips: bool = False,
                 scale: float = 1.0) -> tuple[torch.Tensor, np.ndarray]:
    """Logits (1, outputs, H, W) and probabilities (outputs, H, W) of one prepared case.

    ``scale``: the network works at that multiple of the image's resolution
    (see ``SegmentationInput.scale``); the image is resampled bilinearly
    for it and the logits are resampled back, so results are always at the
    image's own size.
    """
    image = case.normalise(case.image).unsqueeze(0)
    if scale != 1.0:
        size = (max(1, round(case.size[0] * scale)), max(1, round(case.size[1] * scale)))
        image = F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=scale < 1.0)
    logits = sliding_window_logits(model, image, window, overlap, batch_size, plan, flips)
    if scale != 1.0:
        logits = F.interpolate(logits, size=case.size, mode="bilinear", align_corners=False, antialias=scale > 1.0)
    return logits, output_probabilities(logits)[0].numpy()
