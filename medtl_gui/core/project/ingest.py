"""Turning a scan file (or DICOM series) into an ``images`` row: hash, validate, copy, insert.

Shared by ``Project.add_image`` and the bulk importer (``importing.py``).
Sources are only ever opened for reading.

Identity: two imports are "the same image" when they have the same
``identity``: ``sha256:<hex>`` of the file content (for a DICOM series of
several files: the hash of the sorted file hashes), or, for an image that
comes out of an array file (``.npz``), ``npz:<file hash>:<split>:<index>`` -
its place in that data set - so data sets that contain pixel-identical
images keep their official counts (the importer reports such pairs).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from medtl_gui.core.project.atomic_files import atomic_copy_file, sha256_file
from medtl_gui.core.project.file_names import to_stored
from medtl_gui.core.project.history import record_history

if TYPE_CHECKING:
    from medtl_gui.core.imaging.scan import Scan

#: folder inside a project where copied and generated images live
IMAGES_DIR = "images"


@dataclass(frozen=True)
class PreparedImage:
    """An image that was read, validated and hashed, ready to be recorded."""

    path: str  # as it will be stored: absolute, or relative to the project when copied
    copied: bool
    sha256: str
    identity: str
    kind: str
    modality: str | None
    patient_id: str | None
    study_uid: str | None
    series_uid: str | None
    shape: tuple[int, ...]
    n_frames: int
    is_color: bool
    source: str  # where it came from (the original path)


def file_identity(sha256: str) -> str:
    """The identity of an image whose content hash is ``sha256``."""
    return f"sha256:{sha256}"


def hash_series(files: list[Path]) -> str:
    """Content hash of a DICOM series: SHA-256 of its files' sorted SHA-256s."""
    digests = sorted(sha256_file(f) for f in files)
    return hashlib.sha256("\n".join(digests).encode("ascii")).hexdigest()


def find_identity(conn: sqlite3.Connection, identity: str) -> int | None:
    """The id of the image with this identity, or None."""
    row = conn.execute("SELECT id FROM images WHERE identity = ?", (identity,)).fetchone()
    return int(row[0]) if row else None


def read_and_describe(
    path: Path, *, sha256: str, identity: str, series_uid: str | None = None, source: str | None = None
) -> PreparedImage:
    """Read a scan with ``read_scan`` (raises ``ScanReadError``) and describe it for the database."""
    from medtl_gui.core.imaging import read_scan

    scan = read_scan(path, series_uid=series_uid) if series_uid else read_scan(path)
    return describe_scan(scan, stored_path=str(Path(path).resolve()), sha256=sha256, identity=identity,
                         source=source or str(path))


def describe_scan(scan: "Scan", *, stored_path: str, sha256: str, identity: str, source: str) -> PreparedImage:
    """The database description of a scan that was read."""
    return PreparedImage(
        path=stored_path,
        copied=False,
        sha256=sha256,
        identity=identity,
        kind=scan.kind,
        modality=scan.modality,
        patient_id=scan.patient_id or None,
        study_uid=scan.study_uid or None,
        series_uid=scan.series_uid or None,
        shape=tuple(int(n) for n in scan.pixels.shape),
        n_frames=int(scan.n_frames),
        is_color=bool(scan.is_color),
        source=source,
    )


def safe_file_name(name: str) -> str:
    """A file name reduced to letters, digits, '.', '_' and '-' (for names under images/)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "image"
    return cleaned[:120]


def copy_into_project(prepared: PreparedImage, project_folder: Path, files: list[Path]) -> PreparedImage:
    """Copy a file (or a series' files) under ``images/`` and return the record pointing there.

    Names start with the content hash, so a re-import after a crash rewrites the
    same file instead of leaving a second copy.
    """
    relative = copy_target(prepared, files)
    if len(files) == 1 and prepared.kind != "dicom-series":
        atomic_copy_file(files[0], project_folder / relative)
    else:
        for index, file in enumerate(sorted(files)):
            atomic_copy_file(file, project_folder / relative / f"{index:05d}_{safe_file_name(file.name)}")
    return replace(prepared, path=relative, copied=True)


def copy_target(prepared: PreparedImage, files: list[Path]) -> str:
    """Where ``copy_into_project`` puts a file (or a series' folder), relative to the project."""
    prefix = prepared.sha256[:12]
    if len(files) == 1 and prepared.kind != "dicom-series":
        return f"{IMAGES_DIR}/{prefix}_{safe_file_name(files[0].name)}"
    return f"{IMAGES_DIR}/{prefix}_series"


def relative_to_project(path: Path, project_folder: Path) -> str | None:
    """``path`` relative to the project (posix), or None when it lies outside."""
    try:
        return Path(path).resolve().relative_to(project_folder.resolve()).as_posix()
    except ValueError:
        return None


def insert_image(
    conn: sqlite3.Connection,
    prepared: PreparedImage,
    *,
    now: str,
    user: str | None,
    batch_id: int | None = None,
    domain: str | None = None,
) -> int:
    """Insert the ``images`` row and its "import" history entry (caller's transaction).

    Paths are stored with ``file_names.to_stored``: a name that is not valid UTF-8 round-trips.
    """
    cursor = conn.execute(
        "INSERT INTO images (path, copied, sha256, identity, kind, modality, patient_id, study_uid,"
        " series_uid, shape, n_frames, is_color, added_at, source, import_batch, domain)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            to_stored(prepared.path), int(prepared.copied), prepared.sha256, prepared.identity, prepared.kind,
            prepared.modality, prepared.patient_id, prepared.study_uid, prepared.series_uid,
            json.dumps(list(prepared.shape)), prepared.n_frames, int(prepared.is_color), now,
            to_stored(prepared.source), batch_id, domain,
        ),
    )
    image_id = int(cursor.lastrowid)
    record_history(conn, action="import", image_id=image_id, old_value=None,
                   new_value={"source": prepared.source, "sha256": prepared.sha256},
                   origin="import", user=user, timestamp=now)
    return image_id


def series_folder(files: list[Path]) -> Path:
    """The folder that holds all files of a series (their common parent)."""
    return Path(os.path.commonpath([str(f.resolve().parent) for f in files]))
