"""The uniform network every strategy trains: backbone stages + a task head."""

from __future__ import annotations

import torch
from torch import nn


class TransferModel(nn.Module):
    """A backbone (``nn.Sequential`` of named stages) followed by a head.

    ``backbone(x)`` returns flat features of width ``feature_dim``;
    ``head(features)`` returns logits (classification) or values
    (regression). Parameter-free backbone children (pooling) are not stages.
    """

    def __init__(self, architecture: str, backbone: nn.Sequential, head: nn.Module, feature_dim: int, head_kind: str):
        super().__init__()
        self.architecture = architecture
        self.backbone = backbone
        self.head = head
        self.feature_dim = feature_dim
        self.head_kind = head_kind

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """Backbone features of a batch of images, shape (batch, feature_dim)."""
        return self.backbone(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Head outputs for a batch of images."""
        return self.head(self.backbone(images))

    def outputs_and_features(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Head outputs and the backbone features they came from (LwF and domain adaptation use both)."""
        features = self.backbone(images)
        return self.head(features), features

    def stages(self) -> list[tuple[str, nn.Module]]:
        """Trainable groups of layers in order from stem to head."""
        named = [(name, module) for name, module in self.backbone.named_children() if _has_parameters(module)]
        named.append(("head", self.head))
        return named

    def stage_names(self) -> list[str]:
        """Names of :meth:`stages`, stem first, ``"head"`` last."""
        return [name for name, _ in self.stages()]

    def n_parameters(self) -> int:
        """Total number of parameters (trainable or not)."""
        return sum(p.numel() for p in self.parameters())


def _has_parameters(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def first_conv(module: nn.Module) -> tuple[nn.Module, str, nn.Conv2d]:
    """The first ``Conv2d`` in module order, with its parent and attribute name."""
    for parent in module.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, nn.Conv2d):
                return parent, child_name, child
    raise ValueError("the network has no Conv2d layer")


def adapt_input_channels(backbone: nn.Module, in_channels: int) -> None:
    """Make the first convolution accept ``in_channels`` (in place).

    Grey (1 channel) from an RGB stem: the new kernel is the *sum* of the RGB
    kernels, so a grey image gives the same activations as the same image
    replicated to 3 channels (up to the per-channel normalisation, which is
    averaged). 3 channels from a grey stem: the grey kernel divided by 3,
    repeated.
    """
    parent, name, conv = first_conv(backbone)
    if conv.in_channels == in_channels:
        return
    weight = conv.weight.detach()
    if in_channels == 1:
        new_weight = weight.sum(dim=1, keepdim=True)
    elif conv.in_channels == 1:
        new_weight = weight.repeat(1, in_channels, 1, 1) / in_channels
    else:
        mean = weight.mean(dim=1, keepdim=True)
        new_weight = mean.repeat(1, in_channels, 1, 1) * (conv.in_channels / in_channels)
    replacement = nn.Conv2d(
        in_channels,
        conv.out_channels,
        kernel_size=conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        groups=conv.groups,
        bias=conv.bias is not None,
        padding_mode=conv.padding_mode,
    )
    with torch.no_grad():
        replacement.weight.copy_(new_weight)
        if conv.bias is not None:
            replacement.bias.copy_(conv.bias.detach())
    setattr(parent, name, replacement)
