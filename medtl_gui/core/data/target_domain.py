"""Target-domain images for domain adaptation, from a project or an ``.npz`` file.

Every image belongs to a domain; ``"source"`` is the default (an image with
no domain tag is a source image). Domain adaptation trains on the labelled
source images and uses the images of one *target* domain without their
labels:

- a project: the images whose domain tag is the target domain's name (any
  split, labelled or not) are the target images; they are taken out of the
  source train/val/test splits for that run;
- an ``.npz`` file (``medtl train --target-data FILE.npz``): every
  ``<split>_images`` array in it (train, val, test, in that order) or an
  ``images`` array; labels, if any, are ignored.

The target images travel with the :class:`DataSplits` in
``extra["target_images"]`` (a :class:`LabelledImages` without class names).
"""

from __future__ import annotations

import functools
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.data.labelled_images import DataSplits, ImageItem, LabelledImages, pixel_hash

#: the domain of every image that carries no domain tag
DEFAULT_DOMAIN = "source"
#: key of the target images in ``DataSplits.extra``
TARGET_IMAGES_KEY = "target_images"
#: the image arrays of a target ``.npz`` file, in the order they are used
NPZ_IMAGE_KEYS = ("train_images", "val_images", "test_images", "images")


def domain_name(tag: str | None) -> str:
    """The domain an image's tag puts it in (``None`` or empty: ``"source"``)."""
    return tag or DEFAULT_DOMAIN


def load_target_npz(path: str | os.PathLike) -> LabelledImages:
    """Every image array of an ``.npz`` file as unlabelled target images."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(path, "no such file (target-domain images)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files if key in NPZ_IMAGE_KEYS}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(path, f"not a readable .npz file ({exc})") from exc
    if not arrays:
        raise DataError(path, f"has no image array; expected one of {', '.join(NPZ_IMAGE_KEYS)}")
    items: list[ImageItem] = []
    for key in NPZ_IMAGE_KEYS:
        if key not in arrays:
            continue
        images = arrays[key]
        if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3)):
            raise DataError(path, f"{key} must have shape (N, H, W) or (N, H, W, 3), got {images.shape}")
        prefix = key.removesuffix("_images").removesuffix("images") or "images"
        items.extend(
            ImageItem(id=f"target:{prefix}:{index}", target=0.0,
                      load=(lambda images=images, index=index: images[index]),
                      content_key=pixel_hash(images[index]))
            for index in range(len(images))
        )
    if not items:
        raise DataError(path, "has no target images (the image arrays are empty)")
    return LabelledImages(items, [], f"{path.name}:target")


def with_target_npz(data: DataSplits, path: str | os.PathLike) -> DataSplits:
    """``data`` with the images of ``path`` as its target domain (in place; returned for chaining)."""
    data.extra[TARGET_IMAGES_KEY] = load_target_npz(path)
    return data


def _project_target(project: Any, domain: str) -> LabelledImages:
    records = project.images(domain=domain)
    items = [
        ImageItem(id=str(r.id), target=0.0, load=functools.partial(project.read_image, r.id),
                  content_key=f"sha256:{r.sha256}" if getattr(r, "sha256", None) else None)
        for r in records
    ]
    return LabelledImages(items, [], f"{Path(project.folder).name}:domain={domain}")


def _without(images: LabelledImages | None, ids: set[str]) -> LabelledImages | None:
    if images is None:
        return None
    keep = [i for i, item in enumerate(images) if item.id not in ids]
    if len(keep) == len(images):
        return images
    return images.subset(keep, f"{images.name}[source]") if keep else None


def split_domains(data: DataSplits, target_domain: str) -> DataSplits:
    """Source splits and target images for a domain-adaptation run.

    With target images already attached (an ``.npz`` given with
    ``--target-data``) ``data`` is returned as it is. For a project, the
    images tagged ``target_domain`` become the target images and leave the
    source splits. Raises :class:`DataError` when there are no target images.
    """
    if TARGET_IMAGES_KEY in data.extra:
        if len(data.extra[TARGET_IMAGES_KEY]) == 0:
            raise DataError(data.source or "data", "the target domain has no images")
        return data
    project = data.extra.get("project")
    if project is None:
        raise DataError(data.source or "data",
                        "domain adaptation needs target-domain images: pass --target-data FILE.npz, or use a "
                        f"project with images marked as domain {target_domain!r}")
    target = _project_target(project, target_domain)
    if len(target) == 0:
        raise DataError(data.source or "data",
                        f"no image is marked as domain {target_domain!r} (medtl domain PROJECT {target_domain} "
                        "--ids ... or medtl import ... --domain NAME)")
    ids = set(target.ids)
    train = _without(data.train, ids)
    if train is None or len(train) == 0:
        raise DataError(data.source or "data", f"every training image is in domain {target_domain!r}; "
                                               "the source domain has no labelled training images")
    return DataSplits(train=train, val=_without(data.val, ids), test=_without(data.test, ids), source=data.source,
                      runs_dir=data.runs_dir, cache_dir=data.cache_dir,
                      extra=dict(data.extra) | {TARGET_IMAGES_KEY: target})


def target_images(data: DataSplits) -> LabelledImages | None:
    """The target images attached to ``data``, if any."""
    return data.extra.get(TARGET_IMAGES_KEY)
