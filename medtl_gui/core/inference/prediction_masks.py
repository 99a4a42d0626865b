"""Segmentation predictions of scan files written as mask files (PNG, NIfTI or DICOM SEG) plus a CSV.

Used by ``medtl predict FILES/FOLDERS --run SEG_RUN --masks-dir DIR
--mask-format png|nifti|dicom-seg`` and by the GUI's batch prediction.
Each scan (a file, or a DICOM series as one scan) is predicted with the
run's sliding-window inference (a volume slice by slice) and its mask is
written next to the others:

- ``png``: 8-bit grey, values = label numbers (1 = the run's first label);
  2D scans only.
- ``nifti``: the scan's size, spacing, origin and direction (overlays in
  ITK-SNAP / 3D Slicer); 2D and volumes.
- ``dicom-seg``: a DICOM Segmentation referencing the source instances;
  DICOM sources only.

A scan that cannot be read or written gets a row with the reason; the
others are still predicted. Mask values are the run's label numbers
(0 background, ``k`` the ``k``-th label name).
"""

from __future__ import annotations

import csv
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medtl_gui.core.inference.prediction import ScanToPredict

#: mask file formats a segmentation prediction can be written in
MASK_FORMATS = ("png", "nifti", "dicom-seg")
_SUFFIX = {"png": ".png", "nifti": ".nii.gz", "dicom-seg": ".seg.dcm"}


@dataclass
class MaskPredictionRow:
    """One scan's predicted mask file, or why there is none (``error``).

    ``foreground`` maps each label name to its number of predicted pixels.
    """

    source: str
    patient_id: str | None = None
    study_uid: str | None = None
    series_uid: str | None = None
    mask_file: str | None = None
    shape: tuple[int, ...] = ()
    foreground: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the mask was written."""
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"source": self.source, "patient_id": self.patient_id, "study_uid": self.study_uid,
                "series_uid": self.series_uid, "mask_file": self.mask_file, "shape": list(self.shape),
                "foreground": self.foreground, "error": self.error}


def check_mask_format(mask_format: str) -> str:
    """``mask_format`` if it is one of :data:`MASK_FORMATS`; ``ValueError`` naming the choices otherwise."""
    if mask_format not in MASK_FORMATS:
        raise ValueError(f"unknown mask format {mask_format!r}; choose one of {', '.join(MASK_FORMATS)}")
    return mask_format


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _mask_name(source: str, mask_format: str, used: set[str]) -> str:
    """A file name for the mask of ``source`` (its stem + format suffix), unique within ``used``."""
    name = os.path.basename(source.rstrip("/\\")) or "scan"
    for suffix in (".nii.gz", ".dcm", ".nii", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".mha", ".mhd", ".nrrd"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "scan"
    candidate, counter = f"{stem}_mask{_SUFFIX[mask_format]}", 1
    while candidate.lower() in used:
        counter += 1
        candidate = f"{stem}_{counter}_mask{_SUFFIX[mask_format]}"
    used.add(candidate.lower())
    return candidate


def predict_scan_mask(predictor: Any, scan: Any) -> np.ndarray:
    """Label numbers (uint8) of a scan: (y, x) for a 2D image, (z, y, x) slice by slice for a volume."""
    from medtl_gui.core.data.segmentation import ImagePlane

    pixels = np.asarray(scan.pixels)
    window = getattr(scan, "window", None)
    if getattr(scan, "n_frames", 1) > 1:
        return np.stack([predictor.predict_plane(ImagePlane(pixels[z], window))[0] for z in range(pixels.shape[0])])
    return predictor.predict_plane(ImagePlane(pixels, window))[0]


def write_mask_file(path: Path, mask: np.ndarray, scan: Any, source: ScanToPredict, mask_format: str,
                    label_names: Sequence[str], algorithm: str) -> Path:
    """Write ``mask`` of ``scan`` in ``mask_format``; :class:`~medtl_gui.core.masks.MaskFormatError` if it cannot."""
    from medtl_gui.core.masks import MaskFormatError, write_dicom_seg, write_mask_nifti, write_mask_png

    if mask_format == "png":
        if mask.ndim != 2:
            raise MaskFormatError(path, f"PNG masks are 2D but this scan has {mask.shape[0]} slices; "
                                        "choose nifti or dicom-seg")
        return write_mask_png(path, mask)
    if mask_format == "nifti":
        return write_mask_nifti(path, mask, scan)
    if getattr(scan, "kind", "") not in ("dicom-file", "dicom-series"):
        raise MaskFormatError(path, f"a DICOM SEG needs DICOM source images, but this scan is a {scan.kind} file; "
                                    "choose png or nifti")
    files = list(source.files) or [scan.path]
    labels = [(number, name) for number, name in enumerate(label_names, start=1)]
    return write_dicom_seg(path, mask, files, labels, sop_order=list(scan.sop_uids) or None, algorithm=algorithm)


def iter_mask_predictions(
    trained: Any,
    scans: Iterable[ScanToPredict],
    masks_dir: str | os.PathLike,
    mask_format: str = "png",
    *,
    device: str = "auto",
    flips: bool = False,
    cancel: threading.Event | None = None,
) -> Iterator[MaskPredictionRow]:
    """Predict and write the mask of each scan in order (stops between scans when ``cancel`` is set)."""
    from medtl_gui.core.inference.segmentation_predict import SegmentationPredictor

    check_mask_format(mask_format)
    folder = Path(masks_dir)
    folder.mkdir(parents=True, exist_ok=True)
    predictor = SegmentationPredictor(trained, device, flips)
    used = {p.name.lower() for p in folder.iterdir()}
    algorithm = f"MedTL {trained.config.model} run {trained.run_id}"
    for source in scans:
        if cancel is not None and cancel.is_set():
            return
        row = MaskPredictionRow(source.source, source.patient_id, source.study_uid, source.series_uid)
        try:
            scan = source.load()
        except Exception as exc:  # noqa: BLE001 - any reader failure is reported for this scan only
            row.error = f"unreadable: {_one_line(exc)}"
            yield row
            continue
        for name in ("patient_id", "study_uid", "series_uid"):
            if getattr(row, name) is None:
                setattr(row, name, getattr(scan, name, None))
        try:
            mask = predict_scan_mask(predictor, scan)
        except Exception as exc:  # noqa: BLE001 - e.g. pixels that cannot become a 2D plane
            row.error = f"cannot be used as model input: {_one_line(exc)}"
            yield row
            continue
        row.shape = tuple(int(n) for n in mask.shape)
        row.foreground = {name: int(np.count_nonzero(mask == number))
                          for number, name in enumerate(trained.label_names, start=1)}
        try:
            path = write_mask_file(folder / _mask_name(source.source, mask_format, used), mask, scan, source,
                                   mask_format, trained.label_names, algorithm)
            row.mask_file = str(path)
        except Exception as exc:  # noqa: BLE001 - MaskFormatError, or a library refusing the sources
            row.error = f"mask not written: {_one_line(exc)}"
        yield row


def mask_prediction_columns(label_names: Sequence[str]) -> list[str]:
    """CSV header of mask predictions: identifiers, mask file, shape, pixels per label, status, error."""
    return (["path", "patient_id", "study_uid", "series_uid", "mask_file", "shape"]
            + [f"pixels_{name}" for name in label_names] + ["status", "error"])


def write_mask_predictions_csv(path: str | os.PathLike, rows: Sequence[MaskPredictionRow],
                               label_names: Sequence[str], skipped: Sequence[tuple[str, str]] = ()) -> Path:
    """Write the rows (and ``skipped`` paths with reasons) as CSV, atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = mask_prediction_columns(label_names)
    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(columns)
        for row in rows:
            values = [row.source, row.patient_id, row.study_uid, row.series_uid, row.mask_file,
                      "x".join(str(n) for n in row.shape)]
            values += [row.foreground.get(name) if row.ok else None for name in label_names]
            values += ["ok" if row.ok else "skipped", row.error or ""]
            writer.writerow(["" if v is None else v for v in values])
        for source, reason in skipped:
            writer.writerow([source] + [""] * (len(columns) - 3) + ["skipped", reason])
    os.replace(temp, path)
    return path

