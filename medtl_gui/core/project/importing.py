"""Bulk import of scans into a project, with a report of what was imported and skipped.

``import_sources(project, sources)`` detects each source's layout (see
``import_plans.py``: class folders, CSV, MedMNIST ``.npz``, DICOM folders,
single files, image+mask folder pairs), reads every image with ``read_scan``
to validate it, and records the readable ones. Unreadable files are skipped
and reported with the reason; the rest are imported.

Speed and crash safety: files are hashed and read outside any transaction;
their rows (image, label, split, masks, history) are then committed in
batches of ``batch_size`` (200) images, one transaction each. A crash loses
at most the batch in flight; re-running the same import skips what was
already committed (same content = duplicate) and adds the rest. Sources are
opened read-only and never modified.

Splits: after the images are committed, every image of the project without a
split gets one (``Project.apply_split_settings`` with the project's split
settings: stratified by class, grouped by patient / case / image, seeded);
splits the source gives (a CSV ``split`` column, an ``.npz``'s
``train_``/``val_``/``test_`` arrays) and those set by hand are kept. The
report's ``splits`` holds the counts per split and class afterwards.

Odd names and a full disk: any file name the OS gives is imported (stored
without loss, see ``file_names.py``) or skipped with a reason, and shown
escaped in the summary. A full disk is not a per-file problem: it stops the
import with one ``DiskFullError`` saying how many images were committed
before; files this import wrote for images it did not commit (copies,
PNGs out of an ``.npz``) are removed, and so they are after any other error
that stops an import.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medtl_gui.core.imaging.errors import ScanReadError
from medtl_gui.core.project.atomic_files import atomic_write_bytes, sha256_bytes, sha256_file
from medtl_gui.core.project.disk_space import DiskFullError, is_disk_full, remove_written
from medtl_gui.core.project.file_names import display_name, to_stored
from medtl_gui.core.project.history import current_user, record_history, utc_now
from medtl_gui.core.project.import_plans import ImportItem, ImportPlan, checked_class_names, plan_source
from medtl_gui.core.project.split_planning import SplitSettings
from medtl_gui.core.project.split_summary import SplitSummary
from medtl_gui.core.project.ingest import (
    IMAGES_DIR,
    PreparedImage,
    copy_into_project,
    copy_target,
    file_identity,
    find_identity,
    hash_series,
    insert_image,
    read_and_describe,
    relative_to_project,
    safe_file_name,
    series_folder,
)

if TYPE_CHECKING:
    from medtl_gui.core.project.project import Project

#: ``progress(done, total, current_path)``, called once per image
ProgressCallback = Callable[[int, int, str], None]


@dataclass
class ImportReport:
    """What an import did. ``as_dict()`` is JSON-serialisable."""

    imported: int = 0
    duplicates: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    classes_created: list[str] = field(default_factory=list)
    seg_labels_created: list[str] = field(default_factory=list)
    labelled: int = 0
    masks_imported: int = 0
    image_ids: list[int] = field(default_factory=list)
    duplicate_ids: list[int] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)  # (path, detected layout)
    warnings: list[str] = field(default_factory=list)
    cancelled: bool = False
    batch_id: int | None = None
    seconds: float = 0.0
    splits: SplitSummary | None = None  # the project's splits after the import's assignment

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON types."""
        data = asdict(self)
        data["skipped"] = [{"path": p, "reason": r} for p, r in self.skipped]
        data["sources"] = [{"path": p, "layout": k} for p, k in self.sources]
        data["splits"] = self.splits.as_dict() if self.splits is not None else None
        return data

    def summary(self) -> str:
        """A few human-readable lines."""
        lines = [f"imported {self.imported} images ({self.labelled} labelled, {self.masks_imported} masks),"
                 f" {self.duplicates} duplicates, {len(self.skipped)} skipped in {self.seconds:.1f} s"
                 + (" - CANCELLED" if self.cancelled else "")]
        if self.classes_created:
            lines.append("new classes: " + ", ".join(display_name(c) for c in self.classes_created))
        if self.seg_labels_created:
            lines.append("new segmentation labels: " + ", ".join(self.seg_labels_created))
        lines.extend(f"skipped {display_name(path)}: {display_name(reason)}" for path, reason in self.skipped)
        lines.extend(f"warning: {display_name(w)}" for w in self.warnings)
        if self.splits is not None:
            lines.append(self.splits.headline())
            lines.append(self.splits.table())
        return "\n".join(lines)


@dataclass
class _PendingImage:
    """A validated image waiting for its batch to be committed."""

    prepared: PreparedImage
    label: str | None
    split: str | None
    mask: np.ndarray | None  # bool, pixels of the plan's segmentation label
    seg_label: str | None
    fov: np.ndarray | None


class _Duplicate(Exception):
    def __init__(self, image_id: int | None):
        self.image_id = image_id


def import_sources(
    project: "Project",
    sources: Sequence[str | Path],
    *,
    copy: bool | None = None,
    class_names: Sequence[str] | None = None,
    limit: int | None = None,
    seg_label_name: str | None = None,
    domain: str | None = None,
    user: str | None = None,
    batch_size: int = 200,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    splits: SplitSettings | bool = True,
) -> ImportReport:
    """Import every source into ``project`` and report what happened.

    ``copy``: copy scan files into the project's ``images/`` (None or False:
    reference them where they are; images from ``.npz`` arrays are always
    written into the project as PNG). ``class_names``: names of the integer
    labels of an ``.npz`` (index = value). ``limit``: at most this many images
    from each source (from each split of an ``.npz``). ``domain``: a tag
    stored on every image (e.g. the scanner or site, for domain adaptation).
    ``cancel``: checked between files; what was read so far is committed.
    ``splits``: True assigns a split to every image without one, with the
    project's split settings (also after a cancelled import, to what was
    committed); a ``SplitSettings`` uses those; False leaves them unassigned.
    """
    started = time.monotonic()
    class_names = checked_class_names(class_names)  # ValueError before anything is written
    report = ImportReport()
    writer = _BatchWriter(project, report, user=user or current_user(), domain=domain,
                          sources=[str(s) for s in sources], batch_size=batch_size)
    plans: list[ImportPlan] = []
    for raw in sources:
        source = Path(raw).expanduser()
        if not source.exists():
            report.skipped.append((str(raw), "source does not exist"))
            continue
        plan = plan_source(source.resolve(), class_names=class_names, limit=limit, seg_label_name=seg_label_name)
        plans.append(plan)
        report.sources.append((str(source), plan.kind))
        report.skipped.extend(plan.skipped)
        report.warnings.extend(plan.warnings)
    total = sum(len(plan.items) for plan in plans)
    try:
        _import_plans(project, plans, total, copy=bool(copy), writer=writer, report=report, progress=progress,
                      cancel=cancel)
    except BaseException as exc:
        writer.discard_uncommitted()
        if is_disk_full(exc, project.folder):
            raise DiskFullError(project.folder, f"the disk is full: {report.imported} image(s) were imported before"
                                                f" it filled up, the other {total - report.imported} of this import"
                                                " were not (the copies made for them were removed); free space and"
                                                " import again (images already imported are skipped)") from exc
        raise
    if splits is not False:
        settings = splits if isinstance(splits, SplitSettings) else None
        try:
            report.splits = project.apply_split_settings(settings, user=writer.user, origin="import")
        except DiskFullError as exc:
            raise DiskFullError(project.folder, f"the disk is full: all {report.imported} image(s) were imported"
                                                " but no split was assigned to them; free space, then assign splits"
                                                " (medtl split, or Edit > Splits...)") from exc
    report.seconds = time.monotonic() - started
    return report


def _import_plans(
    project: "Project", plans: list[ImportPlan], total: int, *, copy: bool, writer: "_BatchWriter",
    report: ImportReport, progress: ProgressCallback | None, cancel: threading.Event | None,
) -> None:
    """Read, validate and commit every planned image (batches as they fill, the rest at the end)."""
    done = 0
    if progress:
        progress(0, total, "")
    for plan in plans:
        writer.declare(plan)
        twins: dict[str, list[str]] = {}
        for item in plan.items:
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                break
            _import_item(project, plan, item, copy=copy, writer=writer, report=report, twins=twins)
            done += 1
            if progress:
                progress(done, total, display_name(item.display))
        _warn_pixel_twins(plan, twins, report)
        if report.cancelled:
            break
    writer.flush()


def _prepare(
    project: "Project", plan: ImportPlan, item: ImportItem, *, copy: bool, writer: "_BatchWriter",
    report: ImportReport,
) -> _PendingImage:
    """Hash, de-duplicate, read (validate) and if asked copy one image."""
    if item.array is not None:
        prepared = _prepare_array_image(project, plan, item, writer)
    else:
        sha = hash_series(item.files) if item.series_uid else sha256_file(item.files[0])
        identity = file_identity(sha)
        writer.check_duplicate(identity)
        target = series_folder(item.files) if item.series_uid else item.files[0]
        prepared = read_and_describe(target, sha256=sha, identity=identity, series_uid=item.series_uid,
                                     source=str(target))
        inside = relative_to_project(target, project.folder)
        if inside is not None:
            prepared = replace(prepared, path=inside, copied=True)
        elif copy:
            writer.written.append(project.folder / copy_target(prepared, item.files))  # before: a failed copy
            prepared = copy_into_project(prepared, project.folder, item.files)  # may leave a series half-copied
    if item.patient_id:
        prepared = replace(prepared, patient_id=item.patient_id)
    plane = prepared.shape[1:3] if prepared.n_frames > 1 else prepared.shape[:2]
    mask = _load_binary_mask(item.mask_file, plane, report) if item.mask_file else None
    fov = _load_binary_mask(item.fov_file, plane, report) if item.fov_file else None
    if prepared.n_frames > 1 and (mask is not None or fov is not None):
        report.skipped.append((item.display, "masks of multi-frame images are not imported"))
        mask = fov = None
    return _PendingImage(prepared=prepared, label=item.label, split=item.split, mask=mask,
                         seg_label=plan.seg_label, fov=fov)


def _import_item(
    project: "Project", plan: ImportPlan, item: ImportItem, *, copy: bool, writer: "_BatchWriter",
    report: ImportReport, twins: dict[str, list[str]],
) -> None:
    """Prepare one planned image and queue it, or record why it was not imported."""
    try:
        pending = _prepare(project, plan, item, copy=copy, writer=writer, report=report)
    except _Duplicate as dup:
        report.duplicates += 1
        if dup.image_id is not None:
            report.duplicate_ids.append(dup.image_id)
        return
    except ScanReadError as exc:
        if item.series_uid and len(item.files) > 1:
            # e.g. one image saved in several encodings under one series UID: take the files one by one
            report.warnings.append(f"{item.display}: not readable as one volume ({exc.reason}); "
                                   f"its {len(item.files)} files are imported one by one")
            for file in item.files:
                single = ImportItem(display=str(file), files=[file], label=item.label, split=item.split,
                                    patient_id=item.patient_id)
                _import_item(project, plan, single, copy=copy, writer=writer, report=report, twins=twins)
        else:
            report.skipped.append((item.display, exc.reason))
        return
    except Exception as exc:  # one bad file must never abort a large import (a full disk does: see above)
        if is_disk_full(exc, project.folder):
            raise
        report.skipped.append((item.display, f"{type(exc).__name__}: {exc}"))
        return
    if plan.kind == "npz":
        twins.setdefault(pending.prepared.sha256, []).append(item.display)
    writer.add(pending)


def _prepare_array_image(project: "Project", plan: ImportPlan, item: ImportItem, writer: "_BatchWriter") -> PreparedImage:
    """Write one image of an ``.npz`` into ``images/`` as PNG."""
    from PIL import Image

    assert item.array is not None and plan.npz_sha256 is not None
    identity = f"npz:{plan.npz_sha256}:{item.split or 'all'}:{item.array.index}"
    writer.check_duplicate(identity)
    pixels = np.asarray(plan.arrays[item.array.key][item.array.index])
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    image = Image.fromarray(np.ascontiguousarray(pixels))  # uint8 -> L or RGB, uint16 -> I;16
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    folder = f"{IMAGES_DIR}/{safe_file_name(plan.source.stem)}-{plan.npz_sha256[:8]}"
    relative = f"{folder}/{item.split or 'all'}_{item.array.index:05d}.png"
    writer.written.append(project.folder / relative)
    atomic_write_bytes(project.folder / relative, data)
    return PreparedImage(
        path=relative, copied=True, sha256=sha256_bytes(data), identity=identity, kind="raster",
        modality=None, patient_id=None, study_uid=None, series_uid=None,
        shape=tuple(int(n) for n in pixels.shape), n_frames=1, is_color=pixels.ndim == 3,
        source=f"{plan.source}:{item.array.key}[{item.array.index}]",
    )


def _load_binary_mask(path: Path, plane: tuple[int, ...], report: ImportReport) -> np.ndarray | None:
    """A mask file as a bool array (foreground = non-zero, or >= half the maximum for 8/16-bit art)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            pixels = np.array(image.convert("L") if image.mode in ("P", "1", "LA", "RGB", "RGBA") else image)
    except Exception as exc:  # PIL raises many types for broken files
        report.skipped.append((str(path), f"mask not readable: {exc}"))
        return None
    if pixels.ndim == 3:
        pixels = pixels.max(axis=-1)
    if tuple(pixels.shape) != tuple(plane):
        report.skipped.append((str(path), f"mask shape {pixels.shape} does not match the image's {tuple(plane)}"))
        return None
    top = int(pixels.max()) if pixels.size else 0
    return pixels > 0 if top <= 1 else pixels >= (top + 1) // 2


def _warn_pixel_twins(plan: ImportPlan, twins: dict[str, list[str]], report: ImportReport) -> None:
    groups = [names for names in twins.values() if len(names) > 1]
    if not groups:
        return
    extra = sum(len(g) - 1 for g in groups)
    example = " = ".join(groups[0][:3])
    report.warnings.append(
        f"{plan.source.name}: {extra} images are pixel-identical to another image of the data set"
        f" (kept, as the data set lists them; e.g. {example})"
    )


class _BatchWriter:
    """Collects validated images and commits them in batches (one transaction each)."""

    def __init__(self, project: "Project", report: ImportReport, *, user: str, domain: str | None,
                 sources: list[str], batch_size: int):
        self.project = project
        self.report = report
        self.user = user
        self.domain = domain
        self.sources = sources
        self.batch_size = max(1, batch_size)
        self.pending: list[_PendingImage] = []
        self.classes_to_declare: list[str] = []
        self.seen: set[str] = set()
        self.written: list[Path] = []  # files written for images not committed yet

    def discard_uncommitted(self) -> None:
        """After a failure: delete the files written for images that were not committed (never a file a
        committed image, of this import or another importer's, refers to)."""
        written, self.written, self.pending = self.written, [], []
        if not written:
            return
        try:
            conn = self.project.database.connection()
            used = {row[0] for row in conn.execute(
                f"SELECT path FROM images WHERE copied = 1 AND path IN ({','.join('?' * len(written))})",
                [to_stored(p.relative_to(self.project.folder).as_posix()) for p in written])}
        except Exception:  # the database is unusable too: what this import wrote is still its own
            used = set()
        remove_written([p for p in written if to_stored(p.relative_to(self.project.folder).as_posix()) not in used],
                       self.project.folder)

    def declare(self, plan: ImportPlan) -> None:
        """Classes of a plan, created (in order) with the next commit."""
        self.classes_to_declare.extend(c for c in plan.declared_classes if c not in self.classes_to_declare)

    def check_duplicate(self, identity: str) -> None:
        """Raise ``_Duplicate`` when this image is in the project or earlier in this import."""
        if identity in self.seen:
            raise _Duplicate(None)
        existing = find_identity(self.project.database.connection(), identity)
        if existing is not None:
            raise _Duplicate(existing)

    def add(self, pending: _PendingImage) -> None:
        self.seen.add(pending.prepared.identity)
        self.pending.append(pending)
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Commit the pending images (and declared classes) in one transaction."""
        if not self.pending and not self.classes_to_declare:
            return
        project, report, user = self.project, self.report, self.user
        now = utc_now()
        ids: list[int] = []
        duplicate_ids: list[int] = []
        classes: list[str] = []
        seg_created: list[str] = []
        labelled = masks = 0
        with project.database.write() as conn:
            batch_id = report.batch_id
            if batch_id is None:
                batch_id = conn.execute(
                    "INSERT INTO import_batches (started_at, user, sources) VALUES (?, ?, ?)",
                    (now, user, json.dumps(self.sources)),
                ).lastrowid
            for name in self.classes_to_declare:
                if project._ensure_class(conn, name, user=user, origin="import"):
                    classes.append(name)
            seg_values: dict[str, int] = {}
            for item in self.pending:
                existing = find_identity(conn, item.prepared.identity)
                if existing is not None:  # added meanwhile by another importer
                    duplicate_ids.append(existing)
                    continue
                image_id = insert_image(conn, item.prepared, now=now, user=user, batch_id=batch_id,
                                        domain=self.domain)
                ids.append(image_id)
                if item.label is not None:
                    if project._ensure_class(conn, item.label, user=user, origin="import"):
                        classes.append(item.label)
                    project._write_label(conn, image_id, item.label, origin="import", user=user, note=None,
                                         status="labelled", action="label", timestamp=now)
                    labelled += 1
                if item.split is not None:
                    conn.execute("UPDATE images SET split = ?, split_origin = 'import' WHERE id = ?",
                                 (item.split, image_id))
                    record_history(conn, action="split", image_id=image_id, old_value=None, new_value=item.split,
                                   origin="import", user=user, timestamp=now)
                if item.mask is not None and item.seg_label:
                    if item.seg_label not in seg_values:
                        seg_values[item.seg_label] = self._seg_value(conn, item.seg_label, seg_created)
                    value = seg_values[item.seg_label]
                    project._stage_mask(conn, image_id, "label", item.mask.astype(np.uint8) * np.uint8(value),
                                        None, origin="import", user=user)
                    masks += 1
                if item.fov is not None:
                    project._stage_mask(conn, image_id, "fov", item.fov, None, origin="import", user=user)
        # committed: only now does the report count them
        self.written = []
        report.batch_id = batch_id
        report.imported += len(ids)
        report.image_ids.extend(ids)
        report.duplicates += len(duplicate_ids)
        report.duplicate_ids.extend(duplicate_ids)
        report.classes_created.extend(classes)
        report.seg_labels_created.extend(seg_created)
        report.labelled += labelled
        report.masks_imported += masks
        self.pending = []
        self.classes_to_declare = []

    def _seg_value(self, conn: Any, name: str, created: list[str]) -> int:
        row = conn.execute("SELECT value FROM seg_labels WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return int(row[0])
        created.append(name)
        return self.project._insert_seg_label(conn, name, None, None).value
