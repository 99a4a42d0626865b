"""A full disk, recognised and reported as one clear message, with what the operation wrote undone.

The same condition arrives in several shapes: ``OSError`` with ``ENOSPC``
(or ``EDQUOT``, a full quota) from a file write, ``sqlite3.OperationalError:
database or disk is full`` (``SQLITE_FULL``) from a transaction, and
``disk I/O error`` when SQLite cannot grow its WAL index on a full disk.
:func:`is_disk_full` recognises them all (also behind a ``ProjectError``
that wraps one); :class:`DiskFullError` is what the project store raises
instead: a ``ProjectError`` naming the project and saying what was not
written. Every write path (project creation, import, removal, labels,
masks) removes what it wrote in the failed operation before raising it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from medtl_gui.core.project.errors import ProjectError

_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_FULL_TEXT = "database or disk is full"


class DiskFullError(ProjectError):
    """The disk (or quota) holding a project is full; the operation's own writes were undone."""


def is_disk_full(exc: BaseException | None, folder: str | os.PathLike[str] | None = None) -> bool:
    """True when ``exc`` (or an exception it was raised from) means "no space left".

    ``folder``: where the write went; a SQLite ``disk I/O error`` counts as a
    full disk when that file system has no free space left.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DiskFullError):
            return True
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        if isinstance(exc, sqlite3.Error):
            code = getattr(exc, "sqlite_errorcode", None)
            if (code is not None and code & 0xFF == sqlite3.SQLITE_FULL) or _FULL_TEXT in str(exc):
                return True
            if folder is not None and "disk I/O error" in str(exc) and _no_space_left(folder):
                return True
        if isinstance(exc, ProjectError) and (_FULL_TEXT in exc.reason or (
                "disk I/O error" in exc.reason and _no_space_left(exc.path))):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _no_space_left(folder: str | os.PathLike[str]) -> bool:
    path = Path(folder)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free < 64 * 1024
    except OSError:
        return False


def delete_inside(path: Path, root: Path) -> Path | None:
    """Delete the file or folder ``path`` when it lies inside ``root`` (a resolved folder, never ``root``
    itself); the resolved path it deleted (None: outside ``root`` or unresolvable). Errors are ignored:
    what cannot be deleted stays behind as an orphan for ``medtl check --repair``."""
    try:
        resolved = path.resolve()
    except OSError:
        return None
    if resolved == root or not resolved.is_relative_to(root):
        return None
    if resolved.is_dir():
        shutil.rmtree(resolved, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            resolved.unlink(missing_ok=True)
    return resolved


def remove_written(paths: Iterable[Path], root: Path) -> None:
    """Delete files and folders this operation wrote under ``root`` (never anything outside it), then
    folders under ``root`` that they leave empty. Errors are ignored: deleting on a full disk frees
    space, and what cannot be deleted is left for ``medtl check --repair``."""
    root = root.resolve()
    parents: set[Path] = set()
    for path in paths:
        deleted = delete_inside(path, root)
        if deleted is not None:
            parents.add(deleted.parent)
    for parent in sorted(parents, key=lambda p: len(p.parts), reverse=True):
        while parent != root and parent.is_relative_to(root) and parent.parent != root:
            try:
                parent.rmdir()  # only when empty
            except OSError:
                break
            parent = parent.parent


def undo_project_creation(root: Path, names: Iterable[str], *, remove_folder: bool) -> None:
    """Remove what creating a project in ``root`` wrote (``names``: its files and sub-folders, and
    SQLite's ``-wal``/``-shm``/``-journal`` beside the database), and ``root`` itself when the
    creation made it, so a failed creation leaves no half project (e.g. a 0-byte ``project.medtl``)."""
    for name in names:
        target = root / name
        if target.is_dir() and not target.is_symlink():
            with contextlib.suppress(OSError):
                target.rmdir()  # only the empty folders creation made; anything put there stays
        else:
            with contextlib.suppress(OSError):
                target.unlink(missing_ok=True)
    if remove_folder:
        with contextlib.suppress(OSError):
            root.rmdir()
