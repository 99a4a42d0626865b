"""The append-only annotation history: who changed what, when, from what to what.

Every change to an image's label, proposal, mask, split or note writes one
``history`` row in the *same* transaction as the change itself, so the history
and the data can never disagree. SQLite triggers refuse UPDATE and DELETE on
the table (see ``schema.py``).
"""

from __future__ import annotations

import getpass
import json
import sqlite3
from datetime import datetime, timezone
from typing import Any

from medtl_gui.core.project.records import HistoryEntry


def utc_now() -> str:
    """The current UTC time as ISO 8601 with milliseconds, e.g. ``2024-05-01T10:00:00.123+00:00``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def current_user() -> str:
    """The operating-system user name (``getpass.getuser()``), or ``"unknown"``."""
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # no user name in the environment (e.g. some services)
        return "unknown"


def record_history(
    conn: sqlite3.Connection,
    *,
    action: str,
    image_id: int | None,
    old_value: Any,
    new_value: Any,
    origin: str,
    user: str | None,
    timestamp: str | None = None,
) -> None:
    """Append one history row; call inside the transaction that makes the change."""
    conn.execute(
        "INSERT INTO history (timestamp, user, image_id, action, old_value, new_value, origin)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            timestamp or utc_now(),
            user or current_user(),
            image_id,
            action,
            json.dumps(old_value),
            json.dumps(new_value),
            origin,
        ),
    )


def read_history(conn: sqlite3.Connection, image_id: int | None = None) -> list[HistoryEntry]:
    """History rows in the order they were written, all or for one image."""
    sql = "SELECT id, timestamp, user, image_id, action, old_value, new_value, origin FROM history"
    params: tuple[Any, ...] = ()
    if image_id is not None:
        sql += " WHERE image_id = ?"
        params = (image_id,)
    rows = conn.execute(sql + " ORDER BY id", params).fetchall()
    return [
        HistoryEntry(
            id=row[0],
            timestamp=row[1],
            user=row[2],
            image_id=row[3],
            action=row[4],
            old_value=_decode(row[5]),
            new_value=_decode(row[6]),
            origin=row[7],
        )
        for row in rows
    ]


def _decode(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
