"""What every part of the project store shares: the folder, the database, lookups.

``Project`` (``project.py``) is assembled from the parts ``LabelStore``
(``labels.py``), ``MaskStore`` (``masks.py``) and ``SplitStore``
(``splits.py``), which all derive from ``ProjectStoreBase``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from medtl_gui.core.project.database import ProjectDatabase
from medtl_gui.core.project.errors import ProjectError
from medtl_gui.core.project.history import read_history
from medtl_gui.core.project.records import ORIGINS, HistoryEntry

#: the database file inside a project folder
DATABASE_NAME = "project.sqlite"


class ProjectStoreBase:
    """The folder and database of an open project, plus shared checks."""

    folder: Path
    _db: ProjectDatabase

    def __init__(self, folder: Path, db: ProjectDatabase):
        self.folder = folder
        self._db = db

    # -- shared lookups --------------------------------------------------------
    def _require_image(self, conn: sqlite3.Connection, image_id: int) -> sqlite3.Row | tuple:
        row = conn.execute(
            "SELECT id, shape, n_frames FROM images WHERE id = ?", (int(image_id),)
        ).fetchone()
        if row is None:
            raise ProjectError(self.folder, f"no image with id {image_id}")
        return row

    def _class_id(self, conn: sqlite3.Connection, class_name: str) -> int:
        row = conn.execute("SELECT id FROM label_classes WHERE name = ?", (class_name,)).fetchone()
        if row is None:
            known = [r[0] for r in conn.execute("SELECT name FROM label_classes ORDER BY idx")]
            raise ProjectError(
                self.folder, f"unknown class {class_name!r} (classes: {', '.join(known) or 'none'})"
            )
        return int(row[0])

    def _check_origin(self, origin: str) -> None:
        if origin not in ORIGINS:
            raise ValueError(f"origin must be one of {', '.join(ORIGINS)}, not {origin!r}")

    # -- history -----------------------------------------------------------------
    def history(self, image_id: int | None = None) -> list[HistoryEntry]:
        """The append-only annotation history, oldest first (all, or one image's)."""
        return read_history(self._db.connection(), image_id)
