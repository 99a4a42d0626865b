"""SQLite access for one project: per-thread connections and write transactions.

Threading model: **one connection per thread** (``threading.local``). The GUI
thread can read while an import thread writes: the database runs in WAL mode,
so readers never wait for the writer and see the last committed state. Write
transactions start with ``BEGIN IMMEDIATE`` (they take the write lock up
front, so two writers queue instead of dead-locking on a lock upgrade) and
wait up to ``busy_timeout_s`` for another writer (another thread, or another
process such as the CLI) to finish.

Durability: ``synchronous=FULL``. In WAL mode ``NORMAL`` already survives a
crash or ``kill -9`` of the program, but a power cut or OS crash may then roll
back the last committed transactions. MedTL promises that a power cut loses at
most the edit in flight, so each commit is fsynced (about a millisecond; imports
amortise it by committing batches of files).

Read-only: ``read_only=True`` opens the file with SQLite's ``mode=ro`` (and,
when even that fails because the folder cannot hold the ``-shm`` file, with
``immutable=1``); every ``write()`` then raises :class:`ReadOnlyProjectError`.
Schema upgrades: an optional ``upgrade`` object (``schema_upgrade.py``)
prepares each new connection (empty stand-ins for tables an older project
lacks) and migrates the schema just before the first write.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from medtl_gui.core.project.disk_space import DiskFullError, is_disk_full
from medtl_gui.core.project.errors import ProjectError
from medtl_gui.core.project.history_chain import register_hash_function


class ReadOnlyProjectError(ProjectError):
    """An edit of a project opened read-only (read-only storage, or opened for viewing)."""


class DatabaseDamagedError(ProjectError):
    """``project.sqlite`` cannot be read as a database (damaged file)."""


class _ThreadState(threading.local):
    """Per-thread connection, transaction depth and after-commit actions."""

    def __init__(self) -> None:
        self.connection: sqlite3.Connection | None = None
        self.depth = 0
        self.after_commit: list[Callable[[], None]] = []
        self.after_rollback: list[Callable[[], None]] = []


class ProjectDatabase:
    """The ``project.sqlite`` of one project, shared safely by several threads."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 30.0, read_only: bool = False):
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self.read_only = read_only
        #: prepares connections and migrates before the first write (see ``schema_upgrade.py``)
        self.upgrade: Any = None
        self._state = _ThreadState()
        self._all_connections: list[sqlite3.Connection] = []
        self._registry_lock = threading.Lock()
        self._closed = False

    # -- connections ---------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        if self._closed:
            raise ProjectError(self.path.parent, "project is closed")
        conn = self._state.connection
        if conn is None:
            conn = self._connect()
            with self._registry_lock:
                if self._closed:  # closed while this thread was connecting: never leave it open
                    conn.close()
                    raise ProjectError(self.path.parent, "project is closed")
                self._all_connections.append(conn)
            self._state.connection = conn
            if self.upgrade is not None:
                self.upgrade.prepare(conn)
        elif self.upgrade is not None and self.upgrade.stale(conn):
            self.upgrade.drop_shadows(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            return self._connect_read_only()
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_s,
                isolation_level=None,  # autocommit; transactions are explicit
                check_same_thread=False,  # only so close() may close it from another thread
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            register_hash_function(conn)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            if conn is not None:
                conn.close()  # a half-opened connection would keep its lock
            if is_disk_full(exc, self.path.parent):
                raise DiskFullError(self.path.parent, f"the disk is full: the project cannot be opened ({exc})") from exc
            raise DatabaseDamagedError(self.path, f"cannot open the project database: {exc}") from exc
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        """``mode=ro``; ``immutable=1`` when the folder cannot hold the WAL index (read-only share)."""
        from urllib.parse import quote

        last: sqlite3.DatabaseError | None = None
        for options in ("mode=ro", "mode=ro&immutable=1"):
            try:
                conn = sqlite3.connect(f"file:{quote(str(self.path.resolve()))}?{options}", uri=True,
                                       timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False)
            except sqlite3.DatabaseError as exc:
                last = exc
                continue
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                register_hash_function(conn)
                return conn
            except sqlite3.DatabaseError as exc:
                conn.close()
                last = exc
        raise DatabaseDamagedError(self.path, f"cannot open the project database read-only: {last}")

    def close(self) -> None:
        """Close every thread's connection; later use raises ``ProjectError``."""
        with self._registry_lock:
            self._closed = True
            connections, self._all_connections = self._all_connections, []
        for conn in connections:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._state.connection = None

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    # -- transactions ----------------------------------------------------------
    def migrate(self) -> None:
        """Bring an older schema up to date now (backup copy first), as the first write would."""
        if self.read_only:
            raise ReadOnlyProjectError(self.path.parent, "is open read-only: its schema cannot be migrated")
        self._migrate_before_write(self.connection())

    def _migrate_before_write(self, conn: sqlite3.Connection) -> None:
        if self.upgrade is not None:
            self.upgrade.before_write(conn)  # an older schema: backup copy, then migrate (own transaction)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` .. ``COMMIT``).

        Re-entrant: a nested ``write()`` on the same thread joins the outer
        transaction, so several edits can be grouped into one commit. Actions
        registered with ``after_commit`` run once the outermost commit is done
        (and are dropped on rollback); ``after_rollback`` ones run on rollback.
        """
        if self.read_only:
            raise ReadOnlyProjectError(self.path.parent, "is open read-only (read-only storage, or opened for "
                                                         "viewing): editing is disabled")
        conn = self.connection()
        state = self._state
        if state.depth > 0:
            state.depth += 1
            try:
                yield conn
            finally:
                state.depth -= 1
            return
        self._migrate_before_write(conn)
        conn.execute("BEGIN IMMEDIATE")
        state.depth = 1
        try:
            yield conn
            state.depth = 0
            conn.execute("COMMIT")
        except BaseException as exc:
            state.depth = 0
            state.after_commit.clear()
            undo, state.after_rollback = state.after_rollback, []
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for action in undo:
                action()
            if not isinstance(exc, DiskFullError) and is_disk_full(exc, self.path.parent):
                raise DiskFullError(self.path.parent, "the disk is full: the change was not saved "
                                                      "(free space, then try again)") from exc
            raise
        state.after_rollback.clear()
        actions, state.after_commit = state.after_commit, []
        for action in actions:
            action()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent read snapshot across several queries (joins an open write)."""
        conn = self.connection()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN DEFERRED")
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` after the current write transaction commits.

        Must be called inside ``write()``; used to finish file renames that
        must only happen once the database records them.
        """
        if self._state.depth == 0:
            raise RuntimeError("after_commit() needs an open write transaction")
        self._state.after_commit.append(action)

    def after_rollback(self, action: Callable[[], None]) -> None:
        """Run ``action`` if the current write transaction is rolled back (e.g. delete a staged file)."""
        if self._state.depth == 0:
            raise RuntimeError("after_rollback() needs an open write transaction")
        self._state.after_rollback.append(action)

    @property
    def in_write(self) -> bool:
        """True while this thread is inside ``write()``."""
        return self._state.depth > 0


def storage_is_writable(root: Path) -> bool:
    """Can this process write the project folder and its database (``os.access``; False on a read-only mount)?"""
    import os

    return os.access(root, os.W_OK | os.X_OK) and os.access(root / "project.sqlite", os.W_OK)
