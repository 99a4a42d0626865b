"""Label set, per-image labels, model proposals and notes (the ``LabelStore`` part of ``Project``).

A model's proposal is stored apart from the clinician's final label (as in
MONAI Label): ``set_proposal`` never touches the label; ``confirm_proposal``
copies the proposal into the label with origin ``"model-confirmed"``. Every
change writes a history row in the same transaction.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from medtl_gui.core.project.errors import ProjectError
from medtl_gui.core.project.history import record_history, utc_now
from medtl_gui.core.project.records import (
    LABEL_STATUSES,
    LabelClass,
    LabelRecord,
    ProposalRecord,
    SegLabel,
)
from medtl_gui.core.project.store_base import ProjectStoreBase

#: default colours for new classes and segmentation labels, in order
DEFAULT_COLORS: tuple[str, ...] = (
    "#2ca02c", "#d62728", "#1f77b4", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)

_COLOR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")


def normalise_color(color: str) -> str:
    """Check a ``#rrggbb`` colour and return it in lower case."""
    if not isinstance(color, str) or not _COLOR_PATTERN.match(color):
        raise ValueError(f"colour must look like '#rrggbb', not {color!r}")
    return color.lower()


def _label_value(class_name: str | None, status: str) -> dict[str, Any]:
    return {"class": class_name, "status": status}


class LabelStore(ProjectStoreBase):
    """Classes, segmentation label names, labels, proposals and notes."""

    # -- classes -------------------------------------------------------------------
    def classes(self) -> list[LabelClass]:
        """The classification classes, by index."""
        rows = self._db.connection().execute(
            "SELECT name, color, shortcut, idx FROM label_classes ORDER BY idx"
        )
        return [LabelClass(name=r[0], color=r[1], shortcut=r[2], index=r[3]) for r in rows]

    def add_class(
        self, name: str, color: str | None = None, shortcut: str | None = None, *, user: str | None = None
    ) -> LabelClass:
        """Add a class at the next index; colour and shortcut key default to the next free ones."""
        with self._db.write() as conn:
            if conn.execute("SELECT 1 FROM label_classes WHERE name = ?", (name,)).fetchone():
                raise ProjectError(self.folder, f"class {name!r} already exists")
            self._insert_class(conn, name, color, shortcut, user=user, origin="human")
        return next(c for c in self.classes() if c.name == name)

    def rename_class(self, old_name: str, new_name: str, *, user: str | None = None) -> None:
        """Rename a class; its index and every label that uses it are kept."""
        new_name = self._check_class_name(new_name)
        with self._db.write() as conn:
            class_id = self._class_id(conn, old_name)
            if conn.execute("SELECT 1 FROM label_classes WHERE name = ?", (new_name,)).fetchone():
                raise ProjectError(self.folder, f"class {new_name!r} already exists")
            conn.execute("UPDATE label_classes SET name = ? WHERE id = ?", (new_name, class_id))
            record_history(conn, action="class-rename", image_id=None, old_value=old_name,
                           new_value=new_name, origin="human", user=user)

    def _ensure_class(self, conn: sqlite3.Connection, name: str, *, user: str | None, origin: str) -> bool:
        """Create class ``name`` if missing (inside the caller's transaction); True when created."""
        if conn.execute("SELECT 1 FROM label_classes WHERE name = ?", (name,)).fetchone():
            return False
        self._insert_class(conn, name, None, None, user=user, origin=origin)
        return True

    def _insert_class(
        self, conn: sqlite3.Connection, name: str, color: str | None, shortcut: str | None,
        *, user: str | None, origin: str,
    ) -> None:
        name = self._check_class_name(name)
        index = conn.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM label_classes").fetchone()[0]
        color = normalise_color(color) if color else DEFAULT_COLORS[index % len(DEFAULT_COLORS)]
        used_keys = {r[0] for r in conn.execute("SELECT shortcut FROM label_classes") if r[0]}
        if shortcut is None:
            shortcut = next((str(k) for k in range(1, 10) if str(k) not in used_keys), None)
        elif shortcut in used_keys:
            raise ProjectError(self.folder, f"shortcut {shortcut!r} is already used by another class")
        conn.execute(
            "INSERT INTO label_classes (name, color, shortcut, idx) VALUES (?, ?, ?, ?)",
            (name, color, shortcut, index),
        )
        record_history(conn, action="class-add", image_id=None, old_value=None, new_value=name,
                       origin=origin, user=user)

    def _check_class_name(self, name: str) -> str:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a class name must be a non-empty string, not {name!r}")
        return name.strip()

    # -- segmentation label names --------------------------------------------------
    def seg_labels(self) -> list[SegLabel]:
        """Names of the values (1..255) used in segmentation masks, by value."""
        rows = self._db.connection().execute("SELECT name, color, value FROM seg_labels ORDER BY value")
        return [SegLabel(name=r[0], color=r[1], value=r[2]) for r in rows]

    def add_seg_label(self, name: str, color: str | None = None, value: int | None = None) -> SegLabel:
        """Name a mask value (the next free value from 1 when ``value`` is None)."""
        with self._db.write() as conn:
            created = self._insert_seg_label(conn, name, color, value)
        return created

    def _insert_seg_label(
        self, conn: sqlite3.Connection, name: str, color: str | None, value: int | None
    ) -> SegLabel:
        name = self._check_class_name(name)
        if conn.execute("SELECT 1 FROM seg_labels WHERE name = ?", (name,)).fetchone():
            raise ProjectError(self.folder, f"segmentation label {name!r} already exists")
        used = {r[0] for r in conn.execute("SELECT value FROM seg_labels")}
        if value is None:
            value = next((v for v in range(1, 256) if v not in used), None)
            if value is None:
                raise ProjectError(self.folder, "all 255 segmentation label values are used")
        if not 1 <= int(value) <= 255:
            raise ValueError(f"a segmentation label value must be 1..255, not {value}")
        if int(value) in used:
            raise ProjectError(self.folder, f"segmentation label value {value} is already used")
        color = normalise_color(color) if color else DEFAULT_COLORS[(int(value) - 1) % len(DEFAULT_COLORS)]
        conn.execute("INSERT INTO seg_labels (value, name, color) VALUES (?, ?, ?)", (int(value), name, color))
        record_history(conn, action="seg-label-add", image_id=None, old_value=None,
                       new_value={"name": name, "value": int(value)}, origin="human", user=None)
        return SegLabel(name=name, color=color, value=int(value))

    # -- labels --------------------------------------------------------------------
    def label(self, image_id: int) -> LabelRecord | None:
        """The final label of an image, or None when it has none."""
        return self._read_label(self._db.connection(), image_id)

    def _read_label(self, conn: sqlite3.Connection, image_id: int) -> LabelRecord | None:
        row = conn.execute(
            "SELECT l.image_id, c.name, l.status, l.origin, l.user, l.note, l.updated_at"
            " FROM labels l LEFT JOIN label_classes c ON c.id = l.class_id WHERE l.image_id = ?",
            (int(image_id),),
        ).fetchone()
        if row is None:
            return None
        return LabelRecord(image_id=row[0], class_name=row[1], status=row[2], origin=row[3],
                           user=row[4], note=row[5], updated_at=row[6])

    def set_label(
        self,
        image_id: int,
        class_name: str | None,
        *,
        origin: str = "human",
        user: str | None = None,
        note: str | None = None,
        status: str = "labelled",
    ) -> LabelRecord | None:
        """Set (or, with ``class_name=None`` and status "labelled", clear) an image's label.

        ``status`` "uncertain" or "skipped" may come with or without a class.
        Returns the new label (None when cleared). One transaction, one history row.
        """
        self._check_origin(origin)
        if status not in LABEL_STATUSES:
            raise ValueError(f"status must be one of {', '.join(LABEL_STATUSES)}, not {status!r}")
        with self._db.write() as conn:
            self._write_label(conn, image_id, class_name, origin=origin, user=user, note=note,
                              status=status, action="label")
            return self._read_label(conn, image_id)

    def _write_label(
        self, conn: sqlite3.Connection, image_id: int, class_name: str | None, *,
        origin: str, user: str | None, note: str | None, status: str, action: str,
        timestamp: str | None = None,
    ) -> None:
        """Upsert/delete the label row and append its history (caller's transaction)."""
        self._require_image(conn, image_id)
        old = self._read_label(conn, image_id)
        old_value = _label_value(old.class_name, old.status) if old else None
        now = timestamp or utc_now()
        if class_name is None and status == "labelled":
            if old is None:
                return
            conn.execute("DELETE FROM labels WHERE image_id = ?", (int(image_id),))
            new_value = None
        else:
            class_id = self._class_id(conn, class_name) if class_name is not None else None
            if old and (old.class_name, old.status, old.origin, old.note) == (class_name, status, origin, note):
                return
            conn.execute(
                "INSERT INTO labels (image_id, class_id, status, origin, user, note, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(image_id) DO UPDATE SET class_id = excluded.class_id,"
                " status = excluded.status, origin = excluded.origin, user = excluded.user,"
                " note = excluded.note, updated_at = excluded.updated_at",
                (int(image_id), class_id, status, origin, user, note, now),
            )
            new_value = _label_value(class_name, status)
        record_history(conn, action=action, image_id=int(image_id), old_value=old_value,
                       new_value=new_value, origin=origin, user=user, timestamp=now)

    # -- model proposals -----------------------------------------------------------
    def proposal(self, image_id: int) -> ProposalRecord | None:
        """The model's proposed class for an image, or None."""
        row = self._db.connection().execute(
            "SELECT p.image_id, c.name, p.probabilities, p.run_id, p.created_at"
            " FROM proposals p JOIN label_classes c ON c.id = p.class_id WHERE p.image_id = ?",
            (int(image_id),),
        ).fetchone()
        if row is None:
            return None
        return ProposalRecord(image_id=row[0], class_name=row[1], probabilities=json.loads(row[2]),
                              run_id=row[3], created_at=row[4])

    def set_proposal(
        self, image_id: int, class_name: str, probabilities: dict[str, float] | None = None,
        run_id: str | None = None,
    ) -> ProposalRecord:
        """Store a model's proposal (the final label is left alone)."""
        probs = {str(k): float(v) for k, v in (probabilities or {}).items()}
        with self._db.write() as conn:
            self._require_image(conn, image_id)
            class_id = self._class_id(conn, class_name)
            old = self.proposal(image_id)
            conn.execute(
                "INSERT INTO proposals (image_id, class_id, probabilities, run_id, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(image_id) DO UPDATE SET"
                " class_id = excluded.class_id, probabilities = excluded.probabilities,"
                " run_id = excluded.run_id, created_at = excluded.created_at",
                (int(image_id), class_id, json.dumps(probs), run_id, utc_now()),
            )
            record_history(conn, action="proposal", image_id=int(image_id),
                           old_value=old.class_name if old else None,
                           new_value={"class": class_name, "run_id": run_id}, origin="model", user=None)
        result = self.proposal(image_id)
        assert result is not None
        return result

    def confirm_proposal(self, image_id: int, user: str | None = None) -> LabelRecord:
        """Accept the model's proposal as the final label (origin "model-confirmed")."""
        with self._db.write() as conn:
            proposal = self.proposal(image_id)
            if proposal is None:
                raise ProjectError(self.folder, f"image {image_id} has no model proposal to confirm")
            self._write_label(conn, image_id, proposal.class_name, origin="model-confirmed", user=user,
                              note=None, status="labelled", action="confirm")
            result = self._read_label(conn, image_id)
        assert result is not None
        return result

    # -- notes -----------------------------------------------------------------------
    def note(self, image_id: int) -> str | None:
        """The free-text note of an image, or None."""
        conn = self._db.connection()
        self._require_image(conn, image_id)
        return conn.execute("SELECT note FROM images WHERE id = ?", (int(image_id),)).fetchone()[0]

    def set_note(self, image_id: int, text: str | None, *, user: str | None = None) -> None:
        """Set or (with None or "") clear an image's note."""
        text = text or None
        with self._db.write() as conn:
            self._require_image(conn, image_id)
            old = conn.execute("SELECT note FROM images WHERE id = ?", (int(image_id),)).fetchone()[0]
            if old == text:
                return
            conn.execute("UPDATE images SET note = ? WHERE id = ?", (text, int(image_id)))
            record_history(conn, action="note", image_id=int(image_id), old_value=old, new_value=text,
                           origin="human", user=user)
