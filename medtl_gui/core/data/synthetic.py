"""Generated phantom images for demos, tests and smoke runs (no real patient data).

Class 0 ("clear"): smooth noisy background. Class 1 ("opacity"): the same
plus a bright Gaussian blob at a random position. Deterministic per seed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from medtl_gui.core.data.labelled_images import DataSplits
from medtl_gui.core.data.npz_source import load_npz_splits

SYNTHETIC_CLASSES = ["clear", "opacity"]


def synthetic_images(n: int, size: int = 28, seed: int = 0, positive_fraction: float = 0.5,
                     contrast: float = 120.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 phantom images (n, size, size) and labels (n, 1)."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < positive_fraction).astype(np.int64)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    images = np.empty((n, size, size), dtype=np.uint8)
    for i in range(n):
        image = 60 + 25 * rng.standard_normal((size, size)).astype(np.float32)
        if labels[i]:
            cy, cx = rng.uniform(size * 0.25, size * 0.75, 2)
            radius = rng.uniform(size * 0.08, size * 0.18)
            image += contrast * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
        images[i] = np.clip(image, 0, 255).astype(np.uint8)
    return images, labels[:, None]


def write_synthetic_npz(path: str | os.PathLike, n_train: int = 96, n_val: int = 32, n_test: int = 32,
                        size: int = 28, seed: int = 0, positive_fraction: float = 0.5) -> Path:
    """A MedMNIST-style ``.npz`` of phantoms with train/val/test splits and class names."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {"class_names": np.array(SYNTHETIC_CLASSES)}
    for offset, (split, n) in enumerate((("train", n_train), ("val", n_val), ("test", n_test))):
        images, labels = synthetic_images(n, size, seed + offset, positive_fraction)
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, labels
    np.savez(path, **arrays)
    return path


def synthetic_splits(folder: str | os.PathLike, **kwargs) -> DataSplits:
    """Write phantoms to ``folder/synthetic.npz`` and open them."""
    return load_npz_splits(write_synthetic_npz(Path(folder) / "synthetic.npz", **kwargs))
