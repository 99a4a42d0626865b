"""Crash-safe file writes and content hashes for files inside a project.

A file is never half-written under its final name: it is written to a temporary
file in the same folder, flushed and fsynced, then moved over the final name
with ``os.replace`` (atomic on POSIX and Windows), and the folder is fsynced so
the rename itself survives a power cut.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

#: suffix of temporary files that a crash may leave behind (safe to delete)
PARTIAL_SUFFIX = ".partial"

_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's content, read (read-only) in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_directory(folder: str | os.PathLike) -> None:
    """Make a rename/creation inside ``folder`` durable (no-op where unsupported)."""
    if os.name == "nt":  # Windows cannot open directories; NTFS journals renames
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_temp_file(folder: Path, data: bytes, prefix: str) -> Path:
    """Write ``data`` to a new fsynced temporary file in ``folder``; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{prefix}.", suffix=PARTIAL_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        _remove_quietly(Path(temp_name))
        raise
    return Path(temp_name)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (temp file, fsync, rename, fsync folder)."""
    target = Path(path)
    temp = write_temp_file(target.parent, data, target.name)
    try:
        os.replace(temp, target)
    except BaseException:
        _remove_quietly(temp)
        raise
    fsync_directory(target.parent)


def atomic_copy_file(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Copy ``source`` (opened read-only) to ``target`` atomically and durably."""
    target_path = Path(target)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(
        prefix=f".{target_path.name}.", suffix=PARTIAL_SUFFIX, dir=target_path.parent
    )
    temp = Path(temp_name)
    try:
        with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
            shutil.copyfileobj(src, dst, _CHUNK)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(temp, target_path)
    except BaseException:
        _remove_quietly(temp)
        raise
    fsync_directory(target_path.parent)


def remove_stale_partials(folder: Path, older_than_s: float = 600.0) -> int:
    """Delete temporary files a crash left under ``folder``; return how many.

    Only files older than ``older_than_s`` are removed, so a write in progress
    in another process is never disturbed.
    """
    import time

    if not folder.is_dir():
        return 0
    now = time.time()
    removed = 0
    for temp in folder.rglob(f"*{PARTIAL_SUFFIX}"):
        try:
            if now - temp.stat().st_mtime > older_than_s:
                temp.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
