"""Open a training data source named on the command line: an ``.npz`` file or a project folder."""

from __future__ import annotations

import os
from pathlib import Path

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.data.labelled_images import DataSplits


def open_data_source(location: str | os.PathLike) -> DataSplits:
    """:class:`DataSplits` from an ``.npz`` file or a MedTL project folder.

    The project stays open for the life of the returned object (its image
    loaders read through it).
    """
    path = Path(location).expanduser()
    if path.suffix.lower() == ".npz":
        from medtl_gui.core.data.npz_source import load_npz_splits

        return load_npz_splits(path)
    if not path.exists():
        raise DataError(path, "no such file or folder")
    if not path.is_dir():
        raise DataError(path, "not a project folder or an .npz file")
    try:
        from medtl_gui.core.project import Project, ProjectError
    except ImportError as exc:  # the store is being written in parallel
        raise DataError(path, f"the project store is not available ({exc})") from exc
    from medtl_gui.core.data.project_source import project_splits

    try:
        project = Project.open(path)
    except ProjectError as exc:
        raise DataError(path, str(exc)) from exc
    splits = project_splits(project)
    splits.extra["project"] = project
    return splits
