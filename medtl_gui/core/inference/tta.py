"""Test-time augmentation (TTA): predict transformed copies of each image and average the probabilities.

A :class:`TestTimeTransform` changes a normalised batch ``(n, C, H, W)``
and, for dense outputs (segmentation maps ``(n, K, H, W)``), maps the
prediction back onto the original pixel grid (``invert``). Modes:

- ``none``: the image as it is;
- ``flips``: the image, its left-right and its up-down mirror (3 passes;
  the same set the segmentation sliding-window inference uses);
- ``flips+rot``: the 8 symmetries of the square (rotations by 0/90/180/270
  degrees, each with and without a left-right mirror);
- ``full``: ``flips+rot`` plus a 10% zoom in and a 10% zoom out
  (10 passes). Zoom out pads with the border pixels.

Classification averages the class probabilities of the passes (not the
logits: averaged probabilities stay calibrated where each pass is).
Rotations and up-down mirrors are only sensible when the model has seen
such images or the anatomy allows it (a chest radiograph upside down is
not a chest radiograph): measure before using them
(``benchmarks/bench_ensemble.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: TTA modes, from cheapest to most expensive
TTA_MODES = ("none", "flips", "flips+rot", "full")
#: zoom factors used by ``full`` (besides 1.0)
ZOOMS = (0.9, 1.1)


class TTAModeError(ValueError):
    """An unknown test-time augmentation mode."""

    def __init__(self, mode: str):
        self.mode = mode
        super().__init__(f"unknown test-time augmentation {mode!r}; expected one of {', '.join(TTA_MODES)}")


@dataclass(frozen=True)
class TestTimeTransform:
    """One test-time transform: ``flip`` left-right, then rotate by ``quarter_turns`` x 90 degrees, then zoom."""

    __test__ = False  # not a pytest test class despite the name

    quarter_turns: int = 0
    flip: bool = False
    zoom: float = 1.0

    @property
    def name(self) -> str:
        """e.g. ``identity``, ``flip``, ``rot90``, ``flip+rot270``, ``zoom1.1``."""
        parts = (["flip"] if self.flip else []) + ([f"rot{90 * self.quarter_turns}"] if self.quarter_turns else [])
        parts += [f"zoom{self.zoom:g}"] if self.zoom != 1.0 else []
        return "+".join(parts) or "identity"

    def apply(self, images):
        """The transformed batch ``(n, C, H, W)`` (same shape)."""
        import torch

        out = images
        if self.flip:
            out = out.flip(-1)
        if self.quarter_turns:
            out = torch.rot90(out, self.quarter_turns, dims=(-2, -1))
        if self.zoom != 1.0:
            out = _zoom(out, self.zoom)
        return out

    def invert(self, maps):
        """Dense predictions ``(n, K, H, W)`` of a transformed batch, moved back onto the original grid."""
        import torch

        out = maps
        if self.zoom != 1.0:
            out = _zoom(out, 1.0 / self.zoom)
        if self.quarter_turns:
            out = torch.rot90(out, -self.quarter_turns, dims=(-2, -1))
        if self.flip:
            out = out.flip(-1)
        return out


def _zoom(images, factor: float):
    """Scale the content about the centre by ``factor`` keeping the size (>1 crops, <1 pads with borders)."""
    import torch.nn.functional as F

    height, width = images.shape[-2:]
    new_h, new_w = max(1, round(height * factor)), max(1, round(width * factor))
    scaled = F.interpolate(images, size=(new_h, new_w), mode="bilinear", align_corners=False,
                           antialias=factor < 1.0)
    if factor > 1.0:
        top, left = (new_h - height) // 2, (new_w - width) // 2
        return scaled[..., top:top + height, left:left + width]
    pad_h, pad_w = height - new_h, width - new_w
    return F.pad(scaled, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2), mode="replicate")


def check_tta_mode(mode: str | None) -> str:
    """``mode`` (``None`` means ``none``) if it is a known mode; raises :class:`TTAModeError` otherwise."""
    mode = "none" if mode is None else str(mode)
    if mode not in TTA_MODES:
        raise TTAModeError(mode)
    return mode


def tta_transforms(mode: str | None) -> list[TestTimeTransform]:
    """The transforms of a mode, identity first."""
    mode = check_tta_mode(mode)
    if mode == "none":
        return [TestTimeTransform()]
    if mode == "flips":
        return [TestTimeTransform(), TestTimeTransform(flip=True), TestTimeTransform(quarter_turns=2, flip=True)]
    dihedral = [TestTimeTransform(quarter_turns=k, flip=f) for f in (False, True) for k in range(4)]
    if mode == "flips+rot":
        return dihedral
    return dihedral + [TestTimeTransform(zoom=z) for z in ZOOMS]


def averaged_probabilities(predict: Callable, images, mode: str | None):
    """Mean of ``predict(transform.apply(images))`` over the mode's transforms (class probabilities ``(n, K)``).

    ``predict`` maps a normalised batch to probabilities (a tensor). With
    ``none`` this is exactly ``predict(images)``.
    """
    transforms = tta_transforms(mode)
    total = predict(images)
    for transform in transforms[1:]:
        total = total + predict(transform.apply(images))
    return total / len(transforms)


def averaged_maps(predict: Callable, images, mode: str | None):
    """Mean of the inverted dense predictions ``(n, K, H, W)`` over the mode's transforms (segmentation).

    Zooms and 90-degree rotations of non-square images change the map's
    shape, so ``predict`` must accept any size; rotations are skipped for
    non-square images.
    """
    square = images.shape[-1] == images.shape[-2]
    transforms = [t for t in tta_transforms(mode) if square or t.quarter_turns % 2 == 0]
    total = predict(images)
    for transform in transforms[1:]:
        total = total + transform.invert(predict(transform.apply(images)))
    return total / len(transforms)
