"""Turn stored pixels into the tensors a model expects.

Steps, in order: pick a 2D plane (middle slice of a volume), map grey
values to [0, 1] (8-bit images divided by 255; otherwise the scan's own
window if it has one, else robust 0.5/99.5 percentiles), convert to the
model's channel count (grey replicated to RGB, or RGB to luminance),
resize to a square of ``image_size`` (bilinear, antialiased). Augmentation
runs on that [0, 1] tensor; :meth:`Preprocessing.normalise` then applies
the weights' mean/std.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: bump when the preprocessing maths changes, so caches keyed on it are invalidated
PREPROCESSING_VERSION = 1

LUMINANCE = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class Preprocessing:
    """How images become model inputs (also a cache key: see :meth:`fingerprint`)."""

    image_size: int
    in_channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    low_percentile: float = 0.5
    high_percentile: float = 99.5

    def __post_init__(self) -> None:
        if self.in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 or 3, got {self.in_channels}")
        if len(self.mean) != self.in_channels or len(self.std) != self.in_channels:
            raise ValueError("mean and std need one value per input channel")
        if self.image_size < 8:
            raise ValueError(f"image_size must be at least 8 px, got {self.image_size}")

    def fingerprint(self) -> str:
        """A short hash of every setting (and the code version) that changes the output."""
        payload = json.dumps({"v": PREPROCESSING_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def prepare(self, source: Any):
        """A float32 tensor (channels, image_size, image_size) in [0, 1] from pixels or a ``Scan``."""
        import torch
        import torch.nn.functional as F

        pixels, window = _pixels_and_window(source)
        plane, is_colour = select_plane(pixels)
        unit = to_unit_range(plane, window, self.low_percentile, self.high_percentile)
        tensor = torch.from_numpy(unit)
        tensor = tensor.permute(2, 0, 1) if is_colour else tensor.unsqueeze(0)
        tensor = convert_channels(tensor, self.in_channels)
        if tuple(tensor.shape[1:]) != (self.image_size, self.image_size):
            tensor = F.interpolate(
                tensor.unsqueeze(0), size=(self.image_size, self.image_size), mode="bilinear",
                align_corners=False, antialias=True,
            )[0].clamp_(0.0, 1.0)
        return tensor.contiguous()

    def normalise(self, tensor):
        """Apply mean/std to a [0, 1] tensor of shape (..., channels, H, W)."""
        import torch

        mean = torch.tensor(self.mean, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
        std = torch.tensor(self.std, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
        return (tensor - mean) / std


def _pixels_and_window(source: Any) -> tuple[np.ndarray, tuple[float, float] | None]:
    if hasattr(source, "pixels"):
        return np.asarray(source.pixels), getattr(source, "window", None)
    return np.asarray(source), None


def select_plane(pixels: np.ndarray) -> tuple[np.ndarray, bool]:
    """A 2D (y, x) grey plane or (y, x, 3) colour image; volumes give their middle slice."""
    if pixels.ndim == 2:
        return pixels, False
    if pixels.ndim == 3 and pixels.shape[-1] in (3, 4):
        return pixels[..., :3], True
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        return pixels[..., 0], False
    if pixels.ndim == 3:
        return pixels[pixels.shape[0] // 2], False
    if pixels.ndim == 4 and pixels.shape[-1] in (3, 4):
        return pixels[pixels.shape[0] // 2, ..., :3], True
    raise ValueError(f"cannot make a 2D image from pixels of shape {pixels.shape}")


def to_unit_range(
    plane: np.ndarray,
    window: tuple[float, float] | None = None,
    low_percentile: float = 0.5,
    high_percentile: float = 99.5,
) -> np.ndarray:
    """Map pixel values to float32 in [0, 1].

    uint8 and bool images are scaled linearly; others use the window
    (centre, width) when given, else the robust percentiles of the plane.
    """
    if plane.dtype == np.bool_:
        return plane.astype(np.float32)
    if plane.dtype == np.uint8:
        return plane.astype(np.float32) / 255.0
    values = plane.astype(np.float32)
    if window is not None and window[1] > 0:
        low, high = window[0] - window[1] / 2, window[0] + window[1] / 2
    else:
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return np.zeros_like(values)
        low, high = np.percentile(finite, [low_percentile, high_percentile])
    if not high > low:
        return np.zeros_like(values) if not np.any(values > low) else (values > low).astype(np.float32)
    out = (values - low) / (high - low)
    return np.clip(np.nan_to_num(out, nan=0.0), 0.0, 1.0).astype(np.float32)


def convert_channels(tensor, in_channels: int):
    """(C, H, W) with C in {1, 3} to ``in_channels`` (grey replicated, RGB to luminance)."""
    import torch

    channels = tensor.shape[0]
    if channels == in_channels:
        return tensor
    if channels == 1 and in_channels == 3:
        return tensor.expand(3, -1, -1)
    if channels == 3 and in_channels == 1:
        weights = torch.tensor(LUMINANCE, dtype=tensor.dtype).view(3, 1, 1)
        return (tensor * weights).sum(dim=0, keepdim=True)
    raise ValueError(f"cannot convert {channels} channels to {in_channels}")
