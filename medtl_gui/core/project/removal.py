"""Removing images from a project: their rows, masks and the copies the project made, never the originals.

One transaction deletes the images with their label, proposal, masks and
ranking rows and appends an ``image-removed`` history row per image (the
history is append-only, so the audit trail of what was labelled keeps
every row it had). Only after the commit are files deleted: the image's
mask files, and the image file itself when the project holds a copy of it
(``medtl import --copy``) that no remaining image uses (several images of
one ``.npz`` share a file). Files imported in place belong to the user and
are never touched. A crash between the commit and the deletions leaves
unreferenced files, which ``medtl check --repair`` moves aside as orphans.
Image ids are never reused (``AUTOINCREMENT``), so old run folders naming a
removed id cannot point at another image.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterable
from pathlib import Path

from medtl_gui.core.project.history import record_history

#: tables whose rows belong to one image (all deleted with it)
IMAGE_TABLES = ("labels", "proposals", "masks", "review_ranking")


def _delete_quietly(path: Path, root: Path) -> None:
    """Delete a file or folder inside ``root``; anything outside it is left alone (a file that cannot be
    deleted stays behind as an orphan for ``medtl check --repair``)."""
    resolved, root = path.resolve(), root.resolve()
    if resolved == root or not resolved.is_relative_to(root):
        return
    if resolved.is_dir():
        shutil.rmtree(resolved, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            resolved.unlink(missing_ok=True)


class ImageRemoval:
    """``Project.remove_images`` (a mixin of :class:`~medtl_gui.core.project.project.Project`)."""

    def remove_images(self, image_ids: Iterable[int], *, user: str | None = None) -> list[int]:
        """Remove these images from the project (see the module docstring); returns the removed ids.

        Raises ``ProjectError`` naming the first id that is not in the project; nothing is removed then.
        """
        ids = sorted({int(i) for i in image_ids})
        records = [self.image(i) for i in ids]  # ProjectError for an unknown id, before any change
        if not records:
            return []
        marks = ",".join("?" * len(ids))
        files: list[Path] = []
        with self._db.write() as conn:
            files += [self.folder / row[0] for row in conn.execute(
                f"SELECT path FROM masks WHERE image_id IN ({marks})", ids)]
            labels = {row[0]: (row[1], row[2]) for row in conn.execute(
                "SELECT l.image_id, c.name, l.status FROM labels l LEFT JOIN label_classes c ON c.id = l.class_id"
                f" WHERE l.image_id IN ({marks})", ids)}
            for table in IMAGE_TABLES:
                conn.execute(f"DELETE FROM {table} WHERE image_id IN ({marks})", ids)
            conn.execute(f"DELETE FROM images WHERE id IN ({marks})", ids)
            still_used = {row[0] for row in conn.execute("SELECT path FROM images WHERE copied = 1")}
            for record in records:
                label = labels.get(record.id)
                record_history(conn, action="image-removed", image_id=record.id,
                               old_value={"path": record.path, "copied": record.copied, "sha256": record.sha256,
                                          "label": None if label is None else {"class": label[0],
                                                                                "status": label[1]}},
                               new_value=None, origin="human", user=user)
                if record.copied and record.path not in still_used:
                    files.append(self.folder / record.path)
            root = self.folder
            self._db.after_commit(lambda: [_delete_quietly(path, root) for path in files])
        return ids
