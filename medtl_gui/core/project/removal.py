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

On a full disk the transaction cannot be written (SQLite needs room in its
write-ahead log). Removing images is how a user frees space, so then the
order is turned round: the files the removal would delete anyway (the
images' masks and the copies no remaining image uses) are deleted first,
which frees the room the log needs, and the transaction is tried again. If
that still fails (e.g. the images were imported in place, so removing them
frees nothing in the project) the error says so; the images are then still
in the project, some without their files, and running the removal again
once there is space finishes it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from medtl_gui.core.project.disk_space import DiskFullError, delete_inside
from medtl_gui.core.project.file_names import from_stored
from medtl_gui.core.project.history import record_history
from medtl_gui.core.project.store_base import DATABASE_NAME

#: tables whose rows belong to one image (all deleted with it)
IMAGE_TABLES = ("labels", "proposals", "masks", "review_ranking")


def _delete_quietly(path: Path, root: Path) -> None:
    """Delete a file or folder inside ``root``; anything outside it is left alone (see ``delete_inside``)."""
    delete_inside(path, root.resolve())


def _size(path: Path) -> int:
    """Bytes in a file, or in the files of a folder (a copied DICOM series); 0 when missing."""
    try:
        if path.is_dir():
            return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return path.stat().st_size if path.exists() else 0
    except OSError:
        return 0


def _id_list(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:10])) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")


def free_space_for_removal(folder: str | os.PathLike[str], image_ids: Iterable[int]) -> int:
    """Delete the files that removing ``image_ids`` from the project in ``folder`` deletes anyway (their
    masks, and copies no other image uses), without opening the project; return the bytes freed.

    For a disk so full that the project cannot even be opened (SQLite's shared-memory index of the
    write-ahead log needs room): the database is read under an exclusive lock, which keeps that index in
    memory. ``medtl remove`` calls this when opening fails for a full disk, then removes the images.
    """
    root = Path(folder).expanduser().resolve()
    ids = sorted({int(i) for i in image_ids})
    conn = sqlite3.connect(root / DATABASE_NAME, timeout=5.0, isolation_level=None)
    try:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")  # before the first read: no -shm file is needed
        files = _files_removed_with(conn, root, ids)
    finally:
        conn.close()
    return _delete_all(files, root)


def _files_removed_with(conn: sqlite3.Connection, root: Path, ids: list[int]) -> list[Path]:
    """The files removing these images deletes: their masks, and their copies that no other image uses."""
    marks = ",".join("?" * len(ids))
    files = [root / row[0] for row in conn.execute(f"SELECT path FROM masks WHERE image_id IN ({marks})", ids)]
    others = {from_stored(row[0]) for row in conn.execute(
        f"SELECT path FROM images WHERE copied = 1 AND id NOT IN ({marks})", ids)}
    copies = [from_stored(row[0]) for row in conn.execute(
        f"SELECT path FROM images WHERE copied = 1 AND id IN ({marks})", ids)]
    return files + [root / path for path in copies if path not in others]


def _delete_all(files: list[Path], root: Path) -> int:
    freed = 0
    for path in files:
        freed += _size(path)
        _delete_quietly(path, root)
    return freed


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
        try:
            return self._remove_records(ids, records, user=user)
        except DiskFullError:
            freed = self._delete_files_of(ids)
            if not freed:
                raise DiskFullError(self.folder, "the disk is full and removing these images frees no space in"
                                                 " the project (their files are not in it): nothing was removed;"
                                                 " free space elsewhere, then try again") from None
            try:
                return self._remove_records(ids, records, user=user)
            except DiskFullError as exc:
                raise DiskFullError(self.folder, f"the disk is full: the files of image(s) {_id_list(ids)} were"
                                                 " deleted to free space, but the database could not record the"
                                                 " removal; free space, then remove them again") from exc

    def _delete_files_of(self, ids: list[int]) -> int:
        """Delete the files removing these images deletes (masks, copies no other image uses); bytes freed."""
        return _delete_all(_files_removed_with(self._db.connection(), self.folder, ids), self.folder)

    def _remove_records(self, ids: list[int], records: list, *, user: str | None) -> list[int]:
        """One transaction: the rows and the history; the files are deleted after the commit."""
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
            still_used = {from_stored(row[0]) for row in conn.execute("SELECT path FROM images WHERE copied = 1")}
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
