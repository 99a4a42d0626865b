"""Small CNNs trained from scratch: the baseline CNN and LeNet-5.

Both are written as ``nn.Sequential`` of named stages ending in a pooled
feature vector, the layout :class:`~medtl_gui.core.models.transfer_model.TransferModel`
expects; adaptive pooling lets them accept any input size above 16 px.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 conv + batch norm + ReLU layers followed by 2x2 max pooling."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


def baseline_cnn_backbone(in_channels: int) -> tuple[nn.Sequential, int]:
    """The baseline CNN's feature extractor and its feature width (256)."""
    widths = (32, 64, 128, 256)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    previous = in_channels
    for index, width in enumerate(widths, start=1):
        layers[f"block{index}"] = _conv_block(previous, width)
        previous = width
    layers["pool"] = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return nn.Sequential(layers), widths[-1]


def lenet5_backbone(in_channels: int) -> tuple[nn.Sequential, int]:
    """LeNet-5's feature extractor (conv1, conv2, fc) and its feature width (84).

    The classic layout expects 32x32 inputs; an adaptive average pool to 5x5
    before the fully connected layers keeps that geometry for other sizes.
    """
    backbone = nn.Sequential(
        OrderedDict(
            conv1=nn.Sequential(nn.Conv2d(in_channels, 6, 5), nn.ReLU(inplace=True), nn.AvgPool2d(2)),
            conv2=nn.Sequential(
                nn.Conv2d(6, 16, 5),
                nn.ReLU(inplace=True),
                nn.AvgPool2d(2),
                nn.AdaptiveAvgPool2d(5),
                nn.Flatten(),
            ),
            fc=nn.Sequential(
                nn.Linear(16 * 5 * 5, 120), nn.ReLU(inplace=True), nn.Linear(120, 84), nn.ReLU(inplace=True)
            ),
        )
    )
    return backbone, 84
