"""Run folders in a project's integrity check: damaged or missing checkpoints, and saves a kill interrupted.

Every checkpoint of every run under ``runs/`` is verified as evaluation
would verify it (``core/training/checkpoint_integrity.py``): the SHA-256
recorded when it was saved, or, for a checkpoint saved before hashes were
recorded, its safetensors header. A damaged or missing file is an error
naming it (nothing can repair it: resume or train the run again); a
checkpoint without recorded hashes is listed once per run, as a leftover
of an older MedTL.

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
from medtl_gui.core.training.checkpoint_integrity import NO_HASH_NOTE, CheckpointError, verify_checkpoint

#: the suffixes of a checkpoint save in progress (``checkpoints.TEMP_SUFFIX``, ``checkpoints.PENDING_SUFFIX``;
#: copied so that checking a project needs no torch; a test keeps them equal)
CHECKPOINT_LEFTOVER_SUFFIXES = (".tmp", ".pending")
RUNS_DIR = "runs"


def checkpoint_problems(project_folder: Path, now: float | None = None) -> list[IntegrityProblem]:
    """Damaged or missing checkpoint files, and one problem per run with leftovers of an interrupted save."""
    now = time.time() if now is None else now
    problems: list[IntegrityProblem] = []
    runs = project_folder / RUNS_DIR
    if not runs.is_dir():
        return problems
    for folder in sorted(runs.glob("*/checkpoints")):
        problems += _verification_problems(project_folder, folder)
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


def _checkpoint_tags(folder: Path) -> list[str]:
    """The checkpoints a run's folder holds or refers to (``best``, ``last``, ``target``, ...)."""
    tags = set()
    for path in folder.iterdir():
        name = path.name
        if path.is_file() and not name.endswith(CHECKPOINT_LEFTOVER_SUFFIXES) and name.endswith((".json",
                                                                                                   ".safetensors")):
            tags.add(name.split(".", 1)[0])
        elif name.endswith(".json.pending"):
            tags.add(name.split(".", 1)[0])
    return sorted(tags)


def _verification_problems(project_folder: Path, folder: Path) -> list[IntegrityProblem]:
    """An error per checkpoint that fails verification; one leftover per run for checkpoints without hashes."""
    problems: list[IntegrityProblem] = []
    unhashed: list[str] = []
    for tag in _checkpoint_tags(folder):
        try:
            checked = verify_checkpoint(folder, tag)
        except CheckpointError as exc:
            shown = _relative(Path(exc.path), project_folder)
            code = "checkpoint-missing" if isinstance(exc, FileNotFoundError) else "checkpoint-damaged"
            problems.append(IntegrityProblem(code, f"{shown}: {exc.reason}"))
            continue
        unhashed += [p.name for p in checked.unhashed]
    if unhashed:
        problems.append(IntegrityProblem(
            "checkpoint-unhashed", f"{_relative(folder, project_folder)}: {', '.join(unhashed)}: {NO_HASH_NOTE} "
            "(saved by an older MedTL): headers and tensor tables are sound, the content cannot be verified",
            severity="leftover"))
    return problems


def _relative(path: Path, project_folder: Path) -> str:
    try:
        return path.relative_to(project_folder).as_posix()
    except ValueError:
        return str(path)
