"""Build segmentation networks: a U-Net decoder on a zoo encoder (optionally pretrained), or a plain U-Net."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from torch import nn

from medtl_gui.core.models.builder import build_backbone, normalisation_for
from medtl_gui.core.models.segmentation.registry import SegmentationArchitecture, get_segmentation_architecture
from medtl_gui.core.models.segmentation.unet import (
    SegmentationModel,
    UNetDecoder,
    encoder_channels,
    plain_unet_encoder,
)
from medtl_gui.core.models.transfer_model import adapt_input_channels
from medtl_gui.core.models.weights.errors import WeightsError
from medtl_gui.core.models.weights.store import PretrainedWeights
from medtl_gui.core.models.zoo import UNIT_MEAN, UNIT_STD, get_model_spec

#: decoder widths, deep to shallow, for pretrained encoders (as segmentation_models_pytorch's U-Net)
PRETRAINED_DECODER_CHANNELS = (256, 128, 64, 32)
#: width of the full-resolution input branch of pretrained encoders (their first tap is at 1/2)
INPUT_BRANCH_CHANNELS = 16


@dataclass
class SegmentationBundle:
    """A built segmentation network and what the engine needs to know about it.

    ``mean``/``std`` are the encoder weights' normalisation (one value per
    input channel); a network without pretrained weights is fed per-image
    standardised intensities instead (see :mod:`medtl_gui.core.data.segmentation_cases`).
    """

    model: SegmentationModel
    architecture: SegmentationArchitecture
    in_channels: int
    n_labels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    weights: PretrainedWeights | None = None

    @property
    def n_outputs(self) -> int:
        """Logit channels: 1 for one label (sigmoid), else labels + background (softmax)."""
        return self.model.n_outputs

    @property
    def weights_id(self) -> str:
        """Identifies the starting weights (SHA-256, or ``random``)."""
        return self.weights.sha256 if self.weights is not None else "random"


def outputs_for(n_labels: int) -> int:
    """Logit channels for ``n_labels`` segmentation labels."""
    if n_labels < 1:
        raise ValueError(f"a segmentation model needs at least one label, got {n_labels}")
    return 1 if n_labels == 1 else n_labels + 1


def _zoo_encoder(name: str, weights: PretrainedWeights | None) -> nn.Sequential:
    """The zoo model's stages regrouped so that each stage's output is a U-Net skip."""
    split = build_backbone(name, weights)
    stages = dict(split.backbone.named_children())
    if name.startswith("resnet"):
        stem = stages["stem"]  # conv1, bn1, relu, maxpool: tap before the max-pool (1/2)
        return nn.Sequential(OrderedDict(
            stem=nn.Sequential(stem[0], stem[1], stem[2]),
            layer1=nn.Sequential(stem[3], stages["layer1"]),
            layer2=stages["layer2"],
            layer3=stages["layer3"],
            layer4=stages["layer4"],
        ))
    if name.startswith("efficientnet"):
        return nn.Sequential(OrderedDict((key, stages[key]) for key in ("stem", "block1", "block2", "block3", "block4")))
    raise KeyError(f"no U-Net encoder layout for {name!r}")


def build_segmentation_model(
    name: str,
    *,
    n_labels: int = 1,
    in_channels: int = 1,
    weights: PretrainedWeights | None = None,
    base_channels: int | None = None,
) -> SegmentationBundle:
    """Build segmentation network ``name`` (see the registry) for ``n_labels`` labels.

    ``weights`` (from :meth:`WeightStore.load`, ImageNet or in-domain)
    initialise the encoder; the decoder always starts random (seed torch
    first). A 3-channel pretrained stem is summed into 1 channel for grey
    inputs, as for classifiers. ``base_channels`` overrides a plain U-Net's width.
    """
    architecture = get_segmentation_architecture(name)
    if in_channels not in (1, 3):
        raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
    n_outputs = outputs_for(n_labels)
    if architecture.encoder is None:
        if weights is not None:
            raise WeightsError(weights.entry.file, f"{name} is trained from scratch and takes no pretrained weights")
        encoder = plain_unet_encoder(in_channels, base_channels or architecture.base_channels)
        widths = encoder_channels(encoder, in_channels)
        decoder = UNetDecoder(in_channels, widths, widths[-2::-1], n_outputs)
        mean, std = normalisation_for_unit(in_channels)
    else:
        encoder = _zoo_encoder(architecture.encoder, weights)
        adapt_input_channels(encoder, in_channels)
        widths = encoder_channels(encoder, in_channels)
        decoder_widths = PRETRAINED_DECODER_CHANNELS[: len(widths) - 1] + (INPUT_BRANCH_CHANNELS,)
        decoder = UNetDecoder(in_channels, widths, decoder_widths, n_outputs, INPUT_BRANCH_CHANNELS)
        mean, std = normalisation_for(get_model_spec(architecture.encoder), in_channels)
    model = SegmentationModel(name, encoder, decoder, n_outputs)
    return SegmentationBundle(model, architecture, in_channels, n_labels, mean, std, weights)


def normalisation_for_unit(in_channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean/std of [0, 1] images for networks without pretrained weights."""
    return tuple(UNIT_MEAN[:1] * in_channels), tuple(UNIT_STD[:1] * in_channels)
