"""The project's stored "label next" order (table ``review_ranking``, schema version 3).

One ranking at a time: storing a new one replaces the previous. Images
that get a label keep their row (the browser simply hides labelled ones
in "label next" mode), so the order stays stable while a user works down
the list; re-ranking after the next training run refreshes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from medtl_gui.core.project.history import utc_now


@dataclass(frozen=True)
class StoredRank:
    """One image's place in the stored ranking (``rank`` 1 = label first)."""

    image_id: int
    rank: int
    score: float
    method: str
    run_id: str | None
    created_at: str


def store_ranking(project: Any, ranked: Sequence[tuple[int, float]], method: str, run_id: str | None) -> int:
    """Replace the project's ranking with ``ranked`` (image id, score) pairs in order; returns the row count.

    Raises ``ProjectError`` (via the database's foreign key) for an image id that is not in the project.
    """
    from medtl_gui.core.project.errors import ProjectError

    created = utc_now()
    rows = [(int(image_id), rank, float(score), method, run_id, created)
            for rank, (image_id, score) in enumerate(ranked, start=1)]
    known = {row[0] for row in project.database.connection().execute("SELECT id FROM images")}
    missing = sorted({r[0] for r in rows} - known)
    if missing:
        raise ProjectError(project.folder, f"cannot rank images that are not in the project: ids {missing[:10]}")
    with project.database.write() as conn:
        conn.execute("DELETE FROM review_ranking")
        conn.executemany("INSERT INTO review_ranking (image_id, rank, score, method, run_id, created_at)"
                         " VALUES (?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def stored_ranking(project: Any, unlabelled_only: bool = False) -> list[StoredRank]:
    """The stored ranking in order (``unlabelled_only``: without images that have a class label since)."""
    sql = "SELECT r.image_id, r.rank, r.score, r.method, r.run_id, r.created_at FROM review_ranking r"
    if unlabelled_only:
        sql += (" WHERE NOT EXISTS (SELECT 1 FROM labels l WHERE l.image_id = r.image_id"
                " AND l.class_id IS NOT NULL)")
    rows = project.database.connection().execute(sql + " ORDER BY r.rank").fetchall()
    return [StoredRank(int(r[0]), int(r[1]), float(r[2]), str(r[3]), r[4], str(r[5])) for r in rows]


def ranking_positions(project: Any) -> dict[int, int]:
    """Image id -> rank of the stored ranking (empty when the project has none)."""
    rows = project.database.connection().execute("SELECT image_id, rank FROM review_ranking").fetchall()
    return {int(image_id): int(rank) for image_id, rank in rows}


def clear_ranking(project: Any) -> None:
    """Forget the stored ranking."""
    with project.database.write() as conn:
        conn.execute("DELETE FROM review_ranking")
