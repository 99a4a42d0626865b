"""``Project``: one project folder - its images, labels, masks, splits and history.

Layout of a project folder::

    project.sqlite   SQLite (WAL) - images, classes, labels, proposals, masks, splits, history
    images/          files copied or generated into the project (e.g. from a .npz)
    masks/           mask PNGs (see masks.py), masks/proposals/ for model proposals
    runs/            training runs (written by the training engine)
    cache/           disposable (thumbnails ...); may be deleted at any time

Every edit is one transaction (or an atomic file write plus one
transaction), so a crash or ``kill -9`` leaves a project that opens and has
lost at most the edit in flight. See ``database.py`` for threads and
durability.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from medtl_gui.core.project.atomic_files import atomic_write_bytes, remove_stale_partials, sha256_file
from medtl_gui.core.project.disk_space import DiskFullError, is_disk_full, undo_project_creation
from medtl_gui.core.project.file_names import from_stored
from medtl_gui.core.project.database import DatabaseDamagedError, ProjectDatabase, storage_is_writable
from medtl_gui.core.project.errors import ProjectError
from medtl_gui.core.project.exports import ExportLog
from medtl_gui.core.project.history import current_user, record_history, utc_now
from medtl_gui.core.project.ingest import (
    IMAGES_DIR,
    copy_into_project,
    file_identity,
    find_identity,
    hash_series,
    insert_image,
    read_and_describe,
    relative_to_project,
)
from medtl_gui.core.project.labels import LabelStore
from medtl_gui.core.project.masks import MASKS_DIR, MaskStore, recover_pending_masks
from medtl_gui.core.project.records import SPLITS, ImageRecord
from medtl_gui.core.project.removal import ImageRemoval
from medtl_gui.core.project.schema import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    SchemaVersionError,
    create_schema,
    read_schema_version,
)
from medtl_gui.core.project.schema_upgrade import SchemaUpgrade
from medtl_gui.core.project.splits import SplitStore
from medtl_gui.core.project.store_base import DATABASE_NAME

if TYPE_CHECKING:
    from medtl_gui.core.imaging.scan import Scan
    from medtl_gui.core.project.integrity import IntegrityReport

#: marks an ``update_image`` argument that was left out
_UNCHANGED = object()

#: sub-folders every project has
PROJECT_SUBFOLDERS: tuple[str, ...] = (IMAGES_DIR, MASKS_DIR, "runs", "cache")

_IMAGE_COLUMNS = (
    "i.id, i.path, i.copied, i.sha256, i.kind, i.modality, i.patient_id, i.study_uid, i.series_uid,"
    " i.shape, i.n_frames, i.is_color, i.added_at, i.source, i.import_batch, i.domain, i.split,"
    " i.split_origin, c.name, l.status,"
    " EXISTS (SELECT 1 FROM masks m WHERE m.image_id = i.id AND m.kind = 'label'), i.note"
)
_IMAGE_FROM = (
    " FROM images i LEFT JOIN labels l ON l.image_id = i.id"
    " LEFT JOIN label_classes c ON c.id = l.class_id"
)


#: a small file in every project folder that the installers associate with MedTL (double-click opens it)
PROJECT_MARKER = "project.medtl"
PROJECT_MARKER_SUFFIX = ".medtl"
#: what creating a project writes (removed again when the creation fails)
_CREATION_NAMES = (PROJECT_MARKER, DATABASE_NAME, *(DATABASE_NAME + ext for ext in ("-wal", "-shm", "-journal")),
                   *PROJECT_SUBFOLDERS)


def write_project_marker(root: Path) -> None:
    """Write ``project.medtl`` into ``root`` if missing (best effort: a read-only folder still opens)."""
    marker = root / PROJECT_MARKER
    if marker.exists():
        return
    with contextlib.suppress(OSError):
        atomic_write_bytes(marker, ("MedTL project: open this file (or its folder) with MedTL.\n"  # never 0 bytes
                                    f"The project's data is in {DATABASE_NAME} and the folders beside it.\n"
                                    ).encode("utf-8"))


class Project(LabelStore, MaskStore, SplitStore, ExportLog, ImageRemoval):
    """An open project folder. Create with ``create``/``open``/``open_or_create``; close when done.

    Thread-safe: each thread gets its own SQLite connection (see ``database.py``).
    """

    # -- opening and closing ----------------------------------------------------------
    @classmethod
    def create(cls, folder: str | Path, name: str | None = None) -> "Project":
        """Make a new project in ``folder`` (created, or existing and empty)."""
        root = Path(folder).expanduser().resolve()
        if (root / DATABASE_NAME).exists():
            raise ProjectError(root, "is already a MedTL project")
        if root.exists() and not root.is_dir():
            raise ProjectError(root, "is a file, not a folder")
        if root.is_dir() and any(root.iterdir()):
            raise ProjectError(root, "folder is not empty and is not a MedTL project")
        created = not root.exists()
        root.mkdir(parents=True, exist_ok=True)
        try:
            return cls._initialise(root, name)
        except Exception as exc:  # e.g. a full disk: leave no half project (a 0-byte project.medtl)
            undo_project_creation(root, _CREATION_NAMES, remove_folder=created)
            if is_disk_full(exc, root):
                raise DiskFullError(root, "the disk is full: the project was not created "
                                          "(what creating it wrote was removed)") from exc
            raise

    @classmethod
    def _initialise(cls, root: Path, name: str | None) -> "Project":
        from medtl_gui import __version__

        for sub in PROJECT_SUBFOLDERS:
            (root / sub).mkdir(exist_ok=True)
        write_project_marker(root)
        db = ProjectDatabase(root / DATABASE_NAME)
        try:
            db.connection().execute(f"PRAGMA application_id = {APPLICATION_ID}")
            with db.write() as conn:
                create_schema(conn, name or root.name, utc_now(), f"medtl {__version__}")
        except BaseException:
            db.close()
            raise
        return cls(root, db)

    @classmethod
    def open(cls, folder: str | Path, *, read_only: bool | None = None) -> "Project":
        """Open an existing project (its folder, or the folder's ``project.medtl`` file).

        ``ProjectError`` if it is not one, needs a newer MedTL or its schema
        version is not a number. Opening never migrates an older schema: the
        first write does, after a backup copy (``schema_upgrade.py``).
        ``read_only``: True opens for viewing only (every edit raises
        ``ReadOnlyProjectError``); None (default) does so when the folder or
        ``project.sqlite`` is not writable (a read-only share, a write-protected
        USB stick); False insists on writing.
        """
        root = Path(folder).expanduser().resolve()
        if root.suffix == PROJECT_MARKER_SUFFIX and root.is_file():
            root = root.parent
        if not root.is_dir():
            raise ProjectError(root, "no such project folder")
        if not (root / DATABASE_NAME).is_file():
            raise ProjectError(root, f"not a MedTL project (no {DATABASE_NAME})")
        if read_only is None:
            read_only = not storage_is_writable(root)
        db = ProjectDatabase(root / DATABASE_NAME, read_only=read_only)
        try:
            try:
                version = read_schema_version(db.connection())
            except SchemaVersionError as exc:
                raise ProjectError(root / DATABASE_NAME, str(exc)) from exc
            if version is None:
                raise ProjectError(root, f"{DATABASE_NAME} has no MedTL schema (not a MedTL project)")
            if version > SCHEMA_VERSION:
                raise ProjectError(
                    root,
                    f"written by a newer MedTL (schema version {version}; this MedTL reads up to "
                    f"{SCHEMA_VERSION}); update MedTL to open it",
                )
            if version < SCHEMA_VERSION:  # migrated by the first write, never by reading
                db.upgrade = SchemaUpgrade(root / DATABASE_NAME, version)
                db.upgrade.prepare(db.connection())
            if not read_only:
                recover_pending_masks(db, root)
                for sub in PROJECT_SUBFOLDERS:
                    (root / sub).mkdir(exist_ok=True)
                write_project_marker(root)  # projects made before the marker existed get it on first open
                remove_stale_partials(root / IMAGES_DIR)  # copies of imports that crashed
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # the error text may quote damaged bytes
            db.close()
            raise DatabaseDamagedError(root / DATABASE_NAME, f"not a readable project database: {exc}") from exc
        except BaseException:
            db.close()
            raise
        return cls(root, db)

    @classmethod
    def open_or_create(cls, folder: str | Path, name: str | None = None) -> "Project":
        """Open the project in ``folder``, creating it when there is none yet."""
        root = Path(folder).expanduser().resolve()
        database = root / DATABASE_NAME
        if database.is_file() and _is_empty_database(database):
            return cls._initialise(root, name)  # creation was interrupted before its first commit
        if database.is_file():
            return cls.open(root)
        return cls.create(root, name)

    def close(self) -> None:
        """Close the database connections of every thread."""
        self._db.close()

    def __enter__(self) -> "Project":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Project({str(self.folder)!r})"

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several edits into one commit (all or nothing); edits inside join it."""
        with self._db.write():
            yield

    @property
    def read_only(self) -> bool:
        """True when the project was opened for viewing only (edits raise ``ReadOnlyProjectError``)."""
        return self._db.read_only

    @property
    def schema_version(self) -> int:
        """The schema version of the file now (older until the first write migrates it)."""
        upgrade = self._db.upgrade
        return upgrade.version if upgrade is not None and not upgrade.migrated else SCHEMA_VERSION

    @property
    def name(self) -> str:
        """The project's display name."""
        row = self._db.connection().execute("SELECT value FROM meta WHERE key = 'name'").fetchone()
        return row[0] if row else self.folder.name

    def meta(self, key: str) -> str | None:
        """A value from the project's key/value settings table, or None."""
        row = self._db.connection().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Store a project-wide setting (e.g. ``"demo"``); ``schema_version`` is reserved."""
        if key == "schema_version":
            raise ValueError("schema_version is managed by MedTL")
        with self._db.write() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE"
                         " SET value = excluded.value", (key, str(value)))

    # -- images ------------------------------------------------------------------------
    def add_image(
        self,
        path: str | Path,
        *,
        copy: bool = False,
        series_uid: str | None = None,
        domain: str | None = None,
        user: str | None = None,
    ) -> int:
        """Add one scan file (or DICOM series folder + ``series_uid``); return its id.

        The file is read (``ScanReadError`` if unreadable) and hashed; an image
        with the same content is not added twice (its id is returned). With
        ``copy`` the file is copied into ``images/``; a file already inside the
        project is stored by its relative path. For bulk imports with a report
        use ``importing.import_sources``.
        """
        source = Path(path).expanduser().resolve()
        files, stored_series = self._source_files(source, series_uid)
        sha = hash_series(files) if stored_series else sha256_file(files[0])
        existing = find_identity(self._db.connection(), file_identity(sha))
        if existing is not None:
            return existing
        target = source if stored_series else files[0]
        prepared = read_and_describe(target, sha256=sha, identity=file_identity(sha), series_uid=stored_series)
        inside = relative_to_project(target, self.folder)
        if inside is not None:
            prepared = replace(prepared, path=inside, copied=True)
        elif copy:
            prepared = copy_into_project(prepared, self.folder, files)
        with self._db.write() as conn:
            existing = find_identity(conn, prepared.identity)
            if existing is not None:
                return existing
            return insert_image(conn, prepared, now=utc_now(), user=user or current_user(), domain=domain)

    def _source_files(self, source: Path, series_uid: str | None) -> tuple[list[Path], str | None]:
        """The files of a source and, for a multi-file DICOM series, its series UID."""
        if source.is_file():
            return [source], None
        if not source.is_dir():
            raise ProjectError(source, "no such file or folder")
        from medtl_gui.core.imaging import find_series

        series = find_series(source, recursive=True)
        if series_uid is not None:
            series = [s for s in series if s.uid == series_uid]
        if len(series) != 1:
            raise ProjectError(source, f"expected one DICOM series in the folder, found {len(series)}"
                               + ("" if series_uid is None else f" with UID {series_uid}"))
        files = [Path(f) for f in series[0].files]
        if len(files) == 1:
            return files, None
        return files, series[0].uid

    def image(self, image_id: int) -> ImageRecord:
        """The record of one image; ``ProjectError`` if there is none."""
        row = self._db.connection().execute(
            f"SELECT {_IMAGE_COLUMNS}{_IMAGE_FROM} WHERE i.id = ?", (int(image_id),)
        ).fetchone()
        if row is None:
            raise ProjectError(self.folder, f"no image with id {image_id}")
        return _image_record(row)

    def images(
        self,
        split: str | None = None,
        label: str | None = None,
        unlabelled: bool | None = None,
        has_mask: bool | None = None,
        search: str | None = None,
        domain: str | None = None,
    ) -> list[ImageRecord]:
        """Images matching every given filter, by id.

        ``split``: "train"/"val"/"test", or "unassigned"; ``label``: a class
        name; ``unlabelled``: True for images without a class; ``has_mask``:
        with/without a final mask; ``search``: text in the path, patient ID,
        source, domain or note (case-insensitive).
        """
        where: list[str] = []
        params: list[Any] = []
        if split == "unassigned":
            where.append("i.split IS NULL")
        elif split is not None:
            if split not in SPLITS:
                raise ValueError(f"split must be one of {', '.join(SPLITS)} or 'unassigned', not {split!r}")
            where.append("i.split = ?")
            params.append(split)
        if label is not None:
            where.append("c.name = ?")
            params.append(label)
        if unlabelled is not None:
            where.append("c.name IS NULL" if unlabelled else "c.name IS NOT NULL")
        if has_mask is not None:
            where.append(("" if has_mask else "NOT ")
                         + "EXISTS (SELECT 1 FROM masks m WHERE m.image_id = i.id AND m.kind = 'label')")
        if domain is not None:
            where.append("i.domain = ?")
            params.append(domain)
        if search:
            where.append("(i.path LIKE ? ESCAPE '\\' OR IFNULL(i.patient_id, '') LIKE ? ESCAPE '\\'"
                         " OR IFNULL(i.source, '') LIKE ? ESCAPE '\\' OR IFNULL(i.domain, '') LIKE ? ESCAPE '\\'"
                         " OR IFNULL(i.note, '') LIKE ? ESCAPE '\\')")
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            params.extend([pattern] * 5)
        sql = f"SELECT {_IMAGE_COLUMNS}{_IMAGE_FROM}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db.connection().execute(sql + " ORDER BY i.id", params).fetchall()
        return [_image_record(row) for row in rows]

    def image_path(self, image_id: int) -> Path:
        """Absolute path of an image's file (or of its DICOM series folder)."""
        record = self.image(image_id)
        return self.folder / record.path if record.copied else Path(record.path)

    def update_image(
        self, image_id: int, *, patient_id: str | None | object = _UNCHANGED,
        domain: str | None | object = _UNCHANGED, user: str | None = None,
    ) -> None:
        """Correct an image's patient ID (e.g. for PNGs, which carry none) or domain tag.

        Arguments left out stay as they are; None clears. One transaction with
        an "image-info" history row.
        """
        changes = {k: v for k, v in (("patient_id", patient_id), ("domain", domain)) if v is not _UNCHANGED}
        if not changes:
            return
        with self._db.write() as conn:
            self._require_image(conn, image_id)
            old = dict(zip(changes, conn.execute(
                f"SELECT {', '.join(changes)} FROM images WHERE id = ?", (int(image_id),)).fetchone()))
            if old == changes:
                return
            conn.execute(f"UPDATE images SET {', '.join(f'{k} = ?' for k in changes)} WHERE id = ?",
                         (*changes.values(), int(image_id)))
            record_history(conn, action="image-info", image_id=int(image_id), old_value=old,
                           new_value=changes, origin="human", user=user)

    def read_image(self, image_id: int) -> "Scan":
        """Read an image's pixels and metadata (``ScanReadError`` if the file is gone or broken)."""
        from medtl_gui.core.imaging import read_scan

        record = self.image(image_id)
        path = self.folder / record.path if record.copied else Path(record.path)
        if record.kind == "dicom-series" and record.series_uid:
            return read_scan(path, series_uid=record.series_uid)
        return read_scan(path)

    # -- summaries ----------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """JSON-ready counts: images, per split and per class within each split, unlabelled, masks."""
        with self._db.read() as conn:
            class_names = [r[0] for r in conn.execute("SELECT name FROM label_classes ORDER BY idx")]
            rows = conn.execute(
                "SELECT IFNULL(i.split, 'unassigned'), c.name, COUNT(*) FROM images i"
                " LEFT JOIN labels l ON l.image_id = i.id LEFT JOIN label_classes c ON c.id = l.class_id"
                " GROUP BY 1, 2"
            ).fetchall()
            n_masks = conn.execute("SELECT COUNT(*) FROM masks WHERE kind = 'label'").fetchone()[0]
            n_masked = conn.execute(
                "SELECT COUNT(DISTINCT image_id) FROM masks WHERE kind = 'label'").fetchone()[0]
            n_proposals = conn.execute("SELECT COUNT(*) FROM proposals").fetchone()[0]
            kinds = dict(conn.execute("SELECT kind, COUNT(*) FROM images GROUP BY kind").fetchall())
            seg = [r[0] for r in conn.execute("SELECT name FROM seg_labels ORDER BY value")]
            name = self.name
        splits: dict[str, dict[str, Any]] = {
            s: {"images": 0, "unlabelled": 0, "classes": {c: 0 for c in class_names}}
            for s in (*SPLITS, "unassigned")
        }
        for split, class_name, count in rows:
            bucket = splits[split]
            bucket["images"] += count
            if class_name is None:
                bucket["unlabelled"] += count
            else:
                bucket["classes"][class_name] = count
        return {
            "name": name,
            "path": str(self.folder),
            "schema_version": self.schema_version,
            "read_only": self.read_only,
            "images": sum(s["images"] for s in splits.values()),
            "unlabelled": sum(s["unlabelled"] for s in splits.values()),
            "masks": n_masks,
            "images_with_masks": n_masked,
            "proposals": n_proposals,
            "kinds": kinds,
            "classes": class_names,
            "seg_labels": seg,
            "splits": splits,
        }

    def check_integrity(self, *, verify_image_hashes: bool = False) -> list[str]:
        """Errors found (empty when healthy); see ``integrity.check_integrity``."""
        from medtl_gui.core.project.integrity import check_integrity

        return check_integrity(self, verify_image_hashes=verify_image_hashes)

    def check(self, *, repair: bool = False, verify_image_hashes: bool = False) -> "IntegrityReport":
        """Full integrity report (errors and leftovers); with ``repair``, fix what is safe to fix first."""
        from medtl_gui.core.project.integrity import check_project

        return check_project(self, repair=repair, verify_image_hashes=verify_image_hashes)

    @property
    def database(self) -> ProjectDatabase:
        """The project's database handle (transactions for bulk writers such as the importer)."""
        return self._db


@lru_cache(maxsize=4096)
def _shape(text: str) -> tuple[int, ...]:
    """An image's shape from its JSON column (memoised: a project has few distinct shapes, and
    ``json.loads`` per row was most of the time of listing 100,000 images)."""
    return tuple(json.loads(text))


def _image_record(row: tuple) -> ImageRecord:
    return ImageRecord(
        id=row[0], path=from_stored(row[1]), copied=bool(row[2]), sha256=row[3], kind=row[4], modality=row[5],
        patient_id=row[6], study_uid=row[7], series_uid=row[8], shape=_shape(row[9]),
        n_frames=row[10], is_color=bool(row[11]), added_at=row[12], source=from_stored(row[13]), import_batch=row[14],
        domain=row[15], split=row[16], split_origin=row[17], label=row[18], label_status=row[19],
        has_mask=bool(row[20]), note=row[21],
    )


def _is_empty_database(path: Path) -> bool:
    """True for a database file with no tables at all (e.g. creation interrupted)."""
    if path.stat().st_size == 0:
        return True
    try:
        conn = sqlite3.connect(path)
        try:
            return conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False
