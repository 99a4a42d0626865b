"""Resolve a config against the data and build what a run needs (before any training).

Everything here can fail on bad input (unknown weights, empty splits,
task/label mismatch); it runs before the run folder is written.
"""

from __future__ import annotations


import numpy as np

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.data.labelled_images import (
    DataSplits,
    ImageVanished,
    LabelledImages,
    stratified_split,
    vanished_message,
)
from medtl_gui.core.data.preprocessing import Preprocessing, select_plane
from medtl_gui.core.data.sampling import resolve_imbalance_mode
from medtl_gui.core.models.builder import ModelBundle, build_model
from medtl_gui.core.models.weights.store import WeightStore
from medtl_gui.core.models.zoo import get_model_spec
from medtl_gui.core.tasks.classification import head_kind
from medtl_gui.core.training.config import ConfigError, TrainConfig
from medtl_gui.core.training.resolved_settings import ResolvedSettings
from medtl_gui.core.training.strategies import DEFAULT_ALPHA, get_strategy

#: metrics where lower is better
LOWER_IS_BETTER = ("loss", "mae", "mse", "rmse")


def detect_in_channels(images: LabelledImages) -> int:
    """3 if the first image is colour, else 1."""
    if len(images) == 0:
        raise DataError(images.name or "training data", "no images")
    for item in images:  # the first one still there (another process may be removing images)
        try:
            source = item.load()
        except ImageVanished:
            continue
        break
    else:
        raise DataError(images.name or "training data", "every image is gone (removed meanwhile?)")
    pixels = np.asarray(getattr(source, "pixels", source))
    _, is_colour = select_plane(pixels)
    return 3 if is_colour else 1


def _monitor(config: TrainConfig, has_val: bool) -> tuple[str, str]:
    monitor = config.monitor
    if monitor == "auto":
        if not has_val:
            monitor = "train_loss"
        else:
            monitor = "val_auc" if head_kind(config) == "classification" else "val_mae"
    elif monitor.startswith("val_") and not has_val:
        monitor = "train_loss"
    mode = "min" if monitor.rsplit("_", 1)[-1] in LOWER_IS_BETTER else "max"
    return monitor, mode


#: key of ``DataSplits.extra``: warnings about the data that the engine shows as run messages
DATA_WARNINGS_KEY = "warnings"


def leave_out_vanished(data: DataSplits) -> list[str]:
    """Drop the images that are gone (removed from the project by another process, files deleted) from every
    split of ``data``, in place; returns the warning to show (empty when none went). The run then records
    only the images it really used."""
    gone: list[str] = []
    for name in ("train", "val", "test"):
        images = getattr(data, name)
        if images is None:
            continue
        kept, vanished = images.without_vanished()
        if vanished:
            setattr(data, name, kept if len(kept) or name == "train" else None)
            gone.extend(vanished)
    if not gone:
        return []
    text = vanished_message(gone)
    data.extra.setdefault(DATA_WARNINGS_KEY, []).append(text)
    return [text]


def resolve_settings(config: TrainConfig, data: DataSplits) -> ResolvedSettings:
    """Concrete strategy, sizes, retention, imbalance handling, monitor and splits (images that are gone are
    left out first, with a warning in ``data.extra["warnings"]``)."""
    spec = get_model_spec(config.model)
    strategy = get_strategy(config.strategy)
    leave_out_vanished(data)
    train = data.train
    if len(train) == 0:
        raise DataError(data.source or "data", "the training split is empty")
    head = head_kind(config)
    if head == "classification" and len(train.class_names) < 2:
        raise DataError(data.source or "data", "classification needs at least 2 classes")
    if head == "regression" and train.class_names:
        raise DataError(data.source or "data", "regression needs numeric targets, but the data has class labels")
    val, held_out = data.val, False
    if val is None or len(val) == 0:
        counts = train.class_counts() if train.class_names else np.array([len(train)])
        if counts[counts > 0].min() >= 2 and len(train) >= 4:
            train, val = stratified_split(train, config.val_fraction, config.seed)
            held_out = True
        else:
            val = None
    image_size = config.image_size or spec.input_size
    if image_size < spec.min_input_size:
        raise ConfigError("image_size", f"{config.model} needs at least {spec.min_input_size} px, got {image_size}")
    retention = config.retention or strategy.default_retention
    if strategy.uses_feature_cache and retention != "none":
        raise ConfigError("retention", "feature extraction keeps the backbone frozen; retention losses do not apply")
    if retention == "lwf" and config.pretrained in (None, "none"):
        raise ConfigError("retention", "LwF distils the pretrained network's outputs: set 'pretrained'")
    alpha = DEFAULT_ALPHA[retention] if config.alpha is None else config.alpha
    counts = train.class_counts() if head == "classification" else np.array([len(train)])
    imbalance = resolve_imbalance_mode(config.imbalance, counts) if head == "classification" else "none"
    monitor, mode = _monitor(config, val is not None)
    return ResolvedSettings(
        strategy=strategy,
        image_size=image_size,
        in_channels=config.in_channels or detect_in_channels(train),
        retention=retention,
        alpha=float(alpha),
        lr_decay=strategy.default_lr_decay if config.lr_decay is None else config.lr_decay,
        imbalance=imbalance,
        monitor=monitor,
        monitor_mode=mode,
        train=train,
        val=val,
        test=data.test,
        val_held_out_of_train=held_out,
    )


def build_run_model(config: TrainConfig, settings: ResolvedSettings, store: WeightStore | None) -> ModelBundle:
    """The model with its starting weights (from the store) and a new head; seeded."""
    import torch

    from medtl_gui.core.training.seeding import seed_everything

    weights = None
    if config.pretrained not in (None, "none"):
        store = store or WeightStore()
        entry = store.resolve(config.model, config.pretrained)
        weights = store.load(entry) if entry is not None else None
    seed_everything(config.seed)
    head = head_kind(config)
    n_classes = len(settings.train.class_names) if head == "classification" else 0
    bundle = build_model(
        config.model,
        task=head,
        n_classes=n_classes,
        in_channels=settings.in_channels,
        weights=weights,
        head_dropout=config.head_dropout,
    )
    if settings.retention == "lwf" and bundle.pretrained_head is None:
        raise ConfigError("retention", f"LwF needs weights with their original head; {config.pretrained!r} has none")
    torch.manual_seed(config.seed)
    return bundle


def preprocessing_for(bundle: ModelBundle, settings: ResolvedSettings) -> Preprocessing:
    """Preprocessing matching the model's input and its weights' normalisation."""
    return Preprocessing(settings.image_size, bundle.in_channels, bundle.mean, bundle.std)
