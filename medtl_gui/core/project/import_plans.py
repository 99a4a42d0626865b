"""What an import source contains: detect its layout and list the images to import.

``plan_source(path)`` recognises, in this order:

1. ``.npz`` file - MedMNIST-style arrays (``train_images``/``train_labels``,
   ``val_*``, ``test_*``, or plain ``images``/``labels``); splits kept.
2. ``.csv`` file - rows ``path,label[,split]`` (header optional, paths
   relative to the CSV's folder and never outside it; with a header, columns
   are found by name and an optional ``patient_id`` column is read).
3. any other file - one scan.
4. folder with an ``images/`` sub-folder next to mask folders - image+mask
   pairs for segmentation (DRIVE layout: ``images/21_training.tif``,
   ``1st_manual/21_manual1.gif``, ``mask/21_training_mask.gif``), matched by
   file stem or by the leading case id.
5. folder whose entries are (mostly) sub-folders holding images directly and no
   multi-file DICOM series - one class per sub-folder.
6. any other folder - every DICOM series (one image each) plus every other
   scan file found recursively.

Planning only lists files (and DICOM headers); reading and validating each
image happens in ``importing.py``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medtl_gui.core.project.npz_checks import npz_problem

#: where each image of a plan comes from
SOURCE_KINDS = ("npz", "csv", "file", "image-mask-pairs", "class-folders", "folder")

_DICOM_EXTENSIONS = (".dcm", ".dicom", ".dic", ".ima")
_SPLIT_ALIASES = {
    "train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
    "test": "test", "testing": "test",
}
_FOV_FOLDER = re.compile(r"^(mask|masks_fov|fov.*|.*_fov|roi)$", re.IGNORECASE)
_LABEL_FOLDER_PRIORITY = (
    re.compile(r"^1st_manual$", re.IGNORECASE),
    re.compile(r"manual|label|seg|gt|truth|annot|mask", re.IGNORECASE),
)
_DRIVE_MANUAL = re.compile(r"^\d+(st|nd|rd|th)_manual$", re.IGNORECASE)
#: CSV header names recognised for each column (a header must name the path column)
_CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "path": ("path", "file", "filename", "image", "image_path"),
    "label": ("label", "class", "target"),
    "split": ("split", "subset", "fold"),
    "patient": ("patient", "patient_id", "patientid"),
}
#: class names of known array data sets, by a word in the file name
KNOWN_NPZ_CLASS_NAMES: dict[str, list[str]] = {"pneumoniamnist": ["normal", "pneumonia"]}


@dataclass
class ArrayRef:
    """One image inside an array file: ``arrays[key][index]``."""

    key: str
    index: int


@dataclass
class ImportItem:
    """One image to import, as planned from its source."""

    display: str  # shown in progress and in the report
    files: list[Path] = field(default_factory=list)  # 1 file, or a multi-file DICOM series
    series_uid: str | None = None  # set for a multi-file DICOM series
    label: str | None = None
    split: str | None = None
    patient_id: str | None = None  # from a CSV "patient_id" column; overrides the file's
    array: ArrayRef | None = None  # set for images taken out of an .npz
    mask_file: Path | None = None
    fov_file: Path | None = None


@dataclass
class ImportPlan:
    """Everything one source will contribute to an import."""

    source: Path
    kind: str  # one of SOURCE_KINDS
    items: list[ImportItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) found while planning
    warnings: list[str] = field(default_factory=list)
    declared_classes: list[str] = field(default_factory=list)  # created first, in this order
    seg_label: str | None = None  # name of the mask value 1 for image-mask pairs
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # for kind "npz"
    npz_sha256: str | None = None


def plan_source(
    source: Path, *, class_names: list[str] | None = None, limit: int | None = None,
    seg_label_name: str | None = None,
) -> ImportPlan:
    """Detect the layout of ``source`` and list its images (``limit``: at most this many each)."""
    if source.is_file():
        suffix = source.suffix.lower()
        if suffix == ".npz":
            return plan_npz(source, class_names=class_names, limit=limit)
        if suffix == ".csv":
            return plan_csv(source, limit=limit)
        return ImportPlan(source=source, kind="file", items=[ImportItem(display=str(source), files=[source])])
    subdirs = _visible_subdirs(source)
    images_dir = next((d for d in subdirs if d.name.lower() == "images"), None)
    if images_dir is not None:
        pairs = [d for d in subdirs if d is not images_dir and _scan_files(d)]
        if pairs:
            return plan_image_mask_pairs(source, images_dir, pairs, limit=limit, seg_label_name=seg_label_name)
    if _looks_like_class_folders(source, subdirs):
        return plan_class_folders(source, subdirs, limit=limit)
    return plan_folder(source, limit=limit)


# -- layouts ----------------------------------------------------------------------------
def plan_class_folders(source: Path, subdirs: list[Path], *, limit: int | None = None) -> ImportPlan:
    """One class per sub-folder; the images directly inside it get that label."""
    plan = ImportPlan(source=source, kind="class-folders")
    for file in _visible_files(source):
        _add_file_item(plan, file, label=None)
    for folder in subdirs:
        files = _visible_files(folder)
        if not files:
            nested = _visible_subdirs(folder)
            if nested:  # an empty folder drops nothing; one holding only folders drops what is in them
                plan.skipped.append((str(folder), "class folder holds only sub-folder(s) ("
                                                  + ", ".join(d.name for d in nested[:3])
                                                  + "); images in sub-folders of a class folder are not imported"))
            continue
        plan.declared_classes.append(folder.name)
        for file in files:
            _add_file_item(plan, file, label=folder.name)
        for nested in _visible_subdirs(folder):
            plan.skipped.append((str(nested), "sub-folder inside a class folder is not imported"))
    plan.items = _limited(plan.items, limit)
    return plan


def plan_folder(source: Path, *, limit: int | None = None) -> ImportPlan:
    """Every DICOM series in the tree as one image, plus every other scan file."""
    from medtl_gui.core.imaging import find_series

    plan = ImportPlan(source=source, kind="folder")
    in_series: set[Path] = set()
    for series in find_series(source, recursive=True):
        files = sorted(Path(f).resolve() for f in series.files)
        in_series.update(files)
        if len(files) == 1:
            plan.items.append(ImportItem(display=str(files[0]), files=files))
        else:
            plan.items.append(ImportItem(
                display=f"{files[0].parent} (series {series.description or series.uid}, {len(files)} files)",
                files=files, series_uid=series.uid,
            ))
    for file in sorted(source.rglob("*")):
        if not file.is_file() or _hidden(file, source) or file.resolve() in in_series:
            continue
        _add_file_item(plan, file, label=None)
    plan.items = _limited(plan.items, limit)
    return plan


def plan_image_mask_pairs(
    source: Path, images_dir: Path, mask_dirs: list[Path], *, limit: int | None = None,
    seg_label_name: str | None = None,
) -> ImportPlan:
    """Images in ``images/`` with their label masks (and field-of-view masks) from sibling folders."""
    plan = ImportPlan(source=source, kind="image-mask-pairs")
    fov_dirs = [d for d in mask_dirs if _FOV_FOLDER.match(d.name)]
    label_dirs = sorted(
        (d for d in mask_dirs if d not in fov_dirs),
        key=lambda d: (next((i for i, p in enumerate(_LABEL_FOLDER_PRIORITY) if p.search(d.name)), 9), d.name),
    )
    label_dir = label_dirs[0] if label_dirs else None
    fov_dir = fov_dirs[0] if fov_dirs else None
    for unused in label_dirs[1:] + fov_dirs[1:]:
        plan.warnings.append(f"{unused}: not imported (only one label mask and one field of view per image)")
    if label_dir is not None:
        plan.seg_label = seg_label_name or ("vessel" if _DRIVE_MANUAL.match(label_dir.name) else "foreground")

    items: dict[Path, ImportItem] = {}
    for file in _visible_files(images_dir):
        _add_file_item(plan, file, label=None)
        if plan.items and plan.items[-1].files == [file]:
            items[file] = plan.items[-1]
    by_stem = {_stem(f): f for f in items}
    by_case: dict[str, list[Path]] = {}
    for f in items:
        by_case.setdefault(_case_id(f), []).append(f)

    for folder, attribute in ((label_dir, "mask_file"), (fov_dir, "fov_file")):
        if folder is None:
            continue
        for mask in _visible_files(folder):
            match = by_stem.get(_stem(mask))
            if match is None:
                candidates = by_case.get(_case_id(mask), [])
                match = candidates[0] if len(candidates) == 1 else None
            if match is None:
                plan.skipped.append((str(mask), f"no image in {images_dir.name}/ with case id {_case_id(mask)!r}"))
                continue
            setattr(items[match], attribute, mask)
    plan.items = _limited(plan.items, limit)
    return plan


def plan_csv(csv_path: Path, *, limit: int | None = None) -> ImportPlan:
    """Rows ``path,label[,split]``; bad rows are reported, the rest planned."""
    plan = ImportPlan(source=csv_path, kind="csv")
    base = csv_path.parent.resolve()
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        plan.skipped.append((str(csv_path), f"cannot read the CSV file: {exc}"))
        return plan
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = _csv_rows(text, dialect, plan, csv_path)
    columns = {"path": 0, "label": 1, "split": 2, "patient": -1}
    start = 0
    header = [cell.strip().lower() for cell in rows[0][1]] if rows else []
    if any(name in _CSV_COLUMNS["path"] for name in header):
        columns = {key: next((i for i, h in enumerate(header) if h in names), -1)
                   for key, names in _CSV_COLUMNS.items()}
        start = 1
    seen_classes: list[str] = []
    for line_number, row in rows[start:]:
        if not row or all(not cell.strip() for cell in row):
            continue
        where = f"{csv_path}:{line_number}"
        needed = max(columns["path"], columns["label"]) + 1
        if len(row) < needed or (not start and len(row) > 3):
            plan.skipped.append((where, f"row {line_number}: expected path,label[,split], got {len(row)} columns"))
            continue
        raw_path = row[columns["path"]].strip()
        label = _cell(row, columns["label"])
        if _breaks_line(label):
            plan.skipped.append((where, f"row {line_number}: label {label!r} contains a line break"
                                        " (a label must be one line; the row was not imported)"))
            continue
        split_text = _cell(row, columns["split"]).lower()
        if not raw_path:
            plan.skipped.append((where, f"row {line_number}: empty path"))
            continue
        try:
            target = (base / raw_path).resolve()
            escapes = not target.is_relative_to(base)
            exists = not escapes and target.exists()
            is_dir = exists and target.is_dir()
        except (OSError, ValueError) as exc:  # e.g. a NUL byte or a name longer than the system allows
            plan.skipped.append((raw_path[:200], f"row {line_number}: unusable path ({exc.__class__.__name__}: "
                                                 f"{' '.join(str(exc).split())[:120]})"))
            continue
        if escapes:
            plan.skipped.append((raw_path, f"row {line_number}: path escapes the CSV's folder ({base})"))
            continue
        split = _SPLIT_ALIASES.get(split_text) if split_text else None
        if split_text and split is None:
            plan.skipped.append((raw_path, f"row {line_number}: unknown split {split_text!r} (train, val or test)"))
            continue
        if not exists:
            plan.skipped.append((raw_path, f"row {line_number}: file not found: {target}"))
            continue
        if is_dir:
            item = _series_item(target, plan, line_number)
            if item is None:
                continue
        else:
            item = ImportItem(display=str(target), files=[target])
        if label and label not in seen_classes:
            seen_classes.append(label)
        item.label, item.split = label or None, split
        item.patient_id = _cell(row, columns["patient"]) or None
        plan.items.append(item)
    plan.declared_classes = seen_classes
    plan.items = _limited(plan.items, limit)
    return plan


def plan_npz(npz_path: Path, *, class_names: list[str] | None = None, limit: int | None = None) -> ImportPlan:
    """MedMNIST-style arrays: every image of every split, its label and its split."""
    from medtl_gui.core.project.atomic_files import sha256_file

    plan = ImportPlan(source=npz_path, kind="npz")
    problem = npz_problem(npz_path)
    if problem is not None:
        plan.skipped.append((str(npz_path), f"cannot read the .npz file: {problem}"))
        return plan
    try:
        with np.load(npz_path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except Exception as exc:  # zipfile/ValueError/OSError: any unreadable archive
        plan.skipped.append((str(npz_path), f"cannot read the .npz file: {exc}"))
        return plan
    groups = [(split, f"{split}_images", f"{split}_labels") for split in ("train", "val", "test")]
    groups = [g for g in groups if g[1] in arrays]
    if not groups and "images" in arrays:
        groups = [(None, "images", "labels")]
    if not groups:
        plan.skipped.append((str(npz_path), f"no image arrays (expected train_images/val_images/test_images"
                                            f" or images); keys: {', '.join(sorted(arrays))}"))
        return plan
    names = class_names or next(
        (names for word, names in KNOWN_NPZ_CLASS_NAMES.items() if word in npz_path.name.lower()), None
    )
    values: set[int] = set()
    for split, image_key, label_key in groups:
        images = arrays[image_key]
        reason = _npz_image_problem(images)
        if reason is not None:
            plan.skipped.append((f"{npz_path}:{image_key}", reason))
            continue
        labels = arrays.get(label_key)
        if labels is not None:
            labels = np.asarray(labels)
            if labels.ndim == 2 and labels.shape[1] == 1:
                labels = labels[:, 0]
            if labels.ndim != 1 or len(labels) != len(images) or not np.issubdtype(labels.dtype, np.integer):
                plan.skipped.append((f"{npz_path}:{label_key}", f"labels must be integers of shape (N,) or (N, 1)"
                                     f" matching {len(images)} images, got {labels.dtype} {labels.shape}"))
                continue
            values.update(int(v) for v in np.unique(labels))
        count = len(images) if limit is None else min(limit, len(images))
        for index in range(count):
            label = None
            if labels is not None:
                value = int(labels[index])
                label = names[value] if names and 0 <= value < len(names) else str(value)
            plan.items.append(ImportItem(
                display=f"{npz_path.name}:{image_key}[{index}]", label=label, split=split,
                array=ArrayRef(key=image_key, index=index),
            ))
    if names:
        plan.declared_classes = list(names)
        unnamed = sorted(v for v in values if not 0 <= v < len(names))
        if unnamed:
            plan.warnings.append(f"{npz_path}: label values {unnamed} have no class name; named by their value")
    else:
        plan.declared_classes = [str(v) for v in sorted(values)]
    plan.arrays = arrays
    plan.npz_sha256 = sha256_file(npz_path)
    return plan


# -- helpers ---------------------------------------------------------------------------
def _csv_rows(text: str, dialect: Any, plan: ImportPlan, csv_path: Path) -> list[tuple[int, list[str]]]:
    """``(line number, cells)`` of every parsable row; unparsable rows are recorded as skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), dialect)  # quoted line breaks stay in their cell
    rows: list[tuple[int, list[str]]] = []
    while True:
        line_before = reader.line_num
        try:
            row = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            plan.skipped.append((f"{csv_path}:{reader.line_num}", f"row {reader.line_num}: not valid CSV ({exc})"))
            if reader.line_num == line_before:  # no progress: give up on the rest
                return rows
            continue
        rows.append((reader.line_num, row))


def checked_class_names(names: Sequence[str] | None) -> list[str] | None:
    """Class names given by the user (``--class-names a,b``), stripped; ``ValueError`` (one line) for an
    empty name, a duplicate or a name with a line break, so nothing is written with them."""
    if names is None:
        return None
    cleaned = [str(name).strip() for name in names]
    for position, name in enumerate(cleaned, start=1):
        if not name:
            raise ValueError(f"empty class name at position {position} of {len(cleaned)}"
                             " (give one name per label value, e.g. normal,pneumonia)")
        if _breaks_line(name):
            raise ValueError(f"class name {name!r} contains a line break")
        if name in cleaned[:position - 1]:
            raise ValueError(f"duplicate class name {name!r} (each label value needs its own name)")
    return cleaned


def _breaks_line(text: str) -> bool:
    """True when ``text`` holds a line break or another control character."""
    return any(ch in _LINE_BREAKS or (ord(ch) < 32 and ch != "\t") for ch in text)


_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def _cell(row: list[str], index: int) -> str:
    """A stripped CSV cell, "" when the column is absent (index -1) or the row is short."""
    return row[index].strip() if 0 <= index < len(row) else ""


def _npz_image_problem(images: np.ndarray) -> str | None:
    if images.dtype not in (np.uint8, np.uint16):
        return f"images must be uint8 or uint16, got {images.dtype}"
    if images.ndim == 3 or (images.ndim == 4 and images.shape[-1] in (1, 3)):
        return None
    return f"images must have shape (N, H, W) or (N, H, W, 1|3), got {images.shape}"


def _series_item(folder: Path, plan: ImportPlan, line_number: int) -> ImportItem | None:
    from medtl_gui.core.imaging import find_series

    series = find_series(folder, recursive=True)
    if len(series) != 1:
        plan.skipped.append((str(folder), f"row {line_number}: a folder must hold exactly one DICOM series,"
                                          f" found {len(series)}"))
        return None
    files = sorted(Path(f).resolve() for f in series[0].files)
    return ImportItem(display=str(folder), files=files, series_uid=series[0].uid if len(files) > 1 else None)


def _add_file_item(plan: ImportPlan, file: Path, *, label: str | None) -> None:
    from medtl_gui.core.imaging import is_supported_path

    if is_supported_path(file):
        plan.items.append(ImportItem(display=str(file), files=[file], label=label))
    else:
        plan.skipped.append((str(file), "not a supported scan file"))


def _looks_like_class_folders(source: Path, subdirs: list[Path]) -> bool:
    """True when (most) sub-folders hold scan files directly and none holds a multi-file DICOM series."""
    if not subdirs:
        return False
    if len(_scan_files(source)) > len(subdirs):
        return False
    with_images = 0
    for folder in subdirs:
        files = _scan_files(folder)
        if not files:
            continue
        if any(_looks_dicom(f) for f in files):
            from medtl_gui.core.imaging import find_series

            if any(s.n_files > 1 for s in find_series(folder, recursive=False)):
                return False
        with_images += 1
    return with_images > 0 and with_images * 2 >= len(subdirs)


def _scan_files(folder: Path) -> list[Path]:
    from medtl_gui.core.imaging import is_supported_path

    return [f for f in _visible_files(folder) if is_supported_path(f)]


def _looks_dicom(path: Path) -> bool:
    suffix = path.suffix.lower()
    return suffix in _DICOM_EXTENSIONS or suffix == "" or suffix[1:].isdigit()


def _visible_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError:
        return []


def _visible_subdirs(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _stem(path: Path) -> str:
    name = path.name
    return name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else path.stem


def _case_id(path: Path) -> str:
    """The leading token of a file stem (``21_training_mask`` -> ``21``)."""
    return re.split(r"[_\-\s.]", _stem(path), maxsplit=1)[0]


def _limited(items: list[ImportItem], limit: int | None) -> list[ImportItem]:
    return items if limit is None else items[: max(0, limit)]
