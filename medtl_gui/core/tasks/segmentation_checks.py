"""Segmentation's part of what the training panel and the CLI offer and check before a run.

Qt-free and torch-free: the U-Nets to choose from, which encoder's weights
a U-Net starts from, the pre-flight checks of a config against a project's
masks (:class:`~medtl_gui.core.training.setup_checks.DataSummary`), and the
project's masks frozen for one run. :class:`SegmentationTask` delegates its
hooks here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

SPLITS = ("train", "val", "test")


def model_choices() -> list[Any]:
    """The segmentation architectures (name, title, tip with the default patch size)."""
    from medtl_gui.core.models.segmentation.registry import list_segmentation_architectures
    from medtl_gui.core.training.setup_checks import ModelChoice

    return [ModelChoice(a.name, a.title, f"{a.description} Patch {a.default_patch_size} px by default.")
            for a in list_segmentation_architectures()]


def weights_architecture(model: str) -> str | None:
    """The zoo architecture of a U-Net's encoder (None: a plain U-Net, or not a segmentation model)."""
    from medtl_gui.core.models.segmentation.registry import SEGMENTATION_MODELS

    arch = SEGMENTATION_MODELS.get(model)
    return arch.encoder if arch is not None else None


def random_init_reason(model: str) -> str | None:
    """The weight list's first entry ("None (random initialisation)") text for a model that no weights fit."""
    return f"{model} is a plain U-Net: it always starts from random weights."


def setup_problems(config: Any, summary: Any) -> list[str]:
    """Segmentation labels defined, masks painted on training images, at least one to train and one to validate."""
    training = summary.training_masked()  # the train split and the images without a split, as the engine
    if not summary.seg_labels:
        return ["The project has no segmentation labels: add one (Edit ▸ Segmentation labels) and paint masks."]
    if training == 0:
        return ["No image of the training split has a mask: paint masks (Segment menu) on training images first."]
    if training + summary.masked.get("val", 0) < 2:
        return ["Segmentation needs at least 2 masked images (one to train, one to validate)."]
    return []


def training_images(summary: Any) -> int:
    """Masked images a run trains on (the train split and the images without a split)."""
    return summary.training_masked()


def describe_data(summary: Any) -> str:
    """One line for the panel, e.g. ``train 6 with masks · val 2 with masks · test 0 with masks``."""
    return " · ".join(f"{split} {summary.masked.get(split, 0)} with masks" for split in SPLITS)


def project_data(project: Any) -> Any:
    """``SegmentationSplits`` of the project with every mask read into memory now (painting during the run cannot
    change what it learns from; pixels are still read on demand)."""
    from medtl_gui.core.data.segmentation import segmentation_splits

    splits = segmentation_splits(project)
    for name in SPLITS:
        images = getattr(splits, name)
        if images is not None:
            setattr(splits, name, _with_frozen_masks(images))
    return splits


def _with_frozen_masks(images: Any) -> Any:
    from medtl_gui.core.data.segmentation import SegmentationImages

    items = []
    for item in images:
        mask = np.array(item.load_mask(), copy=True)
        items.append(replace(item, load_mask=lambda m=mask: m))
    return SegmentationImages(items, images.label_names, images.name)
