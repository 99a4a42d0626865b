"""Move a project image's mask in and out of files: PNG, NIfTI or DICOM SEG, chosen by file name.

- ``.png``: 2D images (or one slice of a volume with ``slice_index``).
- ``.nii`` / ``.nii.gz``: the whole image or volume, with the scan's
  geometry; refused when the file's grid differs from the scan's.
- ``.dcm``: DICOM SEG over a DICOM image or series (referencing it);
  segments are the project's segmentation labels, matched by name.

Volumes exchange all slices at once (NIfTI, DICOM SEG); slices without a
mask are written as empty and empty slices are not stored on import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from medtl_gui.core.masks.dicom_seg import read_dicom_seg, write_dicom_seg
from medtl_gui.core.masks.errors import MaskFormatError
from medtl_gui.core.masks.nifti_masks import read_mask_nifti, write_mask_nifti
from medtl_gui.core.masks.png_masks import read_mask_png, write_mask_png

MASK_FILE_FORMATS = {".png": "PNG", ".nii": "NIfTI", ".nii.gz": "NIfTI", ".dcm": "DICOM SEG"}


def mask_format(path: str | os.PathLike) -> str:
    """The format of a mask file from its name; :class:`MaskFormatError` for others."""
    name = Path(path).name.lower()
    for suffix in (".nii.gz", ".nii", ".png", ".dcm"):
        if name.endswith(suffix):
            return MASK_FILE_FORMATS[suffix]
    raise MaskFormatError(path, f"unknown mask format; use one of {', '.join(MASK_FILE_FORMATS)}")


def _full_mask(project: Any, image_id: int, scan: Any) -> np.ndarray:
    record = project.image(image_id)
    if record.n_frames > 1:
        mask = np.zeros((record.n_frames, *record.plane_shape), np.uint8)
        for mask_record in project.mask_records(image_id, kind="label"):
            mask[mask_record.slice_index] = project.mask(image_id, mask_record.slice_index)
        return mask
    mask = project.mask(image_id)
    return np.zeros(record.plane_shape, np.uint8) if mask is None else mask


def _dicom_sources(project: Any, image_id: int, scan: Any, path: Path) -> list[Path]:
    import pydicom

    record = project.image(image_id)
    if not record.kind.startswith("dicom"):
        raise MaskFormatError(path, f"a DICOM SEG needs a DICOM source; image {image_id} is a {record.kind} file")
    location = project.image_path(image_id)
    if location.is_file():
        return [location]
    wanted = set(scan.sop_uids)
    files = []
    for file in sorted(p for p in location.rglob("*") if p.is_file() and not p.name.startswith(".")):
        try:
            uid = str(pydicom.dcmread(file, stop_before_pixels=True, specific_tags=["SOPInstanceUID"]).SOPInstanceUID)
        except Exception:  # noqa: BLE001 - other files in the folder are not sources
            continue
        if uid in wanted:
            files.append(file)
    return files


def export_image_mask(project: Any, image_id: int, path: str | os.PathLike, slice_index: int | None = None) -> Path:
    """Write image ``image_id``'s final mask to ``path`` in the format its name says."""
    path = Path(path)
    fmt = mask_format(path)
    scan = project.read_image(image_id)
    mask = _full_mask(project, image_id, scan)
    if fmt == "PNG":
        if mask.ndim == 3:
            if slice_index is None:
                raise MaskFormatError(path, "a PNG holds one slice: give slice_index, or use NIfTI or DICOM SEG")
            mask = mask[slice_index]
        return write_mask_png(path, mask)
    if fmt == "NIfTI":
        return write_mask_nifti(path, mask, scan)
    labels = [(label.value, label.name) for label in project.seg_labels()]
    return write_dicom_seg(path, mask, _dicom_sources(project, image_id, scan, path), labels,
                           sop_order=scan.sop_uids or None)


def import_image_mask(project: Any, image_id: int, path: str | os.PathLike, slice_index: int | None = None, *,
                      user: str | None = None) -> int:
    """Store the mask in ``path`` as image ``image_id``'s final mask; returns the number of slices stored."""
    path = Path(path)
    fmt = mask_format(path)
    record = project.image(image_id)
    if fmt == "PNG":
        mask = read_mask_png(path, record.plane_shape)
        project.set_mask(image_id, mask, slice_index, origin="import", user=user)
        return 1
    scan = project.read_image(image_id)
    if fmt == "NIfTI":
        mask = read_mask_nifti(path, scan)
    else:
        mask = read_dicom_seg(path, scan.sop_uids, {label.name: label.value for label in project.seg_labels()})
        if record.n_frames == 1:
            mask = mask[0]
    known = {0, *(label.value for label in project.seg_labels())}
    unknown = sorted(set(np.unique(mask).tolist()) - known)
    if unknown:
        raise MaskFormatError(path, f"mask values {unknown} are not segmentation labels of the project")
    if mask.ndim == 2:
        project.set_mask(image_id, mask, None, origin="import", user=user)
        return 1
    stored = 0
    with project.transaction():
        for z in np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1)):
            project.set_mask(image_id, mask[z], int(z), origin="import", user=user)
            stored += 1
    return stored
