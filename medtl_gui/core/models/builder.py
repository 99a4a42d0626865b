"""Build zoo models as :class:`TransferModel`, optionally from pretrained weights."""

from __future__ import annotations

import os
from dataclasses import dataclass

from torch import nn

from medtl_gui.core.models.architectures import (
    SplitModel,
    build_small_model,
    build_torchvision_model,
    split_torchvision_model,
    upgrade_torchvision_state_dict,
)
from medtl_gui.core.models.heads import build_head, head_kind_for
from medtl_gui.core.models.transfer_model import TransferModel, adapt_input_channels, first_conv
from medtl_gui.core.models.weights.errors import WeightsError
from medtl_gui.core.models.weights.store import PretrainedWeights
from medtl_gui.core.models.zoo import ModelSpec, get_model_spec


@dataclass
class ModelBundle:
    """A built model and what the engine needs to know about it.

    ``mean``/``std`` have one value per input channel (grey models average
    the RGB statistics). ``pretrained_head`` is the pretrained classifier
    (e.g. the 1000-way ImageNet layer) kept aside for LwF distillation; it
    is not part of ``model``.
    """

    model: TransferModel
    spec: ModelSpec
    in_channels: int
    head_kind: str
    n_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    weights: PretrainedWeights | None = None
    pretrained_head: nn.Module | None = None

    @property
    def weights_id(self) -> str:
        """Identifies the starting weights (SHA-256, or ``random``)."""
        return self.weights.sha256 if self.weights is not None else "random"


def normalisation_for(spec: ModelSpec, in_channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean/std for ``in_channels`` inputs (grey: the average of RGB)."""
    if in_channels == 3:
        return tuple(spec.mean), tuple(spec.std)
    mean = sum(spec.mean) / 3
    std = sum(spec.std) / 3
    return (mean,) * in_channels, (std,) * in_channels


def _first_conv_key(module: nn.Module) -> str:
    _, _, conv = first_conv(module)
    for name, candidate in module.named_modules():
        if candidate is conv:
            return f"{name}.weight"
    raise ValueError("first convolution not found")


def _load_into(module: nn.Module, state_dict: dict, origin: str | os.PathLike) -> None:
    """Strictly load ``state_dict``, adapting the stem first if its channel count differs."""
    key = _first_conv_key(module)
    if key in state_dict and state_dict[key].ndim == 4:
        adapt_input_channels(module, int(state_dict[key].shape[1]))
    try:
        module.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        summary = str(exc).strip().splitlines()
        detail = "; ".join(line.strip() for line in summary[:3])
        raise WeightsError(origin, f"weights do not fit the architecture ({detail[:400]})") from exc


def _split(spec: ModelSpec, weights: PretrainedWeights | None) -> SplitModel:
    """Build the architecture's split form, loading ``weights`` in their own layout."""
    origin = weights.entry.file if weights is not None else spec.name
    if spec.family == "small":
        split = build_small_model(spec.name, 3)
        if weights is not None:
            if weights.entry.layout != "medtl-backbone":
                raise WeightsError(origin, f"{spec.name} weights must have the medtl-backbone layout")
            _load_into(split.backbone, weights.state_dict, origin)
        return split
    network = build_torchvision_model(spec.name)
    if weights is not None and weights.entry.layout == "torchvision":
        _load_into(network, upgrade_torchvision_state_dict(spec.name, weights.state_dict), origin)
    split = split_torchvision_model(spec.name, network)
    if weights is not None and weights.entry.layout == "medtl-backbone":
        _load_into(split.backbone, weights.state_dict, origin)
        split.original_head = None
    if weights is None:
        split.original_head = None
    return split


def build_backbone(name: str, weights: PretrainedWeights | None = None) -> SplitModel:
    """Zoo model ``name`` as named backbone stages (no new head), ``weights`` loaded in their layout.

    Used by the segmentation builder, which taps the stages as U-Net encoder features.
    """
    spec = get_model_spec(name)
    if weights is not None and weights.entry.architecture != name:
        raise WeightsError(weights.entry.file, f"weights are for {weights.entry.architecture}, not {name}")
    return _split(spec, weights)


def build_model(
    name: str,
    *,
    task: str = "classification",
    n_classes: int = 2,
    n_targets: int = 1,
    in_channels: int = 3,
    weights: PretrainedWeights | None = None,
    head_dropout: float = 0.0,
) -> ModelBundle:
    """Build zoo model ``name`` with a new head for the task.

    ``weights`` (from :meth:`WeightStore.load`) initialise the backbone;
    without them the network is randomly initialised (torch's RNG, so seed
    it first). A 3-channel pretrained stem is summed into 1 channel for
    grey inputs (see :func:`adapt_input_channels`).
    """
    spec = get_model_spec(name)
    if weights is not None and weights.entry.architecture != name:
        raise WeightsError(weights.entry.file, f"weights are for {weights.entry.architecture}, not {name}")
    if in_channels not in (1, 3):
        raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
    split = _split(spec, weights)
    adapt_input_channels(split.backbone, in_channels)
    kind = head_kind_for(task, n_classes)
    head = build_head(kind, split.feature_dim, n_classes, head_dropout, n_targets)
    model = TransferModel(name, split.backbone, head, split.feature_dim, kind)
    mean, std = normalisation_for(spec, in_channels)
    return ModelBundle(
        model=model,
        spec=spec,
        in_channels=in_channels,
        head_kind=kind,
        n_classes=n_classes,
        mean=mean,
        std=std,
        weights=weights,
        pretrained_head=split.original_head,
    )


def check_state_dict_fits(architecture: str, state_dict: dict, layout: str, origin: str | os.PathLike) -> int:
    """Raise :class:`WeightsError` unless ``state_dict`` loads into ``architecture``.

    Returns the input channel count of the weights' first convolution.
    """
    spec = get_model_spec(architecture)
    if spec.family == "small" and layout != "medtl-backbone":
        raise WeightsError(origin, f"{architecture} weights must have the medtl-backbone layout")
    if layout == "torchvision":
        module = build_torchvision_model(architecture)
        state_dict = upgrade_torchvision_state_dict(architecture, state_dict)
    elif spec.family == "small":
        module = build_small_model(architecture, 3).backbone
    else:
        module = split_torchvision_model(architecture, build_torchvision_model(architecture)).backbone
    _load_into(module, state_dict, origin)
    return first_conv(module)[2].in_channels
