"""Train/val/test splits of a project's images (the ``SplitStore`` part of ``Project``).

Each image has at most one split and a ``split_origin``: "import" (given by
the imported data set, e.g. MedMNIST's official splits or a CSV column),
"human" (``set_split``) or "auto" (``assign_splits``). Explicit splits
("import", "human") are never changed by ``assign_splits``.
"""

from __future__ import annotations

from medtl_gui.core.project.history import record_history
from medtl_gui.core.project.records import SPLITS
from medtl_gui.core.project.split_planning import SplitCandidate, plan_splits
from medtl_gui.core.project.store_base import ProjectStoreBase


class SplitStore(ProjectStoreBase):
    """Split assignment and lookup."""

    def split_of(self, image_id: int) -> str | None:
        """The split of an image ("train", "val", "test") or None when unassigned."""
        conn = self._db.connection()
        self._require_image(conn, image_id)
        return conn.execute("SELECT split FROM images WHERE id = ?", (int(image_id),)).fetchone()[0]

    def set_split(self, image_id: int, split: str | None, *, user: str | None = None, origin: str = "human") -> None:
        """Put an image in a split by hand (None: unassign). Kept by ``assign_splits``."""
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)} or None, not {split!r}")
        self._check_origin(origin)
        with self._db.write() as conn:
            self._require_image(conn, image_id)
            old = conn.execute("SELECT split FROM images WHERE id = ?", (int(image_id),)).fetchone()[0]
            split_origin = None if split is None else ("import" if origin == "import" else "human")
            conn.execute("UPDATE images SET split = ?, split_origin = ? WHERE id = ?",
                         (split, split_origin, int(image_id)))
            if old != split:
                record_history(conn, action="split", image_id=int(image_id), old_value=old,
                               new_value=split, origin=origin, user=user)

    def assign_splits(
        self,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        seed: int = 0,
        keep_existing: bool = True,
        *,
        user: str | None = None,
    ) -> dict[int, str]:
        """Assign splits: stratified by class, patient-level, deterministic by ``seed``.

        ``keep_existing=True`` only fills unassigned images (new imports) and
        counts the existing assignments towards the target fractions;
        ``keep_existing=False`` redistributes every automatic assignment.
        Explicit splits (import, by hand) are always kept. Returns the images
        whose split changed, ``{image_id: split}``; one transaction.
        """
        with self._db.write() as conn:
            rows = conn.execute(
                "SELECT i.id, c.name, i.patient_id, i.split, i.split_origin FROM images i"
                " LEFT JOIN labels l ON l.image_id = i.id LEFT JOIN label_classes c ON c.id = l.class_id"
                " ORDER BY i.id"
            ).fetchall()
            candidates = [
                SplitCandidate(
                    image_id=row[0], class_name=row[1], patient_id=row[2], split=row[3],
                    locked=row[3] is not None and (keep_existing or row[4] in ("import", "human")),
                )
                for row in rows
            ]
            planned = plan_splits(candidates, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
            current = {c.image_id: c.split for c in candidates}
            changed = {image_id: split for image_id, split in planned.items() if current[image_id] != split}
            conn.executemany(
                "UPDATE images SET split = ?, split_origin = 'auto' WHERE id = ?",
                [(split, image_id) for image_id, split in planned.items()],
            )
            for image_id, split in changed.items():
                record_history(conn, action="split", image_id=image_id, old_value=current[image_id],
                               new_value=split, origin="human", user=user)
        return changed
