"""Checkpoint integrity: recorded SHA-256 per tensor file, checked before the weights are used (no torch).

A checkpoint save (:mod:`checkpoints`) records the SHA-256 of every tensor
file it writes in the checkpoint's JSON record (``"sha256": {file name:
hex}``), which becomes valid at the save's commit point together with the
files. Everything that uses a checkpoint (evaluate, predict, export,
report, resume, ensembles, the GUI's Apply model) reads it through
:func:`verify_checkpoint` first:

- a missing record or tensor file, a SHA-256 that differs, a file that is
  not safetensors: :class:`CheckpointError` naming the file (the CLI exits
  2); nothing falls back to another checkpoint;
- a checkpoint saved before hashes were recorded (older runs): its
  safetensors header must parse and describe tensors that fit the file;
  it is used, with the note "no recorded hash" (logged once per file).

``medtl check`` runs the same verification over every run of a project
(:mod:`medtl_gui.core.project.integrity_runs`), so this module imports
neither torch nor safetensors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.runs import RunRecord

#: key of the JSON record holding ``{tensor file name: SHA-256 hex}``
HASHES_KEY = "sha256"
#: suffix of a checkpoint file written but not yet moved into place
TEMP_SUFFIX = ".tmp"
#: suffix of the JSON record of a committed checkpoint whose files are still being moved into place
PENDING_SUFFIX = ".pending"
#: the note for a checkpoint without recorded hashes
NO_HASH_NOTE = "no recorded hash"
#: largest safetensors header accepted (the format's own limit is 100 MB)
MAX_HEADER_BYTES = 100_000_000
_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
                "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
_CHUNK = 1 << 20
_log = logging.getLogger(__name__)
_noted: set[str] = set()


class CheckpointError(DataError):
    """A checkpoint that cannot be trusted (damaged, changed, unreadable); names the file and says why."""


class MissingCheckpointError(CheckpointError, FileNotFoundError):
    """A checkpoint file (or its record) that is not there."""


@dataclass
class VerifiedCheckpoint:
    """A checkpoint whose files were checked: its record, the paths of its tensor files, the unhashed ones."""

    tag: str
    record: dict[str, Any]
    paths: dict[str, Path]
    unhashed: list[Path] = field(default_factory=list)


def tensor_file_names(tag: str) -> list[str]:
    """The tensor files a checkpoint ``tag`` may have."""
    return [f"{tag}.safetensors", f"{tag}.optim.safetensors"]


def current_paths(folder: Path, tag: str) -> tuple[Path, dict[str, Path]]:
    """The record and tensor files of the newest complete checkpoint ``tag`` (read-only view)."""
    pending = folder / f"{tag}.json{PENDING_SUFFIX}"
    names = tensor_file_names(tag)
    if pending.is_file():  # committed, not yet moved: new files are the .tmp ones still present
        paths = {}
        for name in names:
            temp = folder / (name + TEMP_SUFFIX)
            paths[name] = temp if temp.is_file() else folder / name
        return pending, paths
    return folder / f"{tag}.json", {name: folder / name for name in names}


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def safetensors_problem(path: Path) -> str | None:
    """Why ``path`` is not a sound safetensors file (header parses, tensors fit the file), or None."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                return "not a safetensors file (shorter than its header size)"
            length = int.from_bytes(prefix, "little")
            if length > min(MAX_HEADER_BYTES, size - 8):
                return f"not a safetensors file (declares a {length}-byte header in a {size}-byte file)"
            header = json.loads(handle.read(length).decode("utf-8"))
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    except (UnicodeDecodeError, ValueError):
        return "not a safetensors file (its header is not JSON)"
    if not isinstance(header, dict):
        return "not a safetensors file (its header is not a table of tensors)"
    data_size = size - 8 - length
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            itemsize = _DTYPE_BYTES[entry["dtype"]]
            begin, end = (int(v) for v in entry["data_offsets"])
            count = math.prod(int(v) for v in entry["shape"])
        except (KeyError, TypeError, ValueError):
            return f"damaged safetensors header (tensor {name!r} is not described properly)"
        if not 0 <= begin <= end <= data_size or end - begin != count * itemsize:
            return f"damaged safetensors file (tensor {name!r} does not fit the file)"
    return None


def _read_record(path: Path, folder: Path, tag: str) -> dict[str, Any]:
    model_file = folder / f"{tag}.safetensors"
    if not path.is_file():
        if model_file.is_file():
            raise MissingCheckpointError(folder / f"{tag}.json", f"the record of checkpoint '{tag}' is missing, so "
                                         f"{model_file.name} cannot be checked; it is not used")
        raise MissingCheckpointError(model_file, f"no '{tag}' checkpoint in this run (did it finish an epoch?)")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(path, f"the checkpoint record cannot be read ({exc})") from exc
    if not isinstance(record, dict):
        raise CheckpointError(path, "the checkpoint record is not a JSON object")
    return record


def _check_files(folder: Path, tag: str, record: dict[str, Any], paths: dict[str, Path],
                 names: list[str] | None) -> VerifiedCheckpoint:
    listed = [n for n in record.get("files") or [f"{tag}.safetensors"] if n in paths]
    wanted = [n for n in listed if names is None or n in names]
    hashes = record.get(HASHES_KEY) if isinstance(record.get(HASHES_KEY), dict) else {}
    unhashed: list[Path] = []
    for name in wanted:
        path = paths[name]
        if not path.is_file():
            epoch = record.get("epoch")
            saved = f", saved after epoch {int(epoch) + 1}" if isinstance(epoch, int) else ""
            raise MissingCheckpointError(folder / name, f"the file is missing (checkpoint '{tag}'{saved}); no "
                                         "other checkpoint is used in its place")
        expected = hashes.get(name)
        if expected:
            try:
                actual = _sha256_file(path)
            except OSError as exc:
                raise CheckpointError(folder / name, f"cannot be read ({exc.strerror or exc})") from exc
            if actual != expected:
                raise CheckpointError(folder / name, "SHA-256 differs from the one recorded when the checkpoint "
                                      "was saved: the file is damaged or was replaced, so it is not used")
        else:
            problem = safetensors_problem(path)
            if problem:
                raise CheckpointError(folder / name, problem)
            unhashed.append(folder / name)
    return VerifiedCheckpoint(tag, record, {n: paths[n] for n in listed}, unhashed)


def verify_checkpoint(folder: str | os.PathLike, tag: str, names: list[str] | None = None) -> VerifiedCheckpoint:
    """Check checkpoint ``tag`` of a run's ``checkpoints/`` folder; raises :class:`CheckpointError`.

    ``names``: the tensor files to check (default: every file of the
    checkpoint). A save finishing while this reads is not mistaken for
    damage: the check is repeated when the record changed meanwhile.
    """
    folder = Path(folder)
    for attempt in range(3):
        record_path, paths = current_paths(folder, tag)
        record = _read_record(record_path, folder, tag)
        try:
            return _check_files(folder, tag, record, paths, names)
        except CheckpointError:
            again_path, _ = current_paths(folder, tag)
            try:
                changed = again_path != record_path or json.loads(again_path.read_text(encoding="utf-8")) != record
            except (OSError, ValueError):
                changed = True
            if attempt == 2 or not changed:
                raise
    raise AssertionError("unreachable")


def note_unhashed(checked: VerifiedCheckpoint) -> None:
    """Say once per file (logged as a warning) that it was saved without a recorded hash."""
    for path in checked.unhashed:
        if str(path) not in _noted:
            _noted.add(str(path))
            _log.warning("%s: %s (saved by an older MedTL): its header and tensors were checked, its content "
                         "cannot be verified", path, NO_HASH_NOTE)


def require_resumable(run_dir: str | os.PathLike) -> None:
    """Raise :class:`CheckpointError` unless the run can resume: its ``last`` checkpoint verifies.

    A run that never completed an epoch (no checkpoint file, no metrics
    line) has nothing to lose and may "resume" from the beginning.
    """
    run = RunRecord(run_dir)
    folder = run.checkpoints
    try:
        verify_checkpoint(folder, "last")
        return
    except CheckpointError as exc:
        problem = exc
    started = run.has_metrics or (folder.is_dir() and any(p.is_file() for p in folder.iterdir()))
    if not started:
        return
    raise CheckpointError(problem.path, f"{problem.reason}; the run cannot resume from its last epoch (train it "
                          "again from the start in the same folder with --restart)") from problem
