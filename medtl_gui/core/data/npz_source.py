"""Labelled images from MedMNIST-style ``.npz`` files.

Keys: ``train_images``/``train_labels``, ``val_images``/``val_labels``,
``test_images``/``test_labels``; images (N, H, W) or (N, H, W, 3), labels
(N,) or (N, 1). Optional ``class_names`` (array of strings). Read with
``allow_pickle=False``: an ``.npz`` cannot run code.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.data.labelled_images import DataSplits, ImageItem, LabelledImages, pixel_hash

SPLITS = ("train", "val", "test")

#: class names of MedMNIST files that do not carry them (from the MedMNIST v2 INFO table)
KNOWN_CLASS_NAMES = {
    "pneumoniamnist": ["normal", "pneumonia"],
    "breastmnist": ["malignant", "normal, benign"],
    "vesselmnist3d": ["vessel", "aneurysm"],  # volumes: read by medtl_gui.core.tasks.volume_data
}


def _open(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataError(path, "no such file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(path, f"not a readable .npz file ({exc})") from exc


def _class_names(path: Path, arrays: dict[str, np.ndarray], n_classes: int, given: list[str] | None) -> list[str]:
    if given is not None:
        names = list(given)
    elif "class_names" in arrays:
        names = [str(n) for n in arrays["class_names"].tolist()]
    else:
        stem = path.stem.lower().split("_")[0]
        names = KNOWN_CLASS_NAMES.get(stem, [f"class_{i}" for i in range(n_classes)])
    if len(names) < n_classes:
        raise DataError(path, f"labels go up to {n_classes - 1} but only {len(names)} class names are known")
    return names


def _split(path: Path, arrays: dict[str, np.ndarray], split: str, class_names: list[str] | None) -> LabelledImages:
    images_key, labels_key = f"{split}_images", f"{split}_labels"
    if images_key not in arrays or labels_key not in arrays:
        raise DataError(path, f"has no {split} split (keys {images_key!r} and {labels_key!r}); it has {sorted(arrays)}")
    images, labels = arrays[images_key], arrays[labels_key]
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3)):
        raise DataError(path, f"{images_key} must have shape (N, H, W) or (N, H, W, 3), got {images.shape}")
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(path, f"{labels_key} must have shape (N,) or (N, 1) with N={len(images)}, got {labels.shape}")
    integral = np.issubdtype(labels.dtype, np.integer) or bool(np.all(np.mod(labels, 1) == 0))
    if integral:
        if labels.min(initial=0) < 0:
            raise DataError(path, f"{labels_key} has negative class indices")
        n_classes = int(max(labels.max(initial=0), 1)) + 1
        names = _class_names(path, arrays, n_classes, class_names)
        targets: list[float | int] = [int(v) for v in labels]
    else:
        names = []
        targets = [float(v) for v in labels]
    items = [
        ImageItem(
            id=f"{split}:{index}",
            target=target,
            load=(lambda images=images, index=index: images[index]),
            content_key=pixel_hash(images[index]),
        )
        for index, target in enumerate(targets)
    ]
    return LabelledImages(items, names, f"{path.name}:{split}")


def from_npz(path: str | os.PathLike, split: str = "train", class_names: list[str] | None = None) -> LabelledImages:
    """One split of an ``.npz`` file as :class:`LabelledImages`."""
    path = Path(path)
    if split not in SPLITS:
        raise DataError(path, f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return _split(path, _open(path), split, class_names)


def load_npz_splits(path: str | os.PathLike, class_names: list[str] | None = None) -> DataSplits:
    """All splits present in an ``.npz`` file (train is required).

    Class names are taken from the union of labels over all splits, so a
    split missing a class still shares the same label set.
    """
    path = Path(path)
    arrays = _open(path)
    if class_names is None:
        maxima = [
            int(np.max(arrays[f"{s}_labels"])) for s in SPLITS
            if f"{s}_labels" in arrays and arrays[f"{s}_labels"].size
            and np.issubdtype(arrays[f"{s}_labels"].dtype, np.integer)
        ]
        if maxima:
            class_names = _class_names(path, arrays, max(maxima) + 1, None)
    present = {s: _split(path, arrays, s, class_names) for s in SPLITS if f"{s}_images" in arrays}
    if "train" not in present:
        raise DataError(path, "has no training split ('train_images' and 'train_labels')")
    return DataSplits(
        train=present["train"],
        val=present.get("val"),
        test=present.get("test"),
        source=str(path),
        runs_dir=path.parent / "runs",
    )
