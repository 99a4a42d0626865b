"""Whole-volume (3D) networks as :class:`TransferModel`: backbone stages + a head, like the 2D zoo.

Each network takes ``(N, 1, D, H, W)`` volumes. The stages (stem ... last
block, then ``head``) are what the strategies freeze and give
discriminative learning rates to, exactly as for 2D models.

- ``cnn3d_small``: a small 3D CNN (four conv blocks, widths w, 2w, 4w, 8w,
  max-pooling between them, global average + max pooling); about 0.9 M
  parameters at w=16 and fast enough on a 2-core CPU for 28^3 volumes; the deepest block runs in float32.
- ``resnet18_3d``: torchvision's video ResNet-18 (``r3d_18``, 33 M
  parameters) with a 1-channel stem; slow on a CPU (about 7x the small CNN).

Pretrained 3D weights: none are installed, so both start from random
weights. The seam for later work is :func:`starting_weights` (e.g. 2D
ImageNet kernels inflated to 3D, or Kinetics-400 ``r3d_18`` weights whose RGB
stem is summed to one channel as :func:`adapt_input_channels` does in 2D).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from medtl_gui.core.models.heads import build_head
from medtl_gui.core.models.transfer_model import TransferModel


class VolumeModel(TransferModel):
    """A :class:`TransferModel` of 3D layers: a channels-last request becomes channels-last-3d (5-D weights)."""

    def to(self, *args: Any, **kwargs: Any) -> "VolumeModel":
        if kwargs.get("memory_format") is torch.channels_last:
            kwargs["memory_format"] = torch.channels_last_3d
        return super().to(*args, **kwargs)


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm3d(c_out), nn.ReLU(inplace=True),
        nn.Conv3d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm3d(c_out), nn.ReLU(inplace=True),
    )


class AvgMaxPool3d(nn.Module):
    """Global average and max pooling side by side, flattened: (N, C, D, H, W) -> (N, 2C). A small local
    finding (an aneurysm's bulge) is kept by the max even where the average dilutes it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=(2, 3, 4)), x.amax(dim=(2, 3, 4))], dim=1)


class Float32Stage(nn.Module):
    """Runs ``inner`` in float32 even under bf16/fp16 autocast. The deepest 3D blocks work on a few voxels
    (2^3 to 4^3): there, bf16 convolution gradients on the CPU turned a weight into NaN within a few
    steps, while their cost in float32 is negligible."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self.inner(x.float())


def small_cnn3d_backbone(in_channels: int = 1, width: int = 16) -> tuple[nn.Sequential, int]:
    """Stem + three pooled conv blocks + global average/max pooling; returns (backbone, feature width)."""
    w = width
    backbone = nn.Sequential(OrderedDict([
        ("stem", _conv_block(in_channels, w)),
        ("block1", nn.Sequential(nn.MaxPool3d(2), _conv_block(w, 2 * w))),
        ("block2", nn.Sequential(nn.MaxPool3d(2, ceil_mode=True), _conv_block(2 * w, 4 * w))),
        ("block3", Float32Stage(nn.Sequential(nn.MaxPool3d(2, ceil_mode=True), _conv_block(4 * w, 8 * w)))),
        ("pool", AvgMaxPool3d()),
    ]))
    return backbone, 16 * w


def resnet18_3d_backbone(in_channels: int = 1) -> tuple[nn.Sequential, int]:
    """torchvision's ``r3d_18`` (random weights) with an ``in_channels`` stem, its layers as stages."""
    from torchvision.models.video import r3d_18

    network = r3d_18(weights=None)
    old = network.stem[0]
    network.stem[0] = nn.Conv3d(in_channels, old.out_channels, kernel_size=old.kernel_size, stride=old.stride,
                                padding=old.padding, bias=False)
    backbone = nn.Sequential(OrderedDict([
        ("stem", network.stem), ("layer1", network.layer1), ("layer2", network.layer2),
        ("layer3", Float32Stage(network.layer3)), ("layer4", Float32Stage(network.layer4)),
        ("pool", nn.AdaptiveAvgPool3d(1)), ("flatten", nn.Flatten()),
    ]))
    return backbone, 512


@dataclass(frozen=True)
class VolumeModelSpec:
    """One 3D network the task offers."""

    name: str
    title: str
    description: str
    build: Callable[[int], tuple[nn.Sequential, int]]
    min_input_size: int = 8


VOLUME_MODELS: dict[str, VolumeModelSpec] = {spec.name: spec for spec in (
    VolumeModelSpec("cnn3d_small", "Small 3D CNN",
                    "Four 3D conv blocks (16-128 channels) with global average and max pooling; about 0.9 M "
                    "parameters, fast on a CPU.", lambda c: small_cnn3d_backbone(c, 16)),
    VolumeModelSpec("cnn3d_wide", "Small 3D CNN (wider)",
                    "The small 3D CNN with 24-192 channels (about 2 M parameters, about 2.5x slower).",
                    lambda c: small_cnn3d_backbone(c, 24)),
    VolumeModelSpec("resnet18_3d", "3D ResNet-18",
                    "torchvision's video ResNet-18 (r3d_18) with a 1-channel stem, 33 M parameters; slow on a CPU.",
                    resnet18_3d_backbone, min_input_size=16),
)}


@dataclass
class VolumeModelBundle:
    """A built 3D model and what the run loop and config.json need to know about it (cf. ``ModelBundle``)."""

    model: VolumeModel
    in_channels: int
    head_kind: str
    n_classes: int
    weights: Any = None  # no pretrained 3D weights yet (see starting_weights)
    pretrained_head: nn.Module | None = None

    @property
    def weights_id(self) -> str:
        return "random"


def starting_weights(model: str, pretrained: str | None) -> None:
    """The pretrained weights a 3D model starts from: none are available yet (random initialisation).

    The seam for 2D->3D inflation (or Kinetics ``r3d_18`` weights): return a state dict for the backbone here
    and :func:`build_volume_model` loads it."""
    if pretrained not in (None, "none"):
        raise ValueError(f"no pretrained 3D weights are available for {model} (asked for {pretrained!r}); "
                         "3D models train from random weights for now")
    return None


def build_volume_model(name: str, *, head_kind: str, n_classes: int, in_channels: int = 1,
                       head_dropout: float = 0.0) -> VolumeModelBundle:
    """3D network ``name`` with a new head of ``head_kind`` ("binary" or "multiclass")."""
    try:
        spec = VOLUME_MODELS[name]
    except KeyError:
        raise ValueError(f"unknown 3D model {name!r}; available: {', '.join(VOLUME_MODELS)}") from None
    backbone, feature_dim = spec.build(in_channels)
    head = build_head(head_kind, feature_dim, n_classes, dropout=head_dropout)
    model = VolumeModel(name, backbone, head, feature_dim, head_kind)
    return VolumeModelBundle(model, in_channels, head_kind, n_classes)
