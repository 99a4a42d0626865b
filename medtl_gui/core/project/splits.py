"""Train/val/test splits of a project's images (the ``SplitStore`` part of ``Project``).

Each image has at most one split and a ``split_origin``: "import" (given by
the imported data set, e.g. MedMNIST's official splits or a CSV column),
"human" (``set_split`` / ``set_splits``, ``medtl split --ids ... --to``) or
"auto" (``assign_splits``: after every import, ``medtl split``, Edit ▸ Splits).
Explicit splits ("import", "human") are never changed by ``assign_splits``,
not even with ``keep_existing=False`` (``medtl split --reassign``): only a
person moves them, image by image (``set_splits``). Clearing a split (None)
hands the image back to the automatic assignment, which fills it next time.

The shares, grouping and seed last chosen (``save_split_settings``) are kept in
the project and used by the assignment that follows each import.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from medtl_gui.core.project.errors import ProjectError
from medtl_gui.core.project.history import current_user, record_history
from medtl_gui.core.project.records import SPLITS
from medtl_gui.core.project.split_planning import (
    DEFAULT_TEST_FRACTION,
    DEFAULT_VAL_FRACTION,
    SplitCandidate,
    SplitSettings,
    default_grouping,
    plan_splits,
)
from medtl_gui.core.project.split_summary import SplitSummary
from medtl_gui.core.project.store_base import ProjectStoreBase

#: meta key of the project's split settings (JSON of ``SplitSettings``)
SPLIT_SETTINGS_KEY = "split_settings"

_ROWS_SQL = (
    "SELECT i.id, c.name, i.patient_id, i.study_uid, i.split, i.split_origin,"
    " EXISTS (SELECT 1 FROM masks m WHERE m.image_id = i.id AND m.kind = 'label')"
    " FROM images i LEFT JOIN labels l ON l.image_id = i.id LEFT JOIN label_classes c ON c.id = l.class_id"
    " ORDER BY i.id"
)


class SplitStore(ProjectStoreBase):
    """Split assignment and lookup."""

    def split_of(self, image_id: int) -> str | None:
        """The split of an image ("train", "val", "test") or None when unassigned."""
        conn = self._db.connection()
        self._require_image(conn, image_id)
        return conn.execute("SELECT split FROM images WHERE id = ?", (int(image_id),)).fetchone()[0]

    def set_split(self, image_id: int, split: str | None, *, user: str | None = None, origin: str = "human") -> None:
        """Put an image in a split by hand (None: unassign). Kept by ``assign_splits``."""
        self.set_splits([image_id], split, user=user, origin=origin)

    def set_splits(self, image_ids: Iterable[int], split: str | None, *, user: str | None = None,
                   origin: str = "human") -> list[int]:
        """Put images in a split by hand (None: unassign), one transaction; returns the ids whose split changed.

        Raises ``ProjectError`` naming the first unknown id (nothing is changed then).
        """
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)} or None, not {split!r}")
        self._check_origin(origin)
        split_origin = None if split is None else ("import" if origin == "import" else "human")
        changed: list[int] = []
        with self._db.write() as conn:
            for image_id in image_ids:
                self._require_image(conn, image_id)
                old = conn.execute("SELECT split FROM images WHERE id = ?", (int(image_id),)).fetchone()[0]
                conn.execute("UPDATE images SET split = ?, split_origin = ? WHERE id = ?",
                             (split, split_origin, int(image_id)))
                if old != split:
                    record_history(conn, action="split", image_id=int(image_id), old_value=old,
                                   new_value=split, origin=origin, user=user)
                    changed.append(int(image_id))
        return changed

    # -- settings --------------------------------------------------------------------------
    def split_settings(self) -> SplitSettings:
        """The project's split settings (the defaults until someone chose others)."""
        row = self._db.connection().execute("SELECT value FROM meta WHERE key = ?", (SPLIT_SETTINGS_KEY,)).fetchone()
        if row is None:
            return SplitSettings()
        try:
            return SplitSettings.from_dict(json.loads(row[0]))
        except (ValueError, TypeError) as exc:
            raise ProjectError(self.folder, f"stored split settings are not valid ({exc})") from exc

    def save_split_settings(self, settings: SplitSettings) -> None:
        """Keep ``settings`` for the assignments that follow imports."""
        settings.validate()
        with self._db.write() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE"
                         " SET value = excluded.value", (SPLIT_SETTINGS_KEY, json.dumps(settings.as_dict())))

    # -- automatic assignment --------------------------------------------------------------
    def assign_splits(
        self,
        val_fraction: float = DEFAULT_VAL_FRACTION,
        test_fraction: float = DEFAULT_TEST_FRACTION,
        seed: int = 0,
        keep_existing: bool = True,
        *,
        by: str | None = None,
        user: str | None = None,
        origin: str = "human",
    ) -> dict[int, str]:
        """Assign splits: stratified by class, grouped (``by``, see ``split_planning``), deterministic by ``seed``.

        ``keep_existing=True`` only fills unassigned images (new imports) and
        counts the existing assignments towards the target fractions;
        ``keep_existing=False`` redistributes every automatic assignment.
        Explicit splits (import, by hand) are always kept. ``origin``: of the
        history rows ("import" when an import made them). Returns the images
        whose split changed, ``{image_id: split}``; one transaction.
        """
        settings = SplitSettings(val_fraction, test_fraction, by, seed).validate()
        self._check_origin(origin)
        with self._db.write() as conn:
            candidates, grouping, _ = self._candidates(conn, keep_existing, settings.by)
            planned = plan_splits(candidates, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
                                  by=grouping)
            current = {c.image_id: c.split for c in candidates}
            changed = {image_id: split for image_id, split in planned.items() if current[image_id] != split}
            conn.executemany(
                "UPDATE images SET split = ?, split_origin = 'auto' WHERE id = ?",
                [(split, image_id) for image_id, split in changed.items()],
            )
            user = user or current_user()  # once, not per history row
            for image_id, split in changed.items():
                record_history(conn, action="split", image_id=image_id, old_value=current[image_id],
                               new_value=split, origin=origin, user=user)
        return changed

    def apply_split_settings(self, settings: SplitSettings | None = None, *, keep_existing: bool = True,
                             user: str | None = None, origin: str = "human") -> SplitSummary:
        """``assign_splits`` with ``settings`` (default: the project's); the counts afterwards and what changed."""
        settings = (settings or self.split_settings()).validate()
        grouping = self.resolved_grouping(settings.by)
        changed = self.assign_splits(settings.val_fraction, settings.test_fraction, settings.seed, keep_existing,
                                     by=grouping, user=user, origin=origin)
        summary = self.split_summary()
        summary.grouping, summary.settings, summary.changed = grouping, settings.as_dict(), len(changed)
        return summary

    def preview_splits(self, settings: SplitSettings | None = None, *, keep_existing: bool = True) -> SplitSummary:
        """The counts ``apply_split_settings(settings, keep_existing=...)`` would leave; writes nothing."""
        settings = (settings or self.split_settings()).validate()
        with self._db.read() as conn:
            candidates, grouping, rows = self._candidates(conn, keep_existing, settings.by)
            classes = [r[0] for r in conn.execute("SELECT name FROM label_classes ORDER BY idx")]
        planned = plan_splits(candidates, val_fraction=settings.val_fraction, test_fraction=settings.test_fraction,
                              seed=settings.seed, by=grouping)
        counted = [(planned.get(row[0], row[4]), row[1], bool(row[6])) for row in rows]
        changed = sum(1 for row in rows if row[0] in planned and planned[row[0]] != row[4])
        return SplitSummary.from_rows(classes, counted, grouping=grouping, settings=settings.as_dict(),
                                      changed=changed)

    def split_summary(self) -> SplitSummary:
        """Images per split and class as they are now."""
        with self._db.read() as conn:
            rows = conn.execute(_ROWS_SQL).fetchall()
            classes = [r[0] for r in conn.execute("SELECT name FROM label_classes ORDER BY idx")]
        return SplitSummary.from_rows(classes, [(row[4], row[1], bool(row[6])) for row in rows])

    def resolved_grouping(self, by: str | None) -> str:
        """``by``, or for None the default grouping of this project's images (see ``default_grouping``)."""
        if by is not None:
            return by
        with self._db.read() as conn:
            _, grouping, _ = self._candidates(conn, True, None)
        return grouping

    def _candidates(self, conn: sqlite3.Connection, keep_existing: bool,
                    by: str | None) -> tuple[list[SplitCandidate], str, list[tuple]]:
        rows = conn.execute(_ROWS_SQL).fetchall()
        candidates = [
            SplitCandidate(
                image_id=row[0], class_name=row[1], patient_id=row[2], case_id=row[3], split=row[4],
                locked=row[4] is not None and (keep_existing or row[5] in ("import", "human")),
            )
            for row in rows
        ]
        grouping = by or default_grouping(candidates, has_masks=any(row[6] for row in rows))
        return candidates, grouping, rows
