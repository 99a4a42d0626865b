"""Labelled images as the engine sees them, independent of where they are stored.

A :class:`LabelledImages` is a sequence of :class:`ImageItem` (an id, a
target and a way to load the pixels) plus the class names. Sources (an
``.npz`` file, a project store) build one; the engine never looks further.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.data.item_collection import ItemCollection

#: what an item's loader returns: pixels, or an object with ``.pixels`` (and
#: optionally ``.window``) such as :class:`medtl_gui.core.imaging.scan.Scan`
Pixels = Any


@dataclass(frozen=True)
class ImageItem:
    """One labelled image.

    ``target`` is the class index (classification) or a value
    (regression). ``load()`` returns a numpy array or a ``Scan``.
    ``content_key``, when the source knows it cheaply, identifies the pixel
    content (a hash) so caches need not load the image to key it.
    ``available()``, when the source can tell cheaply, says whether the image
    is still there (a project image another process removed, or whose file
    was deleted, is not); ``load()`` of such an image raises
    :class:`ImageVanished`.
    """

    id: str
    target: float | int
    load: Callable[[], Pixels]
    content_key: str | None = None
    available: Callable[[], bool] | None = None


class ImageVanished(DataError):
    """An image listed for a run is no longer there (removed from its project by another process, or its file
    deleted): the run leaves it out with a warning instead of failing. The text says "cannot read image N"
    for where it still ends a run (a validation image removed while the run is starting)."""

    def __init__(self, path: str | os.PathLike, image_id: object):
        self.image_id = str(image_id)
        super().__init__(path, f"cannot read image {image_id}: it is no longer in the project or its file is "
                               "gone (removed meanwhile?)")


def vanished_message(ids: Sequence[str], where: str = "") -> str:
    """The run's warning about images left out because they vanished (count and ids)."""
    shown = ", ".join(map(str, ids[:20])) + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")
    return (f"{len(ids)} image(s) could not be read and were left out{f' of {where}' if where else ''}: they are "
            f"no longer in the project or their files are gone (removed meanwhile?): ids {shown}")


def without_vanished(images: Any, key: Callable[[Any], str] = lambda item: item.id) -> tuple[Any, list[str]]:
    """``images`` (an :class:`ItemCollection` whose items may have ``available()``) less the items that are
    gone, and the ``key`` of those (each once, in order: e.g. the project image of a gone volume slice)."""
    items = list(images)
    gone = {i for i, item in enumerate(items)
            if getattr(item, "available", None) is not None and not item.available()}
    if not gone:
        return images, []
    kept = images.subset([i for i in range(len(items)) if i not in gone], images.name)
    return kept, list(dict.fromkeys(key(items[i]) for i in sorted(gone)))


def pixel_hash(pixels: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes (a content key)."""
    array = np.ascontiguousarray(pixels)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.data)
    return digest.hexdigest()


class LabelledImages(ItemCollection[ImageItem]):
    """An ordered, immutable collection of labelled images and their class names.

    ``class_names`` is empty for regression. ``name`` says where the images
    come from (for run records), e.g. ``"pneumoniamnist.npz:train"``.
    """

    def __init__(self, items: Sequence[ImageItem], class_names: Sequence[str], name: str = ""):
        super().__init__(items, class_names, name)
        self.class_names = self._names

    def __repr__(self) -> str:
        return f"LabelledImages({self.name!r}, n={len(self)}, classes={self.class_names})"

    def targets(self) -> np.ndarray:
        """Targets in order (int64 for classification, float32 for regression)."""
        dtype = np.int64 if self.class_names else np.float32
        return np.asarray([item.target for item in self._items], dtype=dtype)

    def class_counts(self) -> np.ndarray:
        """Number of images per class index."""
        return np.bincount(self.targets(), minlength=len(self.class_names))

    def without_vanished(self) -> tuple["LabelledImages", list[str]]:
        """These images less those whose ``available()`` says they are gone, and the ids of those."""
        return without_vanished(self)


@dataclass
class DataSplits:
    """Training, validation and (optional) test images sharing one label set.

    ``runs_dir`` is where new run folders go by default (a project's
    ``runs/``); ``cache_dir`` is where deletable caches (backbone features)
    may be written, ``None`` to keep them in memory only.
    """

    train: LabelledImages
    val: LabelledImages | None = None
    test: LabelledImages | None = None
    source: str = ""
    runs_dir: Path | None = None
    cache_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for split in (self.val, self.test):
            if split is not None and split.class_names != self.train.class_names:
                raise ValueError(
                    f"class names differ between splits: {self.train.class_names} vs {split.class_names}"
                )

    @property
    def class_names(self) -> list[str]:
        """The shared class names (empty for regression)."""
        return self.train.class_names

    def split(self, name: str) -> LabelledImages:
        """The split called ``name`` ("train", "val" or "test"); raises ``KeyError`` if absent."""
        if name not in ("train", "val", "test"):
            raise KeyError(f"unknown split {name!r}; expected train, val or test")
        value = getattr(self, name)
        if value is None:
            raise KeyError(f"{self.source or 'data'} has no {name} split")
        return value

    def split_ids(self) -> dict[str, list[str]]:
        """Image ids per split, for the run record."""
        return {name: s.ids for name in ("train", "val", "test") if (s := getattr(self, name)) is not None}


def stratified_split(images: LabelledImages, fraction: float, seed: int) -> tuple[LabelledImages, LabelledImages]:
    """Split off ``fraction`` of each class (at least one image per class) as a validation set."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    targets = images.targets()
    keep: list[int] = []
    held: list[int] = []
    groups = [np.flatnonzero(targets == c) for c in range(len(images.class_names))] if images.class_names else [
        np.arange(len(images))
    ]
    for indices in groups:
        indices = rng.permutation(indices)
        n_held = max(1, int(round(len(indices) * fraction))) if len(indices) > 1 else 0
        held.extend(indices[:n_held].tolist())
        keep.extend(indices[n_held:].tolist())
    return images.subset(sorted(keep), f"{images.name}[train]"), images.subset(sorted(held), f"{images.name}[val]")
