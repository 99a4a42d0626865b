"""Resolve a segmentation config against its data and build the network (before any training).

The segmentation task's counterpart of :mod:`run_setup` (:mod:`medtl_gui.core.tasks.segmentation`): concrete
patch size, channels, normalisation, strategy, retention and monitor, the
validation split (whole cases held out of training when the data has none),
and the U-Net with its starting weights. Everything here can fail on bad
input; it runs before the run folder is written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.data.preprocessing import select_plane
from medtl_gui.core.data.segmentation import SegmentationImages, SegmentationSplits
from medtl_gui.core.data.segmentation_cases import SegmentationInput
from medtl_gui.core.models.segmentation.builder import SegmentationBundle, build_segmentation_model
from medtl_gui.core.models.segmentation.registry import get_segmentation_architecture
from medtl_gui.core.models.weights.store import WeightStore
from medtl_gui.core.training.config import ConfigError, TrainConfig
from medtl_gui.core.training.strategies import DEFAULT_ALPHA, Strategy, get_strategy

#: metrics where lower is better
LOWER_IS_BETTER = ("loss",)


@dataclass
class SegmentationSettings:
    """The config's automatic choices made concrete for this data (same names as ``ResolvedSettings``)."""

    strategy: Strategy
    image_size: int  # the patch size (network input)
    in_channels: int
    retention: str
    alpha: float
    lr_decay: float
    monitor: str
    monitor_mode: str
    train: SegmentationImages
    val: SegmentationImages | None
    test: SegmentationImages | None
    val_held_out_of_train: bool
    imbalance: str = "none"

    @property
    def label_names(self) -> list[str]:
        """The segmentation labels, in output order."""
        return self.train.label_names

    def to_json(self) -> dict:
        """The resolved values (no image lists) for config.json."""
        return {
            "strategy": self.strategy.name, "patch_size": self.image_size, "image_size": self.image_size,
            "in_channels": self.in_channels, "retention": self.retention, "alpha": self.alpha,
            "lr_decay": self.lr_decay, "monitor": self.monitor, "monitor_mode": self.monitor_mode,
            "val_held_out_of_train": self.val_held_out_of_train,
        }


def detect_in_channels(images: SegmentationImages) -> int:
    """3 if the first image is colour, else 1."""
    if len(images) == 0:
        raise DataError(images.name or "training data", "no images")
    _, is_colour = select_plane(np.asarray(images[0].load_image().pixels))
    return 3 if is_colour else 1


def _monitor(config: TrainConfig, has_val: bool) -> tuple[str, str]:
    monitor = config.monitor
    if monitor == "auto":
        monitor = "val_dice" if has_val else "train_loss"
    elif monitor.startswith("val_") and not has_val:
        monitor = "train_loss"
    return monitor, "min" if monitor.rsplit("_", 1)[-1] in LOWER_IS_BETTER else "max"


def resolve_segmentation_settings(config: TrainConfig, data: SegmentationSplits) -> SegmentationSettings:
    """Concrete strategy, patch size, channels, retention, monitor and splits."""
    architecture = get_segmentation_architecture(config.model)
    strategy = get_strategy(config.strategy)
    train = data.train
    if len(train) == 0:
        raise DataError(data.source or "data", "the training split has no image with a mask")
    if not train.label_names:
        raise DataError(data.source or "data", "segmentation needs at least one segmentation label")
    val, held_out = data.val, False
    if (val is None or len(val) == 0) and len({item.case_id for item in train}) >= 3:
        train, val = train.case_split(config.val_fraction, config.seed)
        held_out = True
    elif val is not None and len(val) == 0:
        val = None
    patch = config.image_size or architecture.default_patch_size
    if patch < 32:
        raise ConfigError("image_size", f"the segmentation patch size must be at least 32 px, got {patch}")
    retention = config.retention or strategy.default_retention
    if architecture.encoder is None and config.pretrained not in (None, "none"):
        raise ConfigError("pretrained", f"{config.model} is trained from scratch; choose an encoder such as "
                                        "resnet34 to start from pretrained weights")
    monitor, mode = _monitor(config, val is not None)
    return SegmentationSettings(
        strategy=strategy,
        image_size=patch,
        in_channels=1 if config.colour_channel != "all" else config.in_channels or detect_in_channels(train),
        retention=retention,
        alpha=float(DEFAULT_ALPHA[retention] if config.alpha is None else config.alpha),
        lr_decay=strategy.default_lr_decay if config.lr_decay is None else config.lr_decay,
        monitor=monitor,
        monitor_mode=mode,
        train=train,
        val=val,
        test=data.test,
        val_held_out_of_train=held_out,
    )


def build_segmentation_run_model(config: TrainConfig, settings: SegmentationSettings,
                                 store: WeightStore | None) -> SegmentationBundle:
    """The U-Net with its encoder's starting weights (from the store); seeded."""
    import torch

    from medtl_gui.core.training.seeding import seed_everything

    weights = None
    architecture = get_segmentation_architecture(config.model)
    if config.pretrained not in (None, "none") and architecture.encoder is not None:
        store = store or WeightStore()
        entry = store.resolve(architecture.encoder, config.pretrained)
        weights = store.load(entry) if entry is not None else None
    seed_everything(config.seed)
    bundle = build_segmentation_model(config.model, n_labels=len(settings.label_names),
                                      in_channels=settings.in_channels, weights=weights,
                                      base_channels=config.base_channels)
    torch.manual_seed(config.seed)
    return bundle


def input_spec_for(bundle: SegmentationBundle, config: TrainConfig) -> SegmentationInput:
    """The config's channel, contrast and resolution choice; pretrained encoders get their weights' normalisation,
    networks from scratch per-image standardisation."""
    return SegmentationInput(bundle.in_channels, "weights" if bundle.weights is not None else "per_image",
                             tuple(bundle.mean), tuple(bundle.std), config.colour_channel, config.contrast,
                             config.input_scale)
