"""The validation overlays of segmentation runs: a few validation images predicted after each epoch.

Runs on the training thread (no Qt). The labels a GUI run trains on are
frozen when it starts by its task (``task_for_config(config).project_data``,
see :mod:`medtl_gui.core.tasks.classification_checks` and
:mod:`medtl_gui.core.tasks.segmentation_checks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SegmentationOverlay:
    """One validation image with its true and predicted masks (label indices, 0 = background)."""

    image_id: str
    image: np.ndarray  # uint8, (H, W) grey or (H, W, 3) colour
    true_mask: np.ndarray  # uint8 label indices
    predicted_mask: np.ndarray  # uint8 label indices
    dice: float | None  # foreground Dice of this image (None: no foreground in either)


def display_uint8(pixels: np.ndarray, window: tuple[float, float] | None) -> np.ndarray:
    """An image plane as 8-bit for display (window or robust range)."""
    from medtl_gui.core.data.preprocessing import to_unit_range

    pixels = np.asarray(pixels)
    if pixels.ndim == 3 and pixels.shape[-1] in (3, 4):
        unit = np.stack([to_unit_range(pixels[..., c], window) for c in range(3)], axis=-1)
    else:
        unit = to_unit_range(pixels, window)
    return np.round(unit * 255).astype(np.uint8)


def foreground_dice(truth: np.ndarray, predicted: np.ndarray) -> float | None:
    """Dice of foreground (any label) pixels; None when neither mask has foreground."""
    t, p = np.asarray(truth) > 0, np.asarray(predicted) > 0
    total = int(t.sum() + p.sum())
    return None if total == 0 else 2.0 * float(np.logical_and(t, p).sum()) / total


class OverlayMaker:
    """Predicts a few validation images with a segmentation run's latest checkpoint after each epoch."""

    def __init__(self, data: Any, count: int = 4, device: str = "auto"):
        self.data = data
        self.count = count
        self.device = device
        self._items: list[Any] | None = None

    def validation_items(self, run_dir: str | Path) -> list[Any]:
        """Up to ``count`` validation images: the val split, or those the run held out of train."""
        if self._items is None:
            if self.data.val is not None and len(self.data.val):
                pool = list(self.data.val)
            else:
                from medtl_gui.core.runs import RunRecord

                wanted = set(RunRecord.existing(run_dir).read_config().get("data", {}).get("splits", {}).get("val", []))
                pool = [item for item in self.data.train if item.id in wanted]
            step = max(1, len(pool) // self.count) if pool else 1
            self._items = pool[::step][: self.count]
        return self._items

    def make(self, run_dir: str | Path) -> list[SegmentationOverlay]:
        """Overlays of the chosen validation images with the ``last`` checkpoint of ``run_dir``."""
        from medtl_gui.core.inference.segmentation_predict import SegmentationPredictor, load_segmentation_run

        items = self.validation_items(run_dir)
        if not items:
            return []
        predictor = SegmentationPredictor(load_segmentation_run(run_dir, "last"), self.device)
        overlays = []
        for item in items:
            plane = item.load_image()
            truth = np.asarray(item.load_mask(), dtype=np.uint8)
            fov = item.load_fov()
            predicted, _ = predictor.predict_plane(plane, fov)
            overlays.append(SegmentationOverlay(item.id, display_uint8(plane.pixels, plane.window), truth,
                                                np.asarray(predicted, dtype=np.uint8),
                                                foreground_dice(truth, predicted)))
        return overlays
