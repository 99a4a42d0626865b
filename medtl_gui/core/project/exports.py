"""The export audit log (the ``ExportLog`` part of ``Project``): who exported what, when, where.

Every export of project data out of the project folder - label CSVs, masks,
reports, DICOM SEG objects, models - appends one row to the ``exports``
table, saying whether the data was de-identified. The table is append-only
(SQLite triggers refuse UPDATE and DELETE, like ``history``), so the log
cannot be edited after the fact from inside MedTL.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from medtl_gui.core.project.history import current_user, utc_now
from medtl_gui.core.project.records import ExportRecord
from medtl_gui.core.project.store_base import ProjectStoreBase


class ExportLog(ProjectStoreBase):
    """Record and list exports."""

    def record_export(
        self,
        what: str,
        destination: str | os.PathLike,
        *,
        deidentified: bool,
        n_items: int | None = None,
        user: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> ExportRecord:
        """Append one entry to the export log and return it.

        ``what`` names the kind of export ("labels-csv", "masks", "report",
        "dicom-seg", ...); ``destination`` is where it was written;
        ``deidentified`` whether identifying data was removed (False when the
        user opted out); ``details`` any JSON-serialisable extras (method,
        image ids, options).
        """
        if not what or not str(what).strip():
            raise ValueError("an export needs a non-empty 'what'")
        values = (
            utc_now(), user or current_user(), str(what), str(Path(destination)), int(bool(deidentified)),
            None if n_items is None else int(n_items), json.dumps(details or {}, sort_keys=True),
        )
        with self._db.write() as conn:
            export_id = conn.execute(
                "INSERT INTO exports (timestamp, user, what, destination, deidentified, n_items, details)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)", values,
            ).lastrowid
        return self.exports(export_id=int(export_id))[0]

    def exports(self, *, what: str | None = None, export_id: int | None = None) -> list[ExportRecord]:
        """The export log, oldest first (all entries, one kind, or one entry by id)."""
        sql = "SELECT id, timestamp, user, what, destination, deidentified, n_items, details FROM exports"
        where, params = [], []
        if what is not None:
            where.append("what = ?")
            params.append(what)
        if export_id is not None:
            where.append("id = ?")
            params.append(export_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db.connection().execute(sql + " ORDER BY id", params).fetchall()
        return [
            ExportRecord(id=r[0], timestamp=r[1], user=r[2], what=r[3], destination=r[4], deidentified=bool(r[5]),
                         n_items=r[6], details=json.loads(r[7]) if r[7] else {})
            for r in rows
        ]
