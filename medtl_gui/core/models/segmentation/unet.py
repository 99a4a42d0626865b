"""U-Net networks: an encoder of named stages whose outputs feed a U-Net decoder.

:class:`SegmentationModel` has the shape the training engine's strategy
machinery expects (``backbone`` = the encoder, ``head`` = the decoder,
``stages()`` from stem to head), so frozen encoder (feature extraction),
fine-tuning the last N stages, gradual unfreezing, discriminative learning
rates and L2-SP work on it unchanged: the decoder plays the part of a
classifier's head.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class ConvBlock(nn.Sequential):
    """Two 3x3 convolutions, each followed by batch norm and ReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


def plain_unet_encoder(in_channels: int, base_channels: int = 32, depth: int = 4) -> nn.Sequential:
    """The contracting path of Ronneberger's U-Net: ``enc1`` (full size) ... ``bottleneck`` (1 / 2**depth)."""
    stages: OrderedDict[str, nn.Module] = OrderedDict()
    width = base_channels
    stages["enc1"] = ConvBlock(in_channels, width)
    for level in range(2, depth + 2):
        name = "bottleneck" if level == depth + 1 else f"enc{level}"
        stages[name] = nn.Sequential(nn.MaxPool2d(2), ConvBlock(width, width * 2))
        width *= 2
    return nn.Sequential(stages)


class UNetDecoder(nn.Module):
    """Upsample the deepest features, concatenating each shallower encoder output on the way.

    ``skip_channels``: channels of the encoder stages, shallow to deep (the
    last is the bottleneck). ``decoder_channels``: output channels of each
    up-sampling block, deep to shallow. When the shallowest skip is smaller
    than the input (pretrained encoders start at 1/2), an ``input_branch``
    of ``input_channels`` convolution features at full resolution is the
    last skip, so thin structures (vessels) keep full-resolution detail.
    ``classifier`` maps the last block to ``n_outputs`` logits per pixel.
    """

    def __init__(self, in_channels: int, skip_channels: Sequence[int], decoder_channels: Sequence[int],
                 n_outputs: int, input_channels: int = 0):
        super().__init__()
        skips = list(skip_channels[:-1])[::-1]
        if len(decoder_channels) != len(skips) + (1 if input_channels else 0):
            raise ValueError(f"need {len(skips) + bool(input_channels)} decoder widths, got {len(decoder_channels)}")
        self.input_branch = ConvBlock(in_channels, input_channels) if input_channels else None
        blocks = []
        width = skip_channels[-1]
        for skip, out in zip([*skips, input_channels] if input_channels else skips, decoder_channels):
            blocks.append(ConvBlock(width + skip, out))
            width = out
        self.blocks = nn.ModuleList(blocks)
        self.classifier = nn.Conv2d(width, n_outputs, kernel_size=1)

    def forward(self, image: torch.Tensor, features: list[torch.Tensor]) -> torch.Tensor:
        """Logits (batch, n_outputs, height, width) at the input's size."""
        skips = features[:-1][::-1]
        if self.input_branch is not None:
            skips.append(self.input_branch(image))
        x = features[-1]
        for skip, block in zip(skips, self.blocks):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        if x.shape[-2:] != image.shape[-2:]:
            x = F.interpolate(x, size=image.shape[-2:], mode="bilinear", align_corners=False)
        return self.classifier(x)


class SegmentationModel(nn.Module):
    """Encoder stages (``backbone``) + U-Net decoder (``head``): per-pixel logits.

    ``n_outputs`` is 1 for one label (sigmoid) or labels + 1 (softmax over
    background and each label). ``head_kind`` is ``"segmentation"``.
    """

    head_kind = "segmentation"

    def __init__(self, architecture: str, backbone: nn.Sequential, head: UNetDecoder, n_outputs: int):
        super().__init__()
        self.architecture = architecture
        self.backbone = backbone
        self.head = head
        self.n_outputs = n_outputs

    def encode(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The output of every encoder stage, shallow to deep."""
        features = []
        x = images
        for stage in self.backbone:
            x = stage(x)
            features.append(x)
        return features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (batch, n_outputs, height, width)."""
        return self.head(images, self.encode(images))

    def outputs_and_features(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        """The training engine's forward pass: logits, and no single feature tensor (the decoder uses every
        encoder stage)."""
        return self(images), None

    def stages(self) -> list[tuple[str, nn.Module]]:
        """Trainable groups in order: the encoder's stages, then ``head`` (the decoder)."""
        named = [(name, module) for name, module in self.backbone.named_children()
                 if any(True for _ in module.parameters())]
        named.append(("head", self.head))
        return named

    def stage_names(self) -> list[str]:
        """Names of :meth:`stages`, stem first, ``"head"`` (the decoder) last."""
        return [name for name, _ in self.stages()]

    def n_parameters(self) -> int:
        """Total number of parameters (trainable or not)."""
        return sum(p.numel() for p in self.parameters())


def encoder_channels(encoder: nn.Sequential, in_channels: int, probe_size: int = 64) -> list[int]:
    """Output channels of each encoder stage, found with one small forward pass."""
    was_training = encoder.training
    encoder.eval()
    widths = []
    with torch.no_grad():
        x = torch.zeros(1, in_channels, probe_size, probe_size)
        for stage in encoder:
            x = stage(x)
            widths.append(int(x.shape[1]))
    encoder.train(was_training)
    return widths
