"""Which networks can segment: a torch-free registry the GUI and the config check use.

A segmentation model is named like the encoder it is built on (``resnet34``
means "U-Net decoder on a ResNet-34 encoder", which can start from the
zoo's ImageNet or in-domain weights); ``unet`` is the plain U-Net trained
from scratch, the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SegmentationArchitecture:
    """One segmentation network of the registry.

    ``encoder`` is a model-zoo name (its weights initialise the encoder) or
    ``None`` for a plain U-Net of ``base_channels`` (doubling at each of
    its four levels). ``default_patch_size`` is the training patch (network
    input) size used when the config leaves ``image_size`` unset.
    """

    name: str
    title: str
    encoder: str | None
    description: str
    default_patch_size: int = 128
    base_channels: int = 32

    @property
    def pretrainable(self) -> bool:
        """Whether the encoder can start from zoo weights (ImageNet or in-domain)."""
        return self.encoder is not None


_ARCHITECTURES: tuple[SegmentationArchitecture, ...] = (
    SegmentationArchitecture(
        "unet", "U-Net (from scratch)", None,
        "Ronneberger et al. 2015: four down- and up-sampling levels with skip connections, batch norm, "
        "32 base channels; trained from random weights. The baseline.",
        default_patch_size=96,
    ),
    SegmentationArchitecture(
        "unet_small", "Small U-Net (from scratch, fast on a CPU)", None,
        "The plain U-Net with 16 base channels: a quarter of the compute, enough for thin structures "
        "such as retinal vessels.",
        default_patch_size=96, base_channels=16,
    ),
    SegmentationArchitecture(
        "resnet18", "U-Net, ResNet-18 encoder", "resnet18",
        "U-Net decoder (skips at 1/2 ... 1/16 and a full-resolution input branch) on a ResNet-18 encoder.",
    ),
    SegmentationArchitecture(
        "resnet34", "U-Net, ResNet-34 encoder", "resnet34",
        "U-Net decoder on a ResNet-34 encoder; the usual pretrained U-Net of the literature.",
    ),
    SegmentationArchitecture(
        "resnet50", "U-Net, ResNet-50 encoder", "resnet50",
        "U-Net decoder on a ResNet-50 encoder (bottleneck blocks, wide skips; slow on a CPU).",
    ),
    SegmentationArchitecture(
        "efficientnet_b0", "U-Net, EfficientNet-B0 encoder", "efficientnet_b0",
        "U-Net decoder on EfficientNet-B0's feature maps at 1/2 ... 1/32 (feature taps).",
    ),
)

SEGMENTATION_MODELS: dict[str, SegmentationArchitecture] = {a.name: a for a in _ARCHITECTURES}


def list_segmentation_architectures() -> list[SegmentationArchitecture]:
    """All segmentation networks, the plain U-Net first."""
    return list(_ARCHITECTURES)


def get_segmentation_architecture(name: str) -> SegmentationArchitecture:
    """The architecture called ``name``; ``KeyError`` naming the available ones otherwise."""
    try:
        return SEGMENTATION_MODELS[name]
    except KeyError:
        raise KeyError(f"{name!r} cannot segment; segmentation models: {', '.join(SEGMENTATION_MODELS)}") from None
