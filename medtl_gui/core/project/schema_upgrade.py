"""Opening an older project without changing it, and migrating it on the first write.

Reading never migrates: ``medtl info``, ``check`` without ``--repair``,
evaluation and prediction into another folder, and browsing in the GUI leave
``project.sqlite`` at the version it was written with, so the older MedTL
that wrote it can still open it. Tables that later versions added are seen
as empty temporary stand-ins on each connection (``schema.shadow_statements``;
they live in the connection, never in the file).

The first write (any ``ProjectDatabase.write()``) first makes a consistent
copy ``project.sqlite.bak-v<N>`` next to the database (SQLite's backup API,
which includes what is still in the WAL; an existing copy of that version is
kept), then migrates in one transaction (re-checking the version under the
write lock, so two processes never migrate twice), and says so through the
``medtl_gui.core.project`` logger (printed on stderr by the CLI).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from medtl_gui.core.project.errors import ProjectError
from medtl_gui.core.project.schema import SCHEMA_VERSION, migrate, read_schema_version, shadow_statements, shadow_tables

log = logging.getLogger("medtl_gui.core.project")


def backup_path(database: Path, version: int) -> Path:
    """Where the copy made before migrating from ``version`` goes: ``project.sqlite.bak-v<version>``."""
    return database.with_name(f"{database.name}.bak-v{version}")


class SchemaUpgrade:
    """The ``upgrade`` of a ``ProjectDatabase`` whose file holds an older schema version."""

    def __init__(self, database: Path, version: int):
        self.database = Path(database)
        self.version = version  # as found when opened
        self.migrated = False
        self.message: str | None = None  # what the migration said (the GUI shows it)
        self._shadowed: set[int] = set()  # id() of connections that hold stand-in tables
        self._lock = threading.Lock()

    # -- connections -------------------------------------------------------------------
    def prepare(self, conn: sqlite3.Connection) -> None:
        """Give a new connection empty stand-ins for the tables its older file lacks."""
        if self.migrated:
            return
        for statement in shadow_statements(self.version):
            conn.execute(statement)
        with self._lock:
            self._shadowed.add(id(conn))

    def stale(self, conn: sqlite3.Connection) -> bool:
        """True when ``conn`` still holds stand-ins although the file was migrated meanwhile."""
        return self.migrated and id(conn) in self._shadowed

    def drop_shadows(self, conn: sqlite3.Connection) -> None:
        """Remove a connection's stand-in tables (the real ones exist now)."""
        with self._lock:
            if id(conn) not in self._shadowed:
                return
            self._shadowed.discard(id(conn))
        for table in shadow_tables(self.version):
            conn.execute(f"DROP TABLE IF EXISTS temp.{table}")

    # -- the first write ------------------------------------------------------------------
    def before_write(self, conn: sqlite3.Connection) -> None:
        """Back up and migrate if the file is still older than this MedTL (cheap when it is not)."""
        if self.migrated:
            self.drop_shadows(conn)
            return
        version = read_schema_version(conn)
        if version is None or version >= SCHEMA_VERSION:
            self.migrated = True  # another process migrated it
            self.drop_shadows(conn)
            return
        backup = backup_path(self.database, version)
        if not backup.exists():
            self._backup(conn, backup)
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = read_schema_version(conn)
            if version is not None and version < SCHEMA_VERSION:
                self.drop_shadows(conn)
                migrate(conn, version)
                self.message = (f"{self.database}: schema migrated from version {version} to {SCHEMA_VERSION} on "
                                f"the first edit (backup of the old file: {backup.name}; older MedTL versions "
                                f"can open that copy)")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.migrated = True
        self.drop_shadows(conn)
        if self.message:
            log.warning(self.message)

    def _backup(self, conn: sqlite3.Connection, backup: Path) -> None:
        partial = backup.with_name(backup.name + ".partial")
        try:
            target = sqlite3.connect(partial)
            try:
                conn.backup(target)
            finally:
                target.close()
            partial.replace(backup)
        except (OSError, sqlite3.Error) as exc:
            partial.unlink(missing_ok=True)
            raise ProjectError(backup, f"cannot make the backup copy before migrating the schema: {exc}") from exc
