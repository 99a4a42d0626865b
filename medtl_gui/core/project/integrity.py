"""Health checks of a project: database, referenced files, mask hashes, history guards.

``check_integrity`` returns human-readable problems (an empty list means
healthy); ``medtl check`` prints them and exits 1 when there are any.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from medtl_gui.core.project.atomic_files import sha256_file
from medtl_gui.core.project.ingest import hash_series
from medtl_gui.core.project.masks import PENDING_SUFFIX
from medtl_gui.core.project.schema import SCHEMA_VERSION, read_schema_version

if TYPE_CHECKING:
    from medtl_gui.core.project.project import Project

_REQUIRED_TRIGGERS = ("history_no_update", "history_no_delete")


def check_integrity(project: "Project", *, verify_image_hashes: bool = False) -> list[str]:
    """Check the project and return the problems found.

    Checks: SQLite ``integrity_check`` and ``foreign_key_check``; the schema
    version; the append-only triggers on ``history``; every image file (or
    series folder) exists (with ``verify_image_hashes``, files copied into the
    project also still have their recorded SHA-256); every mask file exists and
    has its recorded SHA-256; no unfinished mask writes are left.
    """
    problems: list[str] = []
    conn = project.database.connection()
    folder = project.folder

    result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if result != ["ok"]:
        problems.extend(f"database: {line}" for line in result)
    for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check"):
        problems.append(f"database: row {rowid} of {table} points to a missing {parent} row")
    version = read_schema_version(conn)
    if version != SCHEMA_VERSION:
        problems.append(f"database: schema version {version}, expected {SCHEMA_VERSION}")
    triggers = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    for name in _REQUIRED_TRIGGERS:
        if name not in triggers:
            problems.append(f"database: trigger {name} is missing (history is no longer append-only)")

    with project.database.read() as snapshot:
        images = snapshot.execute("SELECT id, path, copied, sha256, kind FROM images ORDER BY id").fetchall()
        masks = snapshot.execute(
            "SELECT image_id, kind, path, sha256 FROM masks ORDER BY image_id, kind, slice_index"
        ).fetchall()
        orphan_labels = snapshot.execute(
            "SELECT COUNT(*) FROM labels l LEFT JOIN images i ON i.id = l.image_id WHERE i.id IS NULL"
        ).fetchone()[0]
    if orphan_labels:
        problems.append(f"database: {orphan_labels} labels belong to no image")

    for image_id, stored, copied, sha256, kind in images:
        path = folder / stored if copied else Path(stored)
        if not path.exists():
            problems.append(f"image {image_id}: file is missing: {path}")
            continue
        if verify_image_hashes and copied:
            actual = _content_hash(path, kind)
            if actual != sha256:
                problems.append(f"image {image_id}: content changed (sha256 {actual[:12]}, recorded {sha256[:12]}): {path}")

    for image_id, kind, stored, sha256 in masks:
        path = folder / stored
        if not path.is_file():
            problems.append(f"image {image_id}: {kind} mask file is missing: {stored}")
        elif sha256_file(path) != sha256:
            problems.append(f"image {image_id}: {kind} mask file does not match its recorded sha256: {stored}")

    masks_dir = folder / "masks"
    if masks_dir.is_dir():
        for pending in masks_dir.rglob(f"*{PENDING_SUFFIX}"):
            problems.append(f"unfinished mask write (recovered on next open): {pending.relative_to(folder)}")
    return problems


def _content_hash(path: Path, kind: str) -> str:
    if path.is_dir():
        return hash_series(sorted(p for p in path.iterdir() if p.is_file()))
    return sha256_file(path)
