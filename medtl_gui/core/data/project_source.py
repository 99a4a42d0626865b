"""Labelled images from a MedTL project store.

Written against the store's public API only (``images(split=...)``,
``classes()``, ``label(id)``, ``read_image(id)`` and the project folder),
so the engine does not depend on how the store keeps its data.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.data.labelled_images import DataSplits, ImageItem, ImageVanished, LabelledImages

#: key of ``DataSplits.extra``: notes about the data that the engine shows as run messages
DATA_MESSAGES_KEY = "messages"
#: label statuses that count as a usable training label (records without a status count too)
USABLE_STATUSES = (None, "labelled")


def project_folder(project: Any) -> Path:
    """The project's folder (``root`` or ``folder`` attribute)."""
    folder = getattr(project, "root", None) or getattr(project, "folder", None)
    if folder is None:
        raise TypeError(f"{project!r} has neither 'root' nor 'folder'")
    return Path(folder)


def _class_name_of(project: Any, record: Any) -> str | None:
    """The final class name of an image record, or ``None`` if it has no usable label."""
    if hasattr(record, "label"):
        if getattr(record, "label_status", None) not in USABLE_STATUSES:
            return None
        return record.label
    label = project.label(record.id)
    if label is None or getattr(label, "status", None) not in USABLE_STATUSES:
        return None
    return label.class_name


def image_available(project: Any, image_id: int) -> bool:
    """False when the project no longer holds the image (another process removed it) or its file is gone."""
    image_path = getattr(project, "image_path", None)
    if image_path is None:
        return True  # a source that cannot tell
    try:
        return Path(image_path(image_id)).exists()
    except Exception:  # noqa: BLE001 - "no image with id N" (ProjectError), or an id the store no longer knows
        return False


def read_project_image(project: Any, image_id: int) -> Any:
    """``project.read_image(image_id)``; :class:`ImageVanished` when the image went meanwhile."""
    try:
        return project.read_image(image_id)
    except Exception as exc:
        if not image_available(project, image_id):
            raise ImageVanished(project_folder(project), image_id) from exc
        raise


def class_names_of(project: Any) -> list[str]:
    """The project's classification classes in training-index order."""
    classes = list(project.classes())
    if all(hasattr(c, "index") for c in classes):
        classes.sort(key=lambda c: c.index)
    return [c.name for c in classes]


def from_project(project: Any, split: str | tuple[str, ...]) -> LabelledImages:
    """Labelled images of one split ("train", "val", "test" or "unassigned") of a project, or of several.

    Unlabelled images and images marked uncertain or skipped are left out.
    Pixels are read on demand through ``project.read_image``; the store's
    file SHA-256, when it records one, is the cache content key.
    """
    names = class_names_of(project)
    folder = project_folder(project)
    if not names:
        raise DataError(folder, "the project has no classes; add classes and label images first")
    index_of = {name: i for i, name in enumerate(names)}
    splits = (split,) if isinstance(split, str) else tuple(split)
    items = []
    for record in (r for name in splits for r in project.images(split=name)):
        class_name = _class_name_of(project, record)
        if class_name is None:
            continue
        if class_name not in index_of:
            raise DataError(folder, f"image {record.id} has label {class_name!r}, which is not a project class")
        sha = getattr(record, "sha256", None)
        items.append(
            ImageItem(
                id=str(record.id),
                target=index_of[class_name],
                load=functools.partial(read_project_image, project, record.id),
                content_key=f"sha256:{sha}" if sha else None,
                available=functools.partial(image_available, project, record.id),
            )
        )
    return LabelledImages(items, names, f"{folder.name}:{'+'.join(splits)}")


def project_splits(project: Any) -> DataSplits:
    """Train/val/test images of a project; run folders go to its ``runs/``.

    Labelled images without a split train with the training split (never
    with the test split), and ``extra["messages"]`` says so (the engine shows
    it); a missing validation split is left ``None`` and the engine then
    holds out the config's ``val_fraction`` of the training images. Raises
    :class:`DataError` only when no labelled image is left to train on.
    """
    folder = project_folder(project)
    train = from_project(project, ("train", "unassigned"))
    if len(train) == 0:
        raise DataError(folder, "no labelled image to train on outside the test split; label images first")
    unassigned = len(from_project(project, "unassigned"))
    val = from_project(project, "val")
    test = from_project(project, "test")
    messages = []
    if unassigned:
        held = "" if len(val) else ", the validation images held out of them (no validation split)"
        messages.append(f"{unassigned} labelled image(s) without a split train with the training images{held};"
                        " medtl split or Edit > Splits assigns splits")
    return DataSplits(
        train=train,
        val=val if len(val) else None,
        test=test if len(test) else None,
        source=str(folder),
        runs_dir=folder / "runs",
        cache_dir=folder / "cache",
        extra={DATA_MESSAGES_KEY: messages} if messages else {},
    )
