"""The history hash chain: each history row's ``chain_hash`` covers its content and the previous row's hash.

The ``history_chain`` trigger (schema version 4, ``schema.py``) fills in the
hash of every new row through the SQL function ``medtl_history_hash``, which
every MedTL connection registers (``database.py``); so every append, from
any MedTL code path, is chained. ``medtl check`` recomputes the chain:

- a row whose content was rewritten (e.g. behind dropped-and-recreated
  append-only triggers) no longer matches its hash;
- a row deleted from the middle breaks the link of the row after it;
- rows deleted from the end leave ``sqlite_sequence`` ahead of the last id,
  and a row appended after such a deletion leaves a gap in the ids;
- a row without a hash was written while the chain trigger was missing.

What it does *not* prove: the hash has no secret, so someone who rewrites
history *and* recomputes every later hash is not caught (the chain detects
edits behind MedTL's back, not a determined forger; keep backups for that).
Rows written before the migration to version 4 were sealed as found at
migration time: the chain proves nothing about what happened to them before.

A break found by ``medtl check`` stays on record: ``--repair`` appends a
``history-chain-accepted`` row naming it (the row itself is chained), after
which the check passes while the history still shows that it was altered.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

#: the SQL function the ``history_chain`` trigger calls
HASH_FUNCTION = "medtl_history_hash"
#: history action of a row that records an accepted break of the chain
ACCEPT_ACTION = "history-chain-accepted"


def history_row_hash(row_id: Any, timestamp: Any, user: Any, image_id: Any, action: Any, old_value: Any,
                     new_value: Any, origin: Any, previous: Any) -> str:
    """SHA-256 (hex) of one row's stored values and the previous row's hash."""
    payload = json.dumps([row_id, timestamp, user, image_id, action, old_value, new_value, origin, previous],
                         ensure_ascii=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode("ascii")).hexdigest()


def register_hash_function(conn: sqlite3.Connection) -> None:
    """Make ``medtl_history_hash`` available on a connection (the chain trigger needs it)."""
    conn.create_function(HASH_FUNCTION, 9, history_row_hash, deterministic=True)


def seal_unchained_rows(conn: sqlite3.Connection) -> int:
    """Chain the rows that have no hash yet, in id order (the migration's sealing); return how many."""
    previous = None
    sealed = 0
    rows = conn.execute("SELECT id, timestamp, user, image_id, action, old_value, new_value, origin, chain_hash"
                        " FROM history ORDER BY id").fetchall()
    for row in rows:
        if row[8] is not None:
            previous = row[8]
            continue
        previous = history_row_hash(*row[:8], previous)
        conn.execute("UPDATE history SET chain_hash = ? WHERE id = ?", (previous, row[0]))
        sealed += 1
    return sealed


@dataclass(frozen=True)
class ChainBreak:
    """One place where the stored history does not match its chain."""

    key: str  # stable name of the break (what an accepting row refers to)
    message: str


def chain_breaks(conn: sqlite3.Connection) -> list[ChainBreak]:
    """Every break of the chain not yet accepted by a ``history-chain-accepted`` row."""
    accepted: set[str] = set()
    breaks: list[ChainBreak] = []
    previous: str | None = None
    previous_id: int | None = None
    rows = conn.execute("SELECT id, timestamp, user, image_id, action, old_value, new_value, origin, chain_hash"
                        " FROM history ORDER BY id")
    for row in rows:
        row_id, stored = row[0], row[8]
        if row[4] == ACCEPT_ACTION:
            accepted.add(_accepted_key(row[6]))
        if previous_id is not None and row_id != previous_id + 1:
            breaks.append(ChainBreak(f"gap:{previous_id}:{row_id}",
                                     f"history: rows {previous_id + 1}..{row_id - 1} are missing (deleted)"))
        if stored is None:
            breaks.append(ChainBreak(f"unhashed:{row_id}", f"history: row {row_id} has no chain hash (written "
                                                           "while the chain trigger was missing)"))
        elif history_row_hash(*row[:8], previous) != stored:
            breaks.append(ChainBreak(f"row:{row_id}:{stored}", f"history: row {row_id} ({row[4]}) was altered or "
                                                               "a row before it deleted (its chain hash no longer "
                                                               "matches)"))
        previous, previous_id = stored, row_id
    sequence = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'history'").fetchone()
    if sequence is not None and sequence[0] is not None and int(sequence[0]) > (previous_id or 0):
        # the same key as the gap the next appended row (id seq + 1) will show: accepting one accepts both
        breaks.append(ChainBreak(f"gap:{previous_id or 0}:{int(sequence[0]) + 1}",
                                 f"history: rows {(previous_id or 0) + 1}..{sequence[0]} were written and are "
                                 "gone (deleted)"))
    return [b for b in breaks if b.key not in accepted]


def _accepted_key(new_value: str | None) -> str:
    try:
        value = json.loads(new_value) if new_value else None
    except ValueError:
        return ""
    return str(value.get("break", "")) if isinstance(value, dict) else ""
