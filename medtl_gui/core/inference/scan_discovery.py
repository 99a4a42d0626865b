"""Turn command-line paths (files, folders of scans, DICOM series folders) into scans to predict.

A file is one scan. A folder is searched recursively the way an import
would (every DICOM series as one scan, every other supported file as one
scan). Paths that do not exist and files of unsupported types are
reported, not fatal.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

from medtl_gui.core.inference.prediction import ScanToPredict


def _read(path: Path, series_uid: str | None = None):
    from medtl_gui.core.imaging import read_scan

    return read_scan(path, series_uid=series_uid)


def scans_in_paths(paths: Sequence[str | os.PathLike]) -> tuple[list[ScanToPredict], list[tuple[str, str]]]:
    """Scans found under ``paths`` (in order) and ``(path, reason)`` for what was skipped."""
    from medtl_gui.core.project.import_plans import plan_folder

    scans: list[ScanToPredict] = []
    skipped: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_file():
            scans.append(ScanToPredict(str(path), functools.partial(_read, path), files=(str(path),)))
        elif path.is_dir():
            plan = plan_folder(path)
            skipped.extend(plan.skipped)
            for item in plan.items:
                if item.series_uid is not None:
                    load = functools.partial(_read, item.files[0].parent, item.series_uid)
                    scans.append(ScanToPredict(str(item.files[0].parent), load, series_uid=item.series_uid,
                                               files=tuple(str(f) for f in item.files)))
                else:
                    scans.append(ScanToPredict(str(item.files[0]), functools.partial(_read, item.files[0]),
                                               files=(str(item.files[0]),)))
        else:
            skipped.append((str(path), "no such file or folder"))
    return scans, skipped
