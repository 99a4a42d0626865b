"""The SQLite schema of ``project.sqlite`` and its migrations.

``SCHEMA_VERSION`` is stored in the ``meta`` table. A project written by an
older MedTL is migrated on its first *write* (``schema_upgrade.py``: after a
backup copy ``project.sqlite.bak-v<N>``), never by merely opening or reading
it, so the older MedTL can still open a project that was only looked at.
Opening one written by a newer MedTL is refused (``ProjectError``), so an old
program never damages a newer project.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

#: the version this code writes; bump it and add a migration when the schema changes
SCHEMA_VERSION = 4

#: application id stored in the SQLite header ("MTL1"), so tools can tell the file apart
APPLICATION_ID = 0x4D544C31

SCHEMA_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE import_batches (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    user       TEXT NOT NULL,
    sources    TEXT NOT NULL              -- JSON list of the source paths
);

CREATE TABLE images (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    path         TEXT NOT NULL,           -- relative to the project when copied, else absolute
    copied       INTEGER NOT NULL DEFAULT 0 CHECK (copied IN (0, 1)),
    sha256       TEXT NOT NULL,           -- content hash (file, or sorted file hashes of a series)
    identity     TEXT NOT NULL UNIQUE,    -- what makes two imports "the same image"
    kind         TEXT NOT NULL,
    modality     TEXT,
    patient_id   TEXT,
    study_uid    TEXT,
    series_uid   TEXT,
    shape        TEXT NOT NULL,           -- JSON list
    n_frames     INTEGER NOT NULL DEFAULT 1,
    is_color     INTEGER NOT NULL DEFAULT 0,
    added_at     TEXT NOT NULL,
    source       TEXT,                    -- where it was imported from
    import_batch INTEGER REFERENCES import_batches(id),
    domain       TEXT,
    split        TEXT CHECK (split IN ('train', 'val', 'test')),
    split_origin TEXT CHECK (split_origin IN ('import', 'human', 'auto')),
    note         TEXT
);
CREATE INDEX images_sha256 ON images(sha256);
CREATE INDEX images_patient ON images(patient_id);
CREATE INDEX images_split ON images(split);

CREATE TABLE label_classes (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    name     TEXT NOT NULL UNIQUE,
    color    TEXT NOT NULL,
    shortcut TEXT,
    idx      INTEGER NOT NULL UNIQUE
);

CREATE TABLE seg_labels (
    value INTEGER PRIMARY KEY CHECK (value BETWEEN 1 AND 255),
    name  TEXT NOT NULL UNIQUE,
    color TEXT NOT NULL
);

CREATE TABLE labels (
    image_id   INTEGER PRIMARY KEY REFERENCES images(id),
    class_id   INTEGER REFERENCES label_classes(id),
    status     TEXT NOT NULL CHECK (status IN ('labelled', 'uncertain', 'skipped')),
    origin     TEXT NOT NULL,
    user       TEXT,
    note       TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX labels_class ON labels(class_id);

CREATE TABLE proposals (
    image_id      INTEGER PRIMARY KEY REFERENCES images(id),
    class_id      INTEGER NOT NULL REFERENCES label_classes(id),
    probabilities TEXT NOT NULL,          -- JSON {class name: probability}
    run_id        TEXT,
    created_at    TEXT NOT NULL
);

CREATE TABLE masks (
    image_id    INTEGER NOT NULL REFERENCES images(id),
    kind        TEXT NOT NULL CHECK (kind IN ('label', 'proposal', 'fov')),
    slice_index INTEGER NOT NULL DEFAULT -1,   -- -1: the whole 2D image
    path        TEXT NOT NULL UNIQUE,          -- relative to the project folder
    sha256      TEXT NOT NULL,
    origin      TEXT NOT NULL,
    user        TEXT,
    run_id      TEXT,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (image_id, kind, slice_index)
);

CREATE TABLE history (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TEXT NOT NULL,
    user      TEXT NOT NULL,
    image_id  INTEGER,                    -- NULL for project-wide changes (classes)
    action    TEXT NOT NULL,
    old_value TEXT,                       -- JSON
    new_value TEXT,                       -- JSON
    origin    TEXT NOT NULL
);
CREATE INDEX history_image ON history(image_id);

CREATE TRIGGER history_no_update BEFORE UPDATE ON history
BEGIN
    SELECT RAISE(ABORT, 'history is append-only: UPDATE refused');
END;
CREATE TRIGGER history_no_delete BEFORE DELETE ON history
BEGIN
    SELECT RAISE(ABORT, 'history is append-only: DELETE refused');
END;
"""

#: version 2: the append-only audit log of exports (who exported what, where, de-identified or not)
SCHEMA_V2_EXPORTS = """
CREATE TABLE exports (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp    TEXT NOT NULL,
    user         TEXT NOT NULL,
    what         TEXT NOT NULL,           -- kind of export: labels-csv, masks, report, dicom-seg, model ...
    destination  TEXT NOT NULL,           -- where it was written
    deidentified INTEGER NOT NULL CHECK (deidentified IN (0, 1)),
    n_items      INTEGER,                 -- images (or files) exported
    details      TEXT                     -- JSON: method, image ids, options
);

CREATE TRIGGER exports_no_update BEFORE UPDATE ON exports
BEGIN
    SELECT RAISE(ABORT, 'the export log is append-only: UPDATE refused');
END;
CREATE TRIGGER exports_no_delete BEFORE DELETE ON exports
BEGIN
    SELECT RAISE(ABORT, 'the export log is append-only: DELETE refused');
END;
"""


def _add_exports_log(conn: sqlite3.Connection) -> None:
    for statement in _split_statements(SCHEMA_V2_EXPORTS):
        conn.execute(statement)


#: version 3: the stored active-learning order of unlabelled images ("label next"; see core/review)
SCHEMA_V3_REVIEW_RANKING = """
CREATE TABLE IF NOT EXISTS review_ranking (
    image_id   INTEGER PRIMARY KEY REFERENCES images(id),
    rank       INTEGER NOT NULL,      -- 1 = label first
    score      REAL NOT NULL,         -- the method's score (higher = more useful to label)
    method     TEXT NOT NULL,         -- entropy, margin, kcenter, hybrid ...
    run_id     TEXT,                  -- the run whose model ranked the images
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS review_ranking_rank ON review_ranking(rank);
"""


def _add_review_ranking(conn: sqlite3.Connection) -> None:
    for statement in _split_statements(SCHEMA_V3_REVIEW_RANKING):
        conn.execute(statement)


#: version 4: the history hash chain (see ``history_chain.py``). Each new row gets its ``chain_hash``
#: from the ``history_chain`` trigger (the SQL function is registered on every MedTL connection); the
#: guard trigger lets exactly that one update through (NULL hash -> hash, every other column unchanged)
SCHEMA_V4_HISTORY_CHAIN = """
ALTER TABLE history ADD COLUMN chain_hash TEXT;

DROP TRIGGER IF EXISTS history_no_update;

CREATE TRIGGER history_no_update BEFORE UPDATE ON history
WHEN NOT (OLD.chain_hash IS NULL AND NEW.chain_hash IS NOT NULL AND NEW.id IS OLD.id
          AND NEW.timestamp IS OLD.timestamp AND NEW.user IS OLD.user AND NEW.image_id IS OLD.image_id
          AND NEW.action IS OLD.action AND NEW.old_value IS OLD.old_value AND NEW.new_value IS OLD.new_value
          AND NEW.origin IS OLD.origin)
BEGIN
    SELECT RAISE(ABORT, 'history is append-only: UPDATE refused');
END;

CREATE TRIGGER history_chain AFTER INSERT ON history
BEGIN
    UPDATE history SET chain_hash = medtl_history_hash(
        NEW.id, NEW.timestamp, NEW.user, NEW.image_id, NEW.action, NEW.old_value, NEW.new_value, NEW.origin,
        (SELECT h.chain_hash FROM history h WHERE h.id < NEW.id ORDER BY h.id DESC LIMIT 1))
    WHERE id = NEW.id;
END;
"""


def _add_history_chain(conn: sqlite3.Connection) -> None:
    """Add the chain column and triggers, then seal the rows written so far (in id order).

    The chain proves nothing about rows written before this migration: they
    are hashed as they are found here.
    """
    from medtl_gui.core.project.history_chain import seal_unchained_rows

    has_column = any(row[1] == "chain_hash" for row in conn.execute("PRAGMA main.table_info(history)"))
    for statement in _split_statements(SCHEMA_V4_HISTORY_CHAIN):
        if not (has_column and statement.startswith("ALTER TABLE")):
            conn.execute(statement.replace("CREATE TRIGGER history_chain", "CREATE TRIGGER IF NOT EXISTS history_chain"))
    seal_unchained_rows(conn)


#: migrations: ``MIGRATIONS[v]`` upgrades a database from version v to v + 1
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _add_exports_log, 2: _add_review_ranking, 3: _add_history_chain}

#: the tables each migration adds (an older project opened without migrating reads them as empty)
ADDED_TABLES: dict[int, str] = {1: SCHEMA_V2_EXPORTS, 2: SCHEMA_V3_REVIEW_RANKING}

#: append-only tables and the triggers that guard them (``medtl check`` restores missing ones):
#: name -> (the script that defines it, the schema version from which it has this definition)
GUARD_TRIGGERS: dict[str, tuple[str, int]] = {
    "history_no_update": (SCHEMA_V4_HISTORY_CHAIN, 4),
    "history_no_delete": (SCHEMA_V1, 1),
    "history_chain": (SCHEMA_V4_HISTORY_CHAIN, 4),
    "exports_no_update": (SCHEMA_V2_EXPORTS, 2),
    "exports_no_delete": (SCHEMA_V2_EXPORTS, 2),
}


class SchemaVersionError(ValueError):
    """The ``schema_version`` stored in ``meta`` is not a version number (damaged or foreign file)."""


def create_schema(conn: sqlite3.Connection, name: str, created_at: str, app_version: str) -> None:
    """Create every table of a new project inside the caller's transaction (version 1 plus migrations)."""
    for statement in _split_statements(SCHEMA_V1):
        conn.execute(statement)
    for version in range(1, SCHEMA_VERSION):
        MIGRATIONS[version](conn)
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        [
            ("schema_version", str(SCHEMA_VERSION)),
            ("name", name),
            ("created_at", created_at),
            ("created_by", app_version),
        ],
    )


def read_schema_version(conn: sqlite3.Connection) -> int | None:
    """The schema version stored in ``meta``, or None when the file has no MedTL schema.

    ``SchemaVersionError`` when the stored value is not a whole number >= 1.
    """
    has_meta = conn.execute(
        "SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if not has_meta:
        return None
    row = conn.execute("SELECT value FROM main.meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        return None
    text = str(row[0]).strip()
    if not re.fullmatch(r"[0-9]{1,6}", text) or int(text) < 1:
        raise SchemaVersionError(f"invalid schema version {row[0]!r} in its meta table (expected a whole number "
                                 f"from 1 to {SCHEMA_VERSION}): the file is damaged or was not written by MedTL")
    return int(text)


def shadow_statements(from_version: int) -> list[str]:
    """``CREATE TEMP TABLE`` statements for the tables added after ``from_version`` (empty stand-ins).

    An older project opened without migrating reads them as empty tables; the
    temporary tables live in the connection only and never touch the file.
    """
    statements: list[str] = []
    for version in range(from_version, SCHEMA_VERSION):
        for statement in _split_statements(ADDED_TABLES.get(version, "")):
            if statement.startswith("CREATE TABLE"):
                statement = statement.replace("CREATE TABLE IF NOT EXISTS", "CREATE TABLE", 1)
                statement = statement.replace("CREATE TABLE", "CREATE TEMP TABLE IF NOT EXISTS", 1)
                statements.append(re.sub(r"REFERENCES \w+\(\w+\)", "", statement))
    return statements


def shadow_tables(from_version: int) -> list[str]:
    """The names of the stand-in tables of :func:`shadow_statements`."""
    return [re.search(r"EXISTS (\w+)", s).group(1) for s in shadow_statements(from_version)]  # type: ignore[union-attr]


def migrate(conn: sqlite3.Connection, from_version: int) -> None:
    """Upgrade the schema from ``from_version`` to ``SCHEMA_VERSION`` in the caller's transaction."""
    version = from_version
    while version < SCHEMA_VERSION:
        MIGRATIONS[version](conn)
        version += 1
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))


def _split_statements(script: str) -> list[str]:
    """Split a schema script into statements (triggers contain ';' inside BEGIN..END)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--") and not buffer.strip():
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def trigger_statement(name: str) -> str:
    """The ``CREATE TRIGGER`` statement of one of :data:`GUARD_TRIGGERS` (to restore a dropped one)."""
    for statement in _split_statements(GUARD_TRIGGERS[name][0]):
        if statement.startswith(f"CREATE TRIGGER {name} "):
            return statement
    raise KeyError(name)
