"""Which data (project folder or ``.npz``) a run was trained on, wherever its folder now lies.

A run inside its project (``<project>/runs/<id>/``) records the project
relative to the run folder (``config.json``: ``data.source_in_run``, e.g.
``"../.."``) next to the absolute path it had when it was trained
(``data.source``). A moved or copied project therefore keeps working: a
report of ``copy/runs/X`` reads ``copy`` and is logged in ``copy``'s export
log. Data outside the run's folder tree (an ``.npz``, another project)
stays absolute. Older runs record only the absolute path; when it no longer
exists and the run lies inside a project folder, that project is used and
the caller is told so once. A run copied out of its project says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: what marks a folder as a MedTL project (``core.project``'s database file)
PROJECT_MARKER = "project.sqlite"
#: ``config.json`` ``data`` key: the project's path relative to the run folder
RELATIVE_KEY = "source_in_run"


def _is_project(folder: Path) -> bool:
    return (folder / PROJECT_MARKER).is_file()


def add_relative_source(record: dict[str, Any], run_path: Path) -> None:
    """Add ``data.source_in_run`` to a run's ``config.json`` record when the run lies inside its project."""
    data = record.get("data")
    source = data.get("source") if isinstance(data, dict) else None
    if not source:
        return
    try:
        project = Path(source).expanduser().resolve()
        run = Path(run_path).resolve()
    except (OSError, RuntimeError):
        return
    if project.is_dir() and run.is_relative_to(project):
        data[RELATIVE_KEY] = Path(os.path.relpath(project, run)).as_posix()


@dataclass(frozen=True)
class RunDataSource:
    """Where a run's data is now (``location``; None when it cannot be found) and ``note``: one line for the user
    when it is not simply where the run says (empty otherwise), or why it cannot be found."""

    location: str | None
    note: str = ""


def _inside_project(run: Path) -> Path | None:
    """The project folder that holds the run folder (``<project>/runs/<id>``), if any."""
    for parent in run.parents:
        if _is_project(parent):
            return parent
    return None


def run_data_source(run_dir: str | os.PathLike, record: dict[str, Any]) -> RunDataSource:
    """Resolve the data a run trained on (see the module's text)."""
    run = Path(run_dir).expanduser().resolve()
    data = record.get("data") if isinstance(record.get("data"), dict) else {}
    source, relative = data.get("source"), data.get(RELATIVE_KEY)
    if relative:
        candidate = (run / relative).resolve()
        if _is_project(candidate):
            return RunDataSource(str(candidate))
    if not source:
        return RunDataSource(None, "the run does not record its data source")
    absolute = Path(source).expanduser()
    if relative:  # the run folder was copied or moved out of its project
        if absolute.exists():
            return RunDataSource(str(absolute), f"{run}: the run lies outside its project; using the project it "
                                                f"was trained on: {absolute}")
        return RunDataSource(None, f"{run}: the run lies outside its project and its project {absolute} no "
                                   "longer exists")
    if absolute.exists():
        return RunDataSource(str(absolute))
    holder = _inside_project(run)
    if holder is not None:
        return RunDataSource(str(holder), f"{run}: the run's data {absolute} no longer exists; using the project "
                                          f"the run lies in: {holder}")
    return RunDataSource(None, f"{run}: the run lies outside its project and its data {absolute} no longer exists")
