"""Sliding-window inference: output shape, blending and borders (MONAI underneath)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from medtl_gui.core.data.segmentation import ImagePlane, SegmentationItem
from medtl_gui.core.data.segmentation_cases import SegmentationInput, prepare_case
from medtl_gui.core.training.segmentation_inference import predict_case, sliding_window_logits


class ConstantModel(nn.Module):
    """Logits of ``value`` everywhere, one per output channel."""

    def __init__(self, value: float, outputs: int = 1):
        super().__init__()
        self.value = value
        self.outputs = outputs
        self.weight = nn.Parameter(torch.zeros(1))
        self.calls = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(x.shape))
        return torch.full((x.shape[0], self.outputs, *x.shape[-2:]), self.value) + self.weight


class IdentityModel(nn.Module):
    """Returns its first input channel as the logit (each pixel's value depends on where it is)."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :1] + self.weight


@pytest.mark.parametrize(("height", "width"), [(50, 70), (20, 13), (32, 32), (97, 33)])
def test_constant_model_gives_its_value_everywhere_including_the_borders(height: int, width: int) -> None:
    model = ConstantModel(2.5, outputs=3)
    logits = sliding_window_logits(model, torch.zeros(1, 1, height, width), window=32, overlap=0.5, batch_size=4)
    assert logits.shape == (1, 3, height, width)
    assert torch.allclose(logits, torch.full_like(logits, 2.5), atol=1e-5)
    assert all(call[-2:] == (32, 32) for call in model.calls), "every window has the network's input size"


def test_overlapping_windows_blend_back_to_the_exact_image() -> None:
    image = torch.rand(1, 1, 61, 45)
    for overlap in (0.0, 0.25, 0.5, 0.75):
        logits = sliding_window_logits(IdentityModel(), image, window=24, overlap=overlap, batch_size=8)
        assert torch.allclose(logits, image, atol=1e-5), f"seams or shifts at overlap {overlap}"
    flipped = sliding_window_logits(IdentityModel(), image, window=24, flips=True)
    assert torch.allclose(flipped, image, atol=1e-5)


def test_more_overlap_means_more_windows() -> None:
    few, many = ConstantModel(0.0), ConstantModel(0.0)
    sliding_window_logits(few, torch.zeros(1, 1, 100, 100), window=32, overlap=0.0, batch_size=1)
    sliding_window_logits(many, torch.zeros(1, 1, 100, 100), window=32, overlap=0.5, batch_size=1)
    assert len(few.calls) == 16 and len(many.calls) == 36


def test_predict_case_returns_probabilities_at_the_image_size_and_restores_training_mode() -> None:
    model = ConstantModel(0.0)
    model.train()
    item = SegmentationItem("a", "a", lambda: ImagePlane(np.zeros((40, 50), np.uint8)),
                            lambda: np.zeros((40, 50), np.uint8), lambda: None)
    case = prepare_case(item, SegmentationInput(1, "per_image", (0.5,), (0.25,)))
    logits, probabilities = predict_case(model, case, window=32)
    assert logits.shape == (1, 1, 40, 50) and probabilities.shape == (1, 40, 50)
    assert np.allclose(probabilities, 0.5) and model.training
