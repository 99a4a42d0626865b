"""Health checks of a project and the repairs ``medtl check --repair`` makes.

:func:`check_project` returns an :class:`IntegrityReport`: every problem
found, with its severity and, when MedTL can fix it safely, a repair.

Severities:
- ``error``: the data and the database disagree, or something is missing
  (an image file, a mask file, a history row, a guard trigger).
- ``leftover``: harmless remains of an interrupted write (a temporary
  file, a copy made by an import that was killed before its commit, a mask
  file whose deletion was committed). Nothing is lost; ``--repair`` tidies up.

What is checked, the database first: SQLite ``quick_check`` and
``integrity_check``, ``foreign_key_check`` (orphaned rows), the schema
version, the append-only triggers of ``history`` and ``exports`` (present
and unchanged), the history hash chain (:mod:`.history_chain`); then every
image file (with ``verify_image_hashes``
also the content of files copied into the project), every mask file and its
SHA-256, the history against the current labels and masks
(:mod:`.integrity_history`), and files under ``images/`` and ``masks/``
that no row refers to.

A damaged database (``integrity_check`` fails) is never written to: the
other checks still run (each one guarded, so damage is reported in words,
never as a traceback) but ``--repair`` refuses every repair and offers
``medtl check P --rebuild-into NEW_FOLDER`` (``rebuild.py``), which copies
what is readable into a new project and leaves the damaged one untouched.
The one exception: when every line of ``integrity_check`` is about an index
(entries missing from, or extra in, an index), ``REINDEX`` rebuilds the
indexes from their tables, which are intact; the check then runs again.

Repairs never delete user data silently: files nobody refers to are moved
to ``cache/orphaned/<time>/``; a row removed because its file vanished, and
a re-hashed mask, get a history row with origin ``"repair"``. After
repairing, the checks run again and the report shows what is left.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medtl_gui.core.project.atomic_files import PARTIAL_SUFFIX, sha256_file
from medtl_gui.core.project.file_names import from_stored
from medtl_gui.core.project.history import record_history, utc_now
from medtl_gui.core.project.ingest import IMAGES_DIR, hash_series
from medtl_gui.core.project.masks import MASKS_DIR, PENDING_SUFFIX, decode_mask_png, recover_pending_masks
from medtl_gui.core.project.schema import (
    GUARD_TRIGGERS,
    SCHEMA_VERSION,
    SchemaVersionError,
    read_schema_version,
    trigger_statement,
)

if TYPE_CHECKING:
    from medtl_gui.core.project.project import Project

#: ``origin`` of history rows written by repairs
REPAIR_ORIGIN = "repair"
#: where repairs move files that no row refers to (inside the disposable cache)
ORPHANS_DIR = "cache/orphaned"
#: temporary files younger than this may belong to a write in progress: left alone
STALE_TEMP_S = 600.0
#: history action of each mask kind
MASK_ACTIONS = {"label": "mask", "proposal": "mask-proposal", "fov": "fov-mask"}


@dataclass
class IntegrityProblem:
    """One thing wrong with a project."""

    code: str  # e.g. "image-missing", "mask-hash-mismatch", "orphan-file"
    message: str
    severity: str = "error"  # "error" | "leftover"
    repair: str | None = None  # what --repair does about it; None when it needs a person
    repaired: bool = False
    fix: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"code": self.code, "message": self.message, "severity": self.severity,
                "repair": self.repair, "repaired": self.repaired}


@dataclass
class IntegrityReport:
    """The outcome of :func:`check_project`."""

    path: str
    problems: list[IntegrityProblem]
    repair_requested: bool = False
    #: why ``--repair`` changed nothing (a damaged database), else None
    repair_refused: str | None = None

    @property
    def database_damaged(self) -> bool:
        """True while SQLite's integrity check fails (beyond what REINDEX repairs)."""
        return any(p.code in DAMAGE_CODES and not p.repaired for p in self.problems)

    @property
    def errors(self) -> list[IntegrityProblem]:
        """Errors that are still there (not repaired)."""
        return [p for p in self.problems if p.severity == "error" and not p.repaired]

    @property
    def ok(self) -> bool:
        """True when no error is left (leftovers alone do not make a project unhealthy)."""
        return not self.errors

    def messages(self) -> list[str]:
        """The messages of the remaining errors."""
        return [p.message for p in self.errors]

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (what ``medtl check --json`` prints)."""
        return {
            "path": self.path,
            "ok": self.ok,
            "problems": self.messages(),
            "repaired": [p.message for p in self.problems if p.repaired],
            "leftovers": [p.message for p in self.problems if p.severity == "leftover" and not p.repaired],
            "database_damaged": self.database_damaged,
            "repair_refused": self.repair_refused,
            "details": [p.as_dict() for p in self.problems],
        }


def check_integrity(project: "Project", *, verify_image_hashes: bool = False) -> list[str]:
    """Messages of the errors found (empty when healthy); leftovers of interrupted writes are not errors."""
    return check_project(project, verify_image_hashes=verify_image_hashes).messages()


#: problem codes of a database that fails SQLite's integrity check
DAMAGE_CODES = ("database-corrupt", "database-index")
#: ``integrity_check`` lines that are about an index only (``REINDEX`` rebuilds those from the table)
_INDEX_LINE = re.compile(r"^(row \d+ missing from index \w+|wrong # of entries in index \w+"
                         r"|non-unique entry in UNIQUE index \w+)$")
REBUILD_HINT = "medtl check PROJECT --rebuild-into NEW_FOLDER copies what is readable into a new project"


def check_project(project: "Project", *, repair: bool = False, verify_image_hashes: bool = False) -> IntegrityReport:
    """Check the project; with ``repair``, fix what can be fixed safely and check again.

    A damaged database is never written to (see the module docstring); only
    index damage is repaired (``REINDEX``), before anything else.
    """
    problems = _find_problems(project, verify_image_hashes)
    report = IntegrityReport(str(project.folder), problems, repair_requested=repair)
    if not repair:
        return report
    reindex = [p for p in problems if p.code == "database-index"]
    if reindex and not any(p.code == "database-corrupt" for p in problems):
        _run_fixes(reindex)
        problems = _find_problems(project, verify_image_hashes)
        for problem in reindex:
            problem.repaired = not any(p.code in DAMAGE_CODES for p in problems)
        report.problems = problems = [p for p in reindex if p.repaired] + problems
    if report.database_damaged:
        report.repair_refused = ("the database is damaged: --repair writes nothing to it (no history rows, no "
                                 "file moves); " + REBUILD_HINT + ", leaving this one untouched")
        return report
    if not any(p.fix for p in problems if not p.repaired):
        return report
    _run_fixes([p for p in problems if not p.repaired])
    remaining = _find_problems(project, verify_image_hashes)
    still = {(p.code, p.message) for p in remaining}
    for problem in problems:
        if problem.repaired and (problem.code, problem.message) in still:
            problem.repaired = False
    report.problems = [p for p in problems if p.repaired] + remaining
    return report


def _run_fixes(problems: list[IntegrityProblem]) -> None:
    for problem in problems:
        if problem.fix is None:
            continue
        try:
            problem.fix()
            problem.repaired = True
        except Exception as exc:  # a repair that fails leaves the problem reported
            problem.repair = f"{problem.repair} - failed: {type(exc).__name__}: {exc}"


def _find_problems(project: "Project", verify_image_hashes: bool) -> list[IntegrityProblem]:
    from medtl_gui.core.project.integrity_history import chain_problems, history_problems
    from medtl_gui.core.project.integrity_runs import checkpoint_problems  # imports this module

    sections: list[tuple[str, Callable[[], list[IntegrityProblem]]]] = [
        ("the database", lambda: _database_problems(project)),
        ("the history chain", lambda: chain_problems(project)),
        ("the images", lambda: _image_problems(project, verify_image_hashes)),
        ("the masks", lambda: _mask_problems(project)),
        ("the history", lambda: history_problems(project)),
        ("files nobody refers to", lambda: _stray_file_problems(project)),
        ("the runs", lambda: checkpoint_problems(project.folder)),
    ]
    problems: list[IntegrityProblem] = []
    for what, section in sections:
        try:
            problems += section()
        except Exception as exc:  # a damaged database can make any query or decoding fail: report it in words
            text = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            if what == "the database" or isinstance(exc, (sqlite3.DatabaseError, UnicodeDecodeError)):
                problems.append(IntegrityProblem("database-corrupt", f"database damaged: reading {what} failed: {text}"))
            else:
                problems.append(IntegrityProblem("check-failed", f"could not check {what}: {text}"))
    return problems


# -- database --------------------------------------------------------------------------------
_ORPHAN_ROW_TABLES = ("labels", "proposals", "masks", "review_ranking")


def _sqlite_check(conn: sqlite3.Connection) -> list[str]:
    """The lines of ``quick_check`` (then ``integrity_check``, which also compares indexes); ["ok"] when healthy."""
    lines: list[str] = []
    for pragma in ("quick_check(50)", "integrity_check(50)"):
        try:
            lines = [str(row[0]) for row in conn.execute(f"PRAGMA {pragma}")]
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # damaged text in its report: damaged too
            return [f"the file cannot be read ({exc})"]
        if lines != ["ok"]:
            return lines
    return lines


def _database_problems(project: "Project") -> list[IntegrityProblem]:
    conn = project.database.connection()
    problems: list[IntegrityProblem] = []
    result = _sqlite_check(conn)
    if result != ["ok"]:
        if all(_INDEX_LINE.match(line) for line in result):
            problems.append(IntegrityProblem(
                "database-index", "database: indexes disagree with their tables: " + "; ".join(result[:5]),
                repair="rebuild the indexes from their tables (REINDEX)", fix=_reindex(project)))
        else:
            problems.extend(IntegrityProblem("database-corrupt", f"database damaged: {line}") for line in result)
            return problems  # the rest of this section would only read garbage
    for table, rowid, parent, _ in conn.execute("PRAGMA main.foreign_key_check").fetchall():
        message = f"database: row {rowid} of {table} points to a missing {parent} row"
        fix: Callable[[], None] | None = None
        repair = None
        if table in _ORPHAN_ROW_TABLES:
            fix, repair = _delete_orphan_row(project, table, rowid), f"delete the orphaned {table} row"
        elif table == "images" and parent == "import_batches":
            fix, repair = _clear_import_batch(project, rowid), "clear the image's import batch"
        problems.append(IntegrityProblem("orphan-row", message, repair=repair, fix=fix))
    try:
        version = read_schema_version(conn)
    except SchemaVersionError as exc:
        return problems + [IntegrityProblem("schema-version", f"database: {exc}")]
    if version is not None and version < SCHEMA_VERSION:
        problems.append(IntegrityProblem(
            "schema-version", f"database: schema version {version}, older than this MedTL's {SCHEMA_VERSION} "
                              "(migrated on the first edit, after a backup copy)", severity="leftover",
            repair="migrate it now (backup copy first)", fix=_migrate(project)))
    elif version != SCHEMA_VERSION:
        problems.append(IntegrityProblem("schema-version", f"database: schema version {version}, expected {SCHEMA_VERSION}"))
    problems += _trigger_problems(project, conn, version or 0)
    return problems


def _trigger_problems(project: "Project", conn: sqlite3.Connection, version: int) -> list[IntegrityProblem]:
    triggers = dict(conn.execute("SELECT name, sql FROM main.sqlite_master WHERE type = 'trigger'").fetchall())
    problems: list[IntegrityProblem] = []
    for name, (_, since) in GUARD_TRIGGERS.items():
        table = name.split("_no_")[0].removesuffix("_chain")
        if name not in triggers:
            if since > version and not (version < SCHEMA_VERSION and name.startswith("history_no")):
                continue  # an older project: the trigger comes with its migration
            what = "new rows are no longer chained" if name == "history_chain" else f"{table} is no longer append-only"
            problems.append(IntegrityProblem(
                "trigger-missing", f"database: trigger {name} is missing ({what})",
                repair=f"re-create trigger {name}", fix=_restore_trigger(project, name)))
        elif version == SCHEMA_VERSION and _normalise(triggers[name]) != _normalise(trigger_statement(name)):
            problems.append(IntegrityProblem(
                "trigger-changed", f"database: trigger {name} was changed outside MedTL",
                repair=f"re-create trigger {name} as MedTL defines it", fix=_restore_trigger(project, name)))
    return problems


def _normalise(sql: str | None) -> str:
    return " ".join((sql or "").split()).rstrip(";")


def _reindex(project: "Project") -> Callable[[], None]:
    def fix() -> None:
        with project.database.write() as conn:
            conn.execute("REINDEX")
    return fix


def _migrate(project: "Project") -> Callable[[], None]:
    return project.database.migrate  # backup copy first (schema_upgrade.py)


def _delete_orphan_row(project: "Project", table: str, rowid: int) -> Callable[[], None]:
    def fix() -> None:
        with project.database.write() as conn:
            row = conn.execute(f"SELECT image_id FROM {table} WHERE rowid = ?", (rowid,)).fetchone()
            conn.execute(f"DELETE FROM {table} WHERE rowid = ?", (rowid,))
            record_history(conn, action=f"repair-{table}", image_id=row[0] if row else None,
                           old_value={"table": table, "rowid": rowid}, new_value=None, origin=REPAIR_ORIGIN, user=None)
    return fix


def _clear_import_batch(project: "Project", rowid: int) -> Callable[[], None]:
    def fix() -> None:
        with project.database.write() as conn:
            conn.execute("UPDATE images SET import_batch = NULL WHERE rowid = ?", (rowid,))
    return fix


def _restore_trigger(project: "Project", name: str) -> Callable[[], None]:
    def fix() -> None:
        with project.database.write() as conn:
            conn.execute(f"DROP TRIGGER IF EXISTS main.{name}")
            conn.execute(trigger_statement(name))
    return fix


# -- images ----------------------------------------------------------------------------------
def _image_problems(project: "Project", verify_hashes: bool) -> list[IntegrityProblem]:
    folder = project.folder.resolve()
    problems: list[IntegrityProblem] = []
    rows = project.database.connection().execute(
        "SELECT id, path, copied, sha256, kind FROM images ORDER BY id").fetchall()
    for image_id, stored, copied, sha256, _kind in rows:
        path = folder / from_stored(stored) if copied else Path(from_stored(stored))
        if copied and not path.resolve().is_relative_to(folder):
            problems.append(IntegrityProblem(
                "image-path-escapes", f"image {image_id}: stored path {stored!r} points outside the project"))
            continue
        if not path.exists():
            problems.append(IntegrityProblem(
                "image-missing", f"image {image_id}: file is missing: {path}",
                repair=None))  # only a person knows where the scan went (relink or remove the image)
            continue
        if verify_hashes and copied:
            actual = _content_hash(path)
            if actual != sha256:
                problems.append(IntegrityProblem(
                    "image-changed",
                    f"image {image_id}: content changed (sha256 {actual[:12]}, recorded {sha256[:12]}): {path}"))
    return problems


def _content_hash(path: Path) -> str:
    if path.is_dir():
        return hash_series(sorted(p for p in path.iterdir() if p.is_file()))
    return sha256_file(path)


# -- masks -----------------------------------------------------------------------------------
def _mask_problems(project: "Project") -> list[IntegrityProblem]:
    problems: list[IntegrityProblem] = []
    conn = project.database.connection()
    rows = conn.execute(
        "SELECT m.image_id, m.kind, m.slice_index, m.path, m.sha256, i.shape, i.n_frames"
        " FROM masks m LEFT JOIN images i ON i.id = m.image_id ORDER BY m.image_id, m.kind, m.slice_index"
    ).fetchall()
    for image_id, kind, slice_index, stored, sha256, shape, n_frames in rows:
        path = project.folder / stored
        if not path.is_file():
            problems.append(IntegrityProblem(
                "mask-missing", f"image {image_id}: {kind} mask file is missing: {stored}",
                repair="remove the mask's row (recorded in history)",
                fix=_forget_mask(project, image_id, kind, slice_index, stored, sha256)))
            continue
        actual = sha256_file(path)
        if actual == sha256:
            continue
        message = f"image {image_id}: {kind} mask file does not match its recorded sha256: {stored}"
        if _is_valid_mask(path, shape, n_frames):
            problems.append(IntegrityProblem(
                "mask-hash-mismatch", message, repair="accept the file on disk and record its hash in history",
                fix=_rehash_mask(project, image_id, kind, slice_index, stored, sha256, actual)))
        else:
            problems.append(IntegrityProblem(
                "mask-corrupt", message + " (not a readable mask of the image's size)",
                repair=f"move the file to {ORPHANS_DIR}/ and remove the mask's row (recorded in history)",
                fix=_forget_mask(project, image_id, kind, slice_index, stored, sha256, quarantine=True)))
    return problems


def _is_valid_mask(path: Path, shape_json: str | None, n_frames: int | None) -> bool:
    import json

    try:
        mask = decode_mask_png(path)
        shape = json.loads(shape_json) if shape_json else None
    except Exception:  # unreadable PNG or broken shape: not a valid mask
        return False
    if shape is None:
        return False
    plane = tuple(shape[1:3]) if (n_frames or 1) > 1 else tuple(shape[:2])
    return mask.ndim == 2 and tuple(mask.shape) == plane


def _mask_value(sha256: str | None, slice_index: int) -> dict[str, Any] | None:
    return None if sha256 is None else {"sha256": sha256, "slice": None if slice_index == -1 else slice_index}


def _forget_mask(project: "Project", image_id: int, kind: str, slice_index: int, stored: str, sha256: str,
                 quarantine: bool = False) -> Callable[[], None]:
    def fix() -> None:
        with project.database.write() as conn:
            conn.execute("DELETE FROM masks WHERE image_id = ? AND kind = ? AND slice_index = ?",
                         (image_id, kind, slice_index))
            record_history(conn, action=MASK_ACTIONS[kind], image_id=image_id,
                           old_value=_mask_value(sha256, slice_index), new_value=None, origin=REPAIR_ORIGIN, user=None)
        if quarantine:
            move_to_orphans(project.folder, project.folder / stored)
    return fix


def _rehash_mask(project: "Project", image_id: int, kind: str, slice_index: int, stored: str, old: str,
                 new: str) -> Callable[[], None]:
    def fix() -> None:
        with project.database.write() as conn:
            conn.execute("UPDATE masks SET sha256 = ?, updated_at = ? WHERE image_id = ? AND kind = ?"
                         " AND slice_index = ?", (new, utc_now(), image_id, kind, slice_index))
            record_history(conn, action=MASK_ACTIONS[kind], image_id=image_id, old_value=_mask_value(old, slice_index),
                           new_value=_mask_value(new, slice_index), origin=REPAIR_ORIGIN, user=None)
    return fix


# -- files nobody refers to ------------------------------------------------------------------
def _stray_file_problems(project: "Project") -> list[IntegrityProblem]:
    folder = project.folder
    conn = project.database.connection()
    referenced_images = [from_stored(row[0]) for row in conn.execute("SELECT path FROM images WHERE copied = 1")]
    referenced_masks = {row[0] for row in conn.execute("SELECT path FROM masks")}
    problems: list[IntegrityProblem] = []
    now = time.time()
    image_roots = {Path(p).as_posix() for p in referenced_images}
    for path in sorted(_files_under(folder / IMAGES_DIR)):
        relative = path.relative_to(folder).as_posix()
        if relative in image_roots or any(relative.startswith(root + "/") for root in image_roots):
            continue
        problems.append(_stray_file(project, path, relative, now))
    pending = False
    for path in sorted(_files_under(folder / MASKS_DIR)):
        relative = path.relative_to(folder).as_posix()
        if relative in referenced_masks:
            continue
        if path.name.endswith(PENDING_SUFFIX):
            pending = True
            problems.append(IntegrityProblem(
                "mask-pending", f"unfinished mask write: {relative}", severity="leftover",
                repair="finish it if its edit was committed, else delete it"))
            continue
        problems.append(_stray_file(project, path, relative, now))
    if pending:
        for problem in problems:
            if problem.code == "mask-pending":
                problem.fix = _recover_pending(project)
    return problems


def _files_under(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [Path(dirpath) / name for dirpath, _, names in os.walk(root) for name in names]


def _stray_file(project: "Project", path: Path, relative: str, now: float) -> IntegrityProblem:
    if path.name.endswith(PARTIAL_SUFFIX):
        try:
            age = now - path.stat().st_mtime
        except OSError:
            age = STALE_TEMP_S + 1
        if age < STALE_TEMP_S:
            return IntegrityProblem("temp-file", f"temporary file of a write in progress (or just interrupted): "
                                                 f"{relative}", severity="leftover")
        return IntegrityProblem("temp-file", f"temporary file left by an interrupted write: {relative}",
                                severity="leftover", repair="delete it", fix=lambda: path.unlink(missing_ok=True))
    return IntegrityProblem(
        "orphan-file", f"file that no image or mask refers to (an interrupted import or deletion): {relative}",
        severity="leftover", repair=f"move it to {ORPHANS_DIR}/", fix=lambda: move_to_orphans(project.folder, path))


def _recover_pending(project: "Project") -> Callable[[], None]:
    def fix() -> None:
        recover_pending_masks(project.database, project.folder)
    return fix


def move_to_orphans(folder: Path, path: Path) -> Path:
    """Move a file inside the project to ``cache/orphaned/<time>/<its relative path>``; return the new path."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    target = folder / ORPHANS_DIR / stamp / path.relative_to(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    return target
