"""Images with segmentation masks as the engine sees them, and where they come from (a project).

A :class:`SegmentationImages` is a sequence of :class:`SegmentationItem`
(an id, the case it belongs to, and loaders of the image plane, its label
mask and its optional field-of-view mask) plus the names of the labels.
Every 2D image with a final mask is one item; every masked slice of a
volume is one item whose ``case_id`` is the volume (metrics are then also
reported per case). Mask pixel values are the project's segmentation label
values; items hand out *label indices* (0 background, 1.. in the order of
``label_names``).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.data.item_collection import ItemCollection
from medtl_gui.core.data.labelled_images import DataSplits, ImageVanished, without_vanished
from medtl_gui.core.data.project_source import (
    DATA_MESSAGES_KEY,
    image_available,
    project_folder,
    read_project_image,
)


@dataclass(frozen=True)
class ImagePlane:
    """One 2D image plane (grey (y, x) or colour (y, x, 3)) and the display window to map it with."""

    pixels: np.ndarray
    window: tuple[float, float] | None = None


@dataclass(frozen=True)
class SegmentationItem:
    """One image (or volume slice) with its mask.

    ``load_image`` returns an :class:`ImagePlane`; ``load_mask`` the label
    indices (uint8, 0 = background); ``load_fov`` a bool field-of-view mask
    (True where pixels count) or ``None`` when the whole image counts.
    ``available()``, when the source can tell cheaply, says whether the
    image is still there (see ``ImageItem``); the loaders of one that is
    gone raise :class:`ImageVanished`.
    """

    id: str
    case_id: str
    load_image: Callable[[], ImagePlane]
    load_mask: Callable[[], np.ndarray]
    load_fov: Callable[[], np.ndarray | None]
    slice_index: int | None = None
    available: Callable[[], bool] | None = None


class SegmentationImages(ItemCollection[SegmentationItem]):
    """An ordered, immutable collection of masked images and the names of their labels."""

    def __init__(self, items: Sequence[SegmentationItem], label_names: Sequence[str], name: str = ""):
        super().__init__(items, label_names, name)
        self.label_names = self._names

    def __repr__(self) -> str:
        return f"SegmentationImages({self.name!r}, n={len(self)}, labels={self.label_names})"

    @property
    def class_names(self) -> list[str]:
        """Label names (the attribute the engine's records read for any task)."""
        return self.label_names

    def without_vanished(self) -> tuple["SegmentationImages", list[str]]:
        """These images less those whose ``available()`` says they are gone, and the case ids (project
        images) of those, each once."""
        return without_vanished(self, key=lambda item: item.case_id)

    def case_split(self, fraction: float, seed: int) -> tuple["SegmentationImages", "SegmentationImages"]:
        """Hold out ``fraction`` of the cases (at least one; whole cases, never single slices)."""
        cases = sorted({item.case_id for item in self._items})
        if len(cases) < 2:
            raise DataError(self.name or "images", "need at least 2 cases to hold some out for validation")
        rng = np.random.default_rng(seed)
        held = set(rng.permutation(cases)[: max(1, int(round(len(cases) * fraction)))].tolist())
        keep = [i for i, item in enumerate(self._items) if item.case_id not in held]
        out = [i for i, item in enumerate(self._items) if item.case_id in held]
        return self.subset(keep, f"{self.name}[train]"), self.subset(out, f"{self.name}[val]")


@dataclass
class SegmentationSplits(DataSplits):
    """Training, validation and (optional) test images with masks sharing one label set.

    A :class:`DataSplits` whose splits are :class:`SegmentationImages`: its
    class names are the segmentation labels (checked equal across splits).
    """

    train: SegmentationImages
    val: SegmentationImages | None = None
    test: SegmentationImages | None = None

    @property
    def label_names(self) -> list[str]:
        """The shared segmentation label names (= :attr:`class_names`)."""
        return self.train.label_names


# --------------------------------------------------------------------------- project source
class _VolumeReader:
    """Reads each volume once while its slices are loaded one after another (thread-safe)."""

    def __init__(self, project: Any):
        self._project = project
        self._lock = threading.Lock()
        self._image_id: int | None = None
        self._pixels: np.ndarray | None = None
        self._window: tuple[float, float] | None = None

    def plane(self, image_id: int, slice_index: int | None) -> ImagePlane:
        if slice_index is None:
            scan = read_project_image(self._project, image_id)
            return ImagePlane(np.asarray(scan.pixels), getattr(scan, "window", None))
        with self._lock:
            if self._image_id != image_id:
                scan = read_project_image(self._project, image_id)
                pixels = np.asarray(scan.pixels)
                window = getattr(scan, "window", None)
                if window is None and pixels.dtype != np.uint8:
                    low, high = np.percentile(pixels[np.isfinite(pixels)], [0.5, 99.5])
                    window = ((low + high) / 2, max(float(high - low), 1e-6))
                self._image_id, self._pixels, self._window = image_id, pixels, window
            return ImagePlane(self._pixels[slice_index], self._window)


def seg_label_values(project: Any) -> tuple[list[str], dict[int, int]]:
    """The project's segmentation label names (by value) and value -> label index (1..)."""
    labels = sorted(project.seg_labels(), key=lambda label: label.value)
    return [label.name for label in labels], {label.value: index for index, label in enumerate(labels, start=1)}


def _read_mask(project: Any, image_id: int, read: Callable[[], np.ndarray | None]) -> np.ndarray | None:
    """``read()`` of one of an image's masks; :class:`ImageVanished` when it fails, or finds no mask, because
    the image went meanwhile (removal deletes its masks too)."""
    try:
        mask = read()
    except Exception as exc:
        if not image_available(project, image_id):
            raise ImageVanished(project_folder(project), image_id) from exc
        raise
    if mask is None and not image_available(project, image_id):
        raise ImageVanished(project_folder(project), image_id)
    return mask


def _index_mask(project: Any, image_id: int, slice_index: int | None, lookup: np.ndarray) -> np.ndarray:
    mask = _read_mask(project, image_id, lambda: project.mask(image_id, slice_index))
    if mask is None:
        raise DataError(project_folder(project), f"image {image_id} lost its mask while training")
    indices = lookup[mask]
    if (indices == 255).any():
        unknown = sorted(set(np.unique(mask[indices == 255]).tolist()))
        raise DataError(project_folder(project), f"image {image_id}: mask values {unknown} are not segmentation labels "
                        "of the project (name them first)")
    return indices


def _fov(project: Any, image_id: int) -> np.ndarray | None:
    fov = _read_mask(project, image_id, lambda: project.fov_mask(image_id))
    return None if fov is None else fov > 0


def segmentation_from_project(project: Any, split: str | tuple[str, ...],
                              label_names: Sequence[str] | None = None) -> SegmentationImages:
    """Masked images (and masked volume slices) of one split of a project, or of several.

    ``label_names``: the label order to use (e.g. a trained model's); each
    must be a segmentation label of the project. Default: the project's
    labels by value.
    """
    folder = project_folder(project)
    names, index_of_value = seg_label_values(project)
    if not names:
        raise DataError(folder, "the project has no segmentation labels; name the mask values first")
    if label_names is not None:
        missing = [name for name in label_names if name not in names]
        if missing:
            raise DataError(folder, f"segmentation labels {missing} are not in the project, which has {names}")
        value_of_name = {name: value for value, name in zip(sorted(index_of_value), names)}
        index_of_value = {value_of_name[name]: index for index, name in enumerate(label_names, start=1)}
        names = list(label_names)
    lookup = np.full(256, 255, dtype=np.uint8)
    lookup[0] = 0
    for value, index in index_of_value.items():
        lookup[value] = index
    reader = _VolumeReader(project)
    items = []
    splits = (split,) if isinstance(split, str) else tuple(split)
    for record in (r for name in splits for r in project.images(split=name, has_mask=True)):
        slices = [m.slice_index for m in project.mask_records(record.id, kind="label")]
        for slice_index in sorted(slices, key=lambda s: -1 if s is None else s):
            suffix = "" if slice_index is None else f":z{slice_index}"
            items.append(SegmentationItem(
                id=f"{record.id}{suffix}",
                case_id=str(record.id),
                load_image=lambda i=record.id, s=slice_index: reader.plane(i, s),
                load_mask=lambda i=record.id, s=slice_index: _index_mask(project, i, s, lookup),
                load_fov=lambda i=record.id: _fov(project, i),
                slice_index=slice_index,
                available=functools.partial(image_available, project, record.id),
            ))
    return SegmentationImages(items, names, f"{folder.name}:{'+'.join(splits)}")


def segmentation_splits(project: Any, label_names: Sequence[str] | None = None) -> SegmentationSplits:
    """Train/val/test masked images of a project; run folders go to its ``runs/``.

    Like :func:`project_splits`: masked images without a split train with the
    training split (never with the test split) and ``extra["messages"]`` says
    so; without a validation split the engine holds out part of training.
    """
    folder = project_folder(project)
    train = segmentation_from_project(project, ("train", "unassigned"), label_names)
    if len(train) == 0:
        raise DataError(folder, "no image with a mask to train on outside the test split; paint masks first")
    unassigned = len(segmentation_from_project(project, "unassigned", train.label_names))
    val = segmentation_from_project(project, "val", train.label_names)
    test = segmentation_from_project(project, "test", train.label_names)
    messages = []
    if unassigned:
        messages.append(f"{unassigned} masked image(s) without a split train with the training images;"
                        " medtl split or Edit > Splits assigns splits")
    return SegmentationSplits(train=train, val=val if len(val) else None, test=test if len(test) else None,
                              source=str(folder), runs_dir=folder / "runs", cache_dir=folder / "cache",
                              extra={DATA_MESSAGES_KEY: messages} if messages else {})


def open_project_folder(location: str | os.PathLike) -> Any:
    path = Path(location).expanduser()
    if path.suffix.lower() == ".npz":
        raise DataError(path, "segmentation needs a project with masks; an .npz holds no masks")
    if not path.exists():
        raise DataError(path, "no such file or folder")
    if not path.is_dir():
        raise DataError(path, "not a project folder")
    from medtl_gui.core.project import Project, ProjectError

    try:
        return Project.open(path)
    except ProjectError as exc:
        raise DataError(path, str(exc)) from exc


def open_segmentation_source(location: str | os.PathLike, label_names: Sequence[str] | None = None) -> SegmentationSplits:
    """:class:`SegmentationSplits` of a project folder; the project stays open (its loaders read through it)."""
    project = open_project_folder(location)
    try:
        splits = segmentation_splits(project, label_names)
    except BaseException:
        project.close()
        raise
    splits.extra["project"] = project
    return splits


def is_segmentation_project(location: str | os.PathLike) -> bool:
    """True for a project folder with segmentation labels and masks but no classification classes."""
    path = Path(location).expanduser()
    if not path.is_dir():
        return False
    try:
        project = open_project_folder(path)
    except DataError:
        return False
    try:
        info = project.info()
        return not info["classes"] and bool(info["seg_labels"]) and info["masks"] > 0
    finally:
        project.close()
