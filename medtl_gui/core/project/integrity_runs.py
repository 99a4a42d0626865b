"""Run folders in a project's integrity check: checkpoint saves that a kill interrupted.

A checkpoint save (``core/training/checkpoints.py``) writes temporary files,
then a ``.pending`` record as its commit point, then renames. A kill leaves
those files behind; ``medtl check`` reports them and ``--repair`` finishes a
committed save or discards an uncommitted one (the previous checkpoint
stays), as resuming the run would. Files younger than ``STALE_TEMP_S`` may
belong to a run still training and are only reported. Detection needs no
torch; the repair loads it.
"""

from __future__ import annotations

import time
from pathlib import Path

from medtl_gui.core.project.integrity import STALE_TEMP_S, IntegrityProblem

#: the suffixes of a checkpoint save in progress (``checkpoints.TEMP_SUFFIX``, ``checkpoints.PENDING_SUFFIX``;
#: copied so that checking a project needs no torch; a test keeps them equal)
CHECKPOINT_LEFTOVER_SUFFIXES = (".tmp", ".pending")
RUNS_DIR = "runs"


def checkpoint_problems(project_folder: Path, now: float | None = None) -> list[IntegrityProblem]:
    """One problem per run whose ``checkpoints/`` holds leftovers of an interrupted save."""
    now = time.time() if now is None else now
    problems: list[IntegrityProblem] = []
    runs = project_folder / RUNS_DIR
    if not runs.is_dir():
        return problems
    for folder in sorted(runs.glob("*/checkpoints")):
        leftovers = [p for p in folder.iterdir() if p.name.endswith(CHECKPOINT_LEFTOVER_SUFFIXES)]
        if not leftovers:
            continue
        relative = folder.relative_to(project_folder).as_posix()
        names = ", ".join(sorted(p.name for p in leftovers))
        newest = max((_mtime(p) for p in leftovers), default=0.0)
        if now - newest < STALE_TEMP_S:
            problems.append(IntegrityProblem(
                "checkpoint-save", f"checkpoint save in progress (or just interrupted) in {relative}: {names}",
                severity="leftover"))
            continue
        problems.append(IntegrityProblem(
            "checkpoint-save", f"checkpoint save interrupted in {relative}: {names}", severity="leftover",
            repair="finish it if it was committed, else discard it (the previous checkpoint stays)",
            fix=_recover(folder)))
    return problems


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _recover(folder: Path):
    def fix() -> None:
        from medtl_gui.core.training.checkpoints import recover_checkpoints

        recover_checkpoints(folder)
    return fix
