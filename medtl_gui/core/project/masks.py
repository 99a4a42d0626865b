"""Segmentation masks: PNG files under ``masks/`` recorded in the database (the ``MaskStore`` part).

Files: ``masks/<id>.png`` (2D image), ``masks/<id>_z<slice>.png`` (one slice of
a volume), ``masks/proposals/...`` (a model's proposal, same names) and
``masks/<id>_fov.png`` (field of view, 1 inside). Pixels are uint8 label values
(0 background, 1..255 the project's segmentation labels).

Crash safety: a mask edit must change the file and its database row (sha256,
updated_at, history) together. The new PNG is first written, fsynced, under a
*pending* name ``<final>.<sha16>.pending``; then one transaction records the
new hash and history; after the commit the pending file is renamed over the
final name. A crash before the commit leaves an orphan pending file (deleted
on the next open: the edit is lost, the old mask intact); a crash after it is
rolled forward on the next open (the pending content is what the database
says). Either way the files and the database agree and at most the edit in
flight is lost. Readers that race a rename read the pending file.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
from pathlib import Path

import numpy as np

from medtl_gui.core.project.atomic_files import (
    PARTIAL_SUFFIX,
    atomic_write_bytes,
    fsync_directory,
    sha256_bytes,
    sha256_file,
)
from medtl_gui.core.project.database import ProjectDatabase
from medtl_gui.core.project.disk_space import DiskFullError, is_disk_full
from medtl_gui.core.project.errors import ProjectError
from medtl_gui.core.project.history import record_history, utc_now
from medtl_gui.core.project.records import MaskRecord
from medtl_gui.core.project.store_base import ProjectStoreBase

MASKS_DIR = "masks"
PENDING_SUFFIX = ".pending"
MASK_KINDS: tuple[str, ...] = ("label", "proposal", "fov")

_NO_SLICE = -1


def mask_relative_path(image_id: int, kind: str, slice_index: int | None) -> str:
    """Where a mask lives, relative to the project folder (forward slashes)."""
    suffix = "" if slice_index is None else f"_z{int(slice_index)}"
    if kind == "label":
        return f"{MASKS_DIR}/{int(image_id)}{suffix}.png"
    if kind == "proposal":
        return f"{MASKS_DIR}/proposals/{int(image_id)}{suffix}.png"
    if kind == "fov":
        return f"{MASKS_DIR}/{int(image_id)}_fov{suffix}.png"
    raise ValueError(f"mask kind must be one of {', '.join(MASK_KINDS)}, not {kind!r}")


def encode_mask_png(mask: np.ndarray) -> bytes:
    """A uint8 2D label mask as PNG bytes (values kept exactly)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_mask_png(path: Path) -> np.ndarray:
    """Read a mask PNG back as a uint8 2D array."""
    from PIL import Image

    with Image.open(path) as image:
        return np.array(image, dtype=np.uint8)


def as_label_mask(mask: np.ndarray, where: str) -> np.ndarray:
    """Check a mask array and return it as uint8 (bool and small integers accepted)."""
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"{where}: a mask must be 2D (rows, columns), got shape {array.shape}")
    if array.dtype == np.bool_:
        return array.astype(np.uint8)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{where}: a mask must hold integer label values, got dtype {array.dtype}")
    if array.size and (int(array.min()) < 0 or int(array.max()) > 255):
        raise ValueError(f"{where}: mask values must be 0..255, got {array.min()}..{array.max()}")
    return array.astype(np.uint8, copy=False)


def _pending_path(final: Path, sha256: str) -> Path:
    return final.with_name(f"{final.name}.{sha256[:16]}{PENDING_SUFFIX}")


class MaskStore(ProjectStoreBase):
    """Label masks, mask proposals and field-of-view masks of images."""

    # -- public API ------------------------------------------------------------------
    def set_mask(
        self, image_id: int, mask: np.ndarray, slice_index: int | None = None, *,
        origin: str = "human", user: str | None = None,
    ) -> MaskRecord:
        """Store the final label mask of an image (or of one slice of a volume)."""
        self._check_origin(origin)
        with self._db.write() as conn:
            self._stage_mask(conn, image_id, "label", mask, slice_index, origin=origin, user=user)
        return self._mask_record_or_fail(image_id, "label", slice_index)

    def mask(self, image_id: int, slice_index: int | None = None) -> np.ndarray | None:
        """The final label mask (uint8), or None when there is none."""
        return self._read_mask(image_id, "label", slice_index)

    def set_mask_proposal(
        self, image_id: int, mask: np.ndarray, slice_index: int | None = None, *, run_id: str | None = None
    ) -> MaskRecord:
        """Store a model's proposed mask, apart from the final mask."""
        with self._db.write() as conn:
            self._stage_mask(conn, image_id, "proposal", mask, slice_index, origin="model", user=None,
                             run_id=run_id)
        return self._mask_record_or_fail(image_id, "proposal", slice_index)

    def mask_proposal(self, image_id: int, slice_index: int | None = None) -> np.ndarray | None:
        """A model's proposed mask, or None."""
        return self._read_mask(image_id, "proposal", slice_index)

    def confirm_mask_proposal(
        self, image_id: int, slice_index: int | None = None, user: str | None = None
    ) -> MaskRecord:
        """Accept the proposed mask as the final mask (origin "model-confirmed")."""
        proposed = self.mask_proposal(image_id, slice_index)
        if proposed is None:
            raise ProjectError(self.folder, f"image {image_id} has no mask proposal to confirm")
        with self._db.write() as conn:
            self._stage_mask(conn, image_id, "label", proposed, slice_index, origin="model-confirmed",
                             user=user, action="confirm-mask")
        return self._mask_record_or_fail(image_id, "label", slice_index)

    def set_fov_mask(
        self, image_id: int, mask: np.ndarray, *, origin: str = "import", user: str | None = None
    ) -> MaskRecord:
        """Store a field-of-view mask (1 inside the region to evaluate, 0 outside)."""
        self._check_origin(origin)
        with self._db.write() as conn:
            self._stage_mask(conn, image_id, "fov", mask, None, origin=origin, user=user)
        return self._mask_record_or_fail(image_id, "fov", None)

    def fov_mask(self, image_id: int) -> np.ndarray | None:
        """The field-of-view mask of an image, or None."""
        return self._read_mask(image_id, "fov", None)

    def delete_mask(self, image_id: int, slice_index: int | None = None, *, user: str | None = None) -> bool:
        """Remove the final mask of an image/slice; True when there was one."""
        record = self.mask_record(image_id, slice_index)
        if record is None:
            return False
        with self._db.write() as conn:
            conn.execute(
                "DELETE FROM masks WHERE image_id = ? AND kind = 'label' AND slice_index = ?",
                (int(image_id), _slice_key(slice_index)),
            )
            record_history(conn, action="mask", image_id=int(image_id),
                           old_value={"sha256": record.sha256, "slice": slice_index}, new_value=None,
                           origin="human", user=user)
            final = self.folder / record.path
            self._db.after_commit(lambda: _unlink_quietly(final))
        return True

    def mask_record(self, image_id: int, slice_index: int | None = None, kind: str = "label") -> MaskRecord | None:
        """The database record of one mask file, or None."""
        row = self._db.connection().execute(
            "SELECT image_id, kind, slice_index, path, sha256, origin, user, run_id, updated_at"
            " FROM masks WHERE image_id = ? AND kind = ? AND slice_index = ?",
            (int(image_id), kind, _slice_key(slice_index)),
        ).fetchone()
        return _mask_record(row) if row else None

    def mask_records(self, image_id: int | None = None, kind: str | None = "label") -> list[MaskRecord]:
        """Mask records of one image (or all), of one kind (or all kinds with None)."""
        sql = ("SELECT image_id, kind, slice_index, path, sha256, origin, user, run_id, updated_at"
               " FROM masks WHERE 1 = 1")
        params: list[object] = []
        if image_id is not None:
            sql += " AND image_id = ?"
            params.append(int(image_id))
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        rows = self._db.connection().execute(sql + " ORDER BY image_id, kind, slice_index", params)
        return [_mask_record(r) for r in rows]

    # -- internals -------------------------------------------------------------------
    def _stage_mask(
        self, conn: sqlite3.Connection, image_id: int, kind: str, mask: np.ndarray,
        slice_index: int | None, *, origin: str, user: str | None, run_id: str | None = None,
        action: str | None = None,
    ) -> None:
        """Write the pending file and record it, inside the caller's write transaction."""
        row = self._require_image(conn, image_id)
        shape, n_frames = tuple(json.loads(row[1])), int(row[2])
        where = f"image {image_id}"
        array = as_label_mask(mask, where)
        if n_frames > 1:
            if slice_index is None or not 0 <= int(slice_index) < n_frames:
                raise ValueError(f"{where}: a volume of {n_frames} slices needs slice_index 0..{n_frames - 1}")
            plane = (shape[1], shape[2])
        else:
            if slice_index is not None and kind != "fov":
                raise ValueError(f"{where}: a 2D image takes slice_index=None, not {slice_index}")
            plane = (shape[0], shape[1])
        if kind == "fov":
            slice_index = None
        if array.shape != plane:
            raise ValueError(f"{where}: mask shape {array.shape} does not match the image's {plane}")
        data = encode_mask_png(array)
        digest = sha256_bytes(data)
        relative = mask_relative_path(image_id, kind, slice_index)
        old = conn.execute(
            "SELECT sha256 FROM masks WHERE image_id = ? AND kind = ? AND slice_index = ?",
            (int(image_id), kind, _slice_key(slice_index)),
        ).fetchone()
        final = self.folder / relative
        pending = _pending_path(final, digest)
        try:
            atomic_write_bytes(pending, data)  # removes its temporary file when it fails
        except OSError as exc:
            if is_disk_full(exc, self.folder):
                raise DiskFullError(self.folder, f"the disk is full: the {kind} mask of image {image_id}"
                                                 " was not saved") from exc
            raise
        now = utc_now()
        conn.execute(
            "INSERT INTO masks (image_id, kind, slice_index, path, sha256, origin, user, run_id, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(image_id, kind, slice_index) DO UPDATE SET"
            " sha256 = excluded.sha256, origin = excluded.origin, user = excluded.user,"
            " run_id = excluded.run_id, updated_at = excluded.updated_at",
            (int(image_id), kind, _slice_key(slice_index), relative, digest, origin, user, run_id, now),
        )
        record_history(
            conn, action=action or {"label": "mask", "proposal": "mask-proposal", "fov": "fov-mask"}[kind],
            image_id=int(image_id), old_value={"sha256": old[0], "slice": slice_index} if old else None,
            new_value={"sha256": digest, "slice": slice_index}, origin=origin, user=user, timestamp=now,
        )
        db = self._db
        db.after_commit(lambda: finish_pending_mask(db, final, pending, relative, digest))
        db.after_rollback(lambda: _unlink_quietly(pending))

    def _read_mask(self, image_id: int, kind: str, slice_index: int | None) -> np.ndarray | None:
        record = self.mask_record(image_id, slice_index, kind)
        if record is None:
            return None
        final = self.folder / record.path
        pending = _pending_path(final, record.sha256)
        try:
            return decode_mask_png(pending if pending.exists() else final)
        except FileNotFoundError:
            if pending.exists() or final.exists():  # renamed between the check and the read
                return decode_mask_png(final)
            raise ProjectError(final, "mask file is missing (run `medtl check`)") from None

    def _mask_record_or_fail(self, image_id: int, kind: str, slice_index: int | None) -> MaskRecord:
        record = self.mask_record(image_id, slice_index, kind)
        if record is None:  # pragma: no cover - only if another writer deleted it at once
            raise ProjectError(self.folder, f"mask of image {image_id} vanished while being written")
        return record


def finish_pending_mask(db: ProjectDatabase, final: Path, pending: Path, relative: str, digest: str) -> None:
    """Rename a committed pending mask over its final name (under the write lock).

    Skipped (the pending file deleted) when another writer has recorded a newer
    mask meanwhile, so the file always matches the database.
    """
    with db.write() as conn:
        row = conn.execute("SELECT sha256 FROM masks WHERE path = ?", (relative,)).fetchone()
        if not pending.exists():
            return  # already finished by recovery in another process
        if row is not None and row[0] == digest:
            os.replace(pending, final)
            fsync_directory(final.parent)
        else:
            _unlink_quietly(pending)


def recover_pending_masks(db: ProjectDatabase, folder: Path) -> int:
    """Finish or discard pending mask files a crash left; return how many were found.

    A pending file whose hash the database records is renamed over its final
    name (the edit was committed); any other is deleted (it was not), and so
    are temporary files of interrupted writes.
    """
    masks_dir = folder / MASKS_DIR
    if not masks_dir.is_dir():
        return 0
    if not any(masks_dir.rglob(f"*{PENDING_SUFFIX}")) and not any(masks_dir.rglob(f"*{PARTIAL_SUFFIX}")):
        return 0  # the usual case: no write lock needed
    found = 0
    with db.write() as conn:
        # mask files are only written while holding the write lock, which we hold now:
        # a temporary file here belongs to a writer that died
        for temp in masks_dir.rglob(f"*{PARTIAL_SUFFIX}"):
            _unlink_quietly(temp)
        for pending in masks_dir.rglob(f"*{PENDING_SUFFIX}"):
            found += 1
            final_name, _, _sha16 = pending.name[: -len(PENDING_SUFFIX)].rpartition(".")
            final = pending.with_name(final_name)
            relative = final.relative_to(folder).as_posix()
            row = conn.execute("SELECT sha256 FROM masks WHERE path = ?", (relative,)).fetchone()
            try:
                if row is not None and sha256_file(pending) == row[0]:
                    os.replace(pending, final)
                    fsync_directory(final.parent)
                else:
                    pending.unlink()
            except FileNotFoundError:
                continue
    return found


def _slice_key(slice_index: int | None) -> int:
    return _NO_SLICE if slice_index is None else int(slice_index)


def _mask_record(row: tuple) -> MaskRecord:
    return MaskRecord(
        image_id=row[0], kind=row[1], slice_index=None if row[2] == _NO_SLICE else row[2], path=row[3],
        sha256=row[4], origin=row[5], user=row[6], run_id=row[7], updated_at=row[8],
    )


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
