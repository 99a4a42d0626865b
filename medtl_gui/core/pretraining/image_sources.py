"""Images for pretraining: every image of a project (labelled or not), or the splits of an ``.npz``.

Self-supervised pretraining never reads labels, so unlabelled images count
too. Test-split images are left out unless asked for: the test split must
stay unseen to measure the fine-tuned model fairly.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.data.labelled_images import ImageItem, LabelledImages


def project_images(project: Any, include_test: bool = False) -> LabelledImages:
    """All images of a project (targets are meaningless zeros), test split only with ``include_test``."""
    folder = Path(getattr(project, "folder", None) or project.root)
    items = [
        ImageItem(id=str(record.id), target=0.0, load=functools.partial(project.read_image, record.id),
                  content_key=f"sha256:{record.sha256}" if record.sha256 else None)
        for record in project.images()
        if include_test or record.split != "test"
    ]
    return LabelledImages(items, [], f"{folder.name}:all" + ("" if include_test else " but test"))


def split_images(splits: dict[str, LabelledImages | None], include_test: bool, name: str) -> LabelledImages:
    """The images of train and val (and test) of a split data set, labels dropped."""
    items = []
    for split_name in ("train", "val", "test"):
        images = splits.get(split_name)
        if images is None or (split_name == "test" and not include_test):
            continue
        items.extend(ImageItem(item.id, 0.0, item.load, item.content_key) for item in images)
    return LabelledImages(items, [], name)


def open_pretraining_images(location: str | os.PathLike, include_test: bool = False) -> tuple[LabelledImages, str]:
    """Images of a project folder or ``.npz`` for self-supervised pretraining, and the source's name."""
    path = Path(location).expanduser()
    if path.suffix.lower() == ".npz":
        from medtl_gui.core.data.npz_source import load_npz_splits

        data = load_npz_splits(path)
        splits = {"train": data.train, "val": data.val, "test": data.test}
        images = split_images(splits, include_test, f"{path.name}:all" + ("" if include_test else " but test"))
    else:
        if not path.is_dir():
            raise DataError(path, "no such project folder or .npz file")
        from medtl_gui.core.project import Project, ProjectError

        try:
            project = Project.open(path)
        except ProjectError as exc:
            raise DataError(path, str(exc)) from exc
        images = project_images(project, include_test)
    if len(images) < 2:
        raise DataError(path, f"contrastive pretraining needs at least 2 images, found {len(images)}")
    return images, path.name
