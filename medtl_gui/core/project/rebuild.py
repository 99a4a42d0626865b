"""``medtl check P --rebuild-into NEW``: a new project from what is readable in a (damaged) one.

The damaged project is opened read-only (SQLite ``mode=ro``) and never
changed. Each table is read whole when it can be, else row by row (a row on
a damaged page is skipped and counted); values that break the schema's
rules (a split that is not train/val/test, a label of an unknown class) are
skipped by the new database's own constraints. Copied image files and mask
files are copied into the new folder; images referenced in place keep their
path. The new project's history starts with one ``rebuilt-from`` row and
then records every label and mask it received (origin ``"rebuild"``), so it
passes ``medtl check``; the old history cannot be trusted and stays in the
damaged project.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from medtl_gui.core.project.errors import ProjectError
from medtl_gui.core.project.history import record_history
from medtl_gui.core.project.store_base import DATABASE_NAME

REBUILD_ORIGIN = "rebuild"

_IMAGE_COLUMNS = ("id", "path", "copied", "sha256", "identity", "kind", "modality", "patient_id", "study_uid",
                  "series_uid", "shape", "n_frames", "is_color", "added_at", "source", "domain", "split",
                  "split_origin", "note")
_TABLES: dict[str, tuple[str, ...]] = {
    "label_classes": ("id", "name", "color", "shortcut", "idx"),
    "seg_labels": ("value", "name", "color"),
    "images": _IMAGE_COLUMNS,
    "labels": ("image_id", "class_id", "status", "origin", "user", "note", "updated_at"),
    "masks": ("image_id", "kind", "slice_index", "path", "sha256", "origin", "user", "run_id", "updated_at"),
}


@dataclass
class RebuildReport:
    """What the rebuild copied and what it had to leave behind."""

    source: str
    target: str
    copied: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    skipped: dict[str, int] = field(default_factory=dict)  # table -> rows unreadable or invalid
    files_missing: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One paragraph for the CLI."""
        parts = [f"{self.copied.get('images', 0)} images", f"{self.copied.get('labels', 0)} labels",
                 f"{self.copied.get('masks', 0)} masks", f"{self.copied.get('label_classes', 0)} classes"]
        text = f"rebuilt {self.target} from {self.source}: " + ", ".join(parts)
        lost = {k: v for k, v in self.skipped.items() if v}
        if lost:
            text += "; left behind (unreadable or invalid): " + ", ".join(f"{v} {k} rows" for k, v in lost.items())
        if self.files_missing:
            text += f"; {len(self.files_missing)} files missing"
        return text + f" (the damaged project was not changed)"


def rebuild_project(source: str | Path, target: str | Path) -> RebuildReport:
    """Copy what is readable from the project in ``source`` into a new project in ``target``."""
    from medtl_gui.core.project.project import Project

    source = Path(source).expanduser().resolve()
    target = Path(target).expanduser().resolve()
    database = source / DATABASE_NAME
    if not database.is_file():
        raise ProjectError(source, f"not a MedTL project (no {DATABASE_NAME})")
    if target == source or target.is_relative_to(source):
        raise ProjectError(target, "the rebuilt project must go to a new folder outside the damaged one")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ProjectError(target, "folder is not empty: give a new or empty folder for the rebuilt project")
    try:
        old = sqlite3.connect(f"file:{quote(str(database))}?mode=ro", uri=True)
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        raise ProjectError(database, f"cannot be read at all: {exc}") from exc
    report = RebuildReport(str(source), str(target))
    try:
        rows = {table: list(_readable_rows(old, table, columns, report)) for table, columns in _TABLES.items()}
        name = next(iter(_readable_rows(old, "meta", ("key", "value"), report, where="key = 'name'")), None)
    finally:
        old.close()
    with Project.create(target, name=f"{name[1] if name else source.name} (rebuilt)") as project:
        with project.database.write() as conn:
            record_history(conn, action="rebuilt-from", image_id=None, old_value=None,
                           new_value={"project": str(source)}, origin=REBUILD_ORIGIN, user=None)
            for table, columns in _TABLES.items():
                _insert(conn, table, columns, rows[table], report)
            _record_history(conn)
        _copy_files(source, target, project, report)
    return report


def _readable_rows(conn: sqlite3.Connection, table: str, columns: tuple[str, ...], report: RebuildReport,
                   where: str = "1") -> Iterator[tuple[Any, ...]]:
    """Rows of ``table``: all at once, or row by row past damaged pages."""
    select = f"SELECT {', '.join(columns)} FROM {table} WHERE {where}"
    try:
        yield from conn.execute(select + " ORDER BY rowid").fetchall()
        return
    except (sqlite3.DatabaseError, UnicodeDecodeError):
        pass
    try:
        high = conn.execute(f"SELECT MAX(rowid) FROM {table}").fetchone()[0] or 0
    except (sqlite3.DatabaseError, UnicodeDecodeError):
        high = 100_000  # the table's b-tree is unreadable at its root: probe a bounded range
    for rowid in range(1, int(high) + 1):
        try:
            row = conn.execute(select + " AND rowid = ?", (rowid,)).fetchone()
        except (sqlite3.DatabaseError, UnicodeDecodeError):
            report.skipped[table] = report.skipped.get(table, 0) + 1
            continue
        if row is not None:
            yield row


def _insert(conn: sqlite3.Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]],
            report: RebuildReport) -> None:
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    copied = 0
    for row in rows:
        conn.execute("SAVEPOINT row")
        try:
            conn.execute(sql, row)
            conn.execute("RELEASE row")
            copied += 1
        except (sqlite3.DatabaseError, OverflowError, ValueError):  # breaks a rule of the schema: left behind
            conn.execute("ROLLBACK TO row")
            conn.execute("RELEASE row")
            report.skipped[table] = report.skipped.get(table, 0) + 1
    report.copied[table] = copied


def _record_history(conn: sqlite3.Connection) -> None:
    """One history row per label and mask received, so history and data agree in the new project."""
    for image_id, class_name, status in conn.execute(
            "SELECT l.image_id, c.name, l.status FROM labels l LEFT JOIN label_classes c ON c.id = l.class_id"
            " ORDER BY l.image_id").fetchall():
        record_history(conn, action="label", image_id=image_id, old_value=None,
                       new_value={"class": class_name, "status": status}, origin=REBUILD_ORIGIN, user=None)
    actions = {"label": "mask", "proposal": "mask-proposal", "fov": "fov-mask"}
    for image_id, kind, slice_index, sha256 in conn.execute(
            "SELECT image_id, kind, slice_index, sha256 FROM masks ORDER BY image_id, kind, slice_index").fetchall():
        record_history(conn, action=actions[kind], image_id=image_id, old_value=None,
                       new_value={"sha256": sha256, "slice": None if slice_index == -1 else slice_index},
                       origin=REBUILD_ORIGIN, user=None)


def _copy_files(source: Path, target: Path, project: Any, report: RebuildReport) -> None:
    conn = project.database.connection()
    relative = [row[0] for row in conn.execute("SELECT path FROM images WHERE copied = 1")]
    relative += [row[0] for row in conn.execute("SELECT path FROM masks")]
    for stored in relative:
        origin = (source / stored).resolve()
        if not origin.is_relative_to(source):
            report.files_missing.append(stored)  # a damaged path pointing out of the project: not followed
            continue
        destination = target / stored
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            if origin.is_dir():
                shutil.copytree(origin, destination, dirs_exist_ok=True)
            else:
                shutil.copy2(origin, destination)
        except OSError:
            report.files_missing.append(stored)
