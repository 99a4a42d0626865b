"""`describe()`: a JSON-friendly summary of a scan or DICOM folder (what `medtl read` prints)."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from medtl_gui.core.imaging.reader import read_scan, scan_errors_as_read_errors
from medtl_gui.core.imaging.scan import Scan
from medtl_gui.core.imaging.windowing import default_window

#: metadata keys copied into the summary when present
_METADATA_KEYS = (
    "transfer_syntax_uid",
    "transfer_syntax",
    "photometric_interpretation",
    "photometric_out",
    "sop_class",
    "series_description",
    "decoder",
    "modality_lut",
    "pixel_spacing_source",
    "image_io",
    "format",
    "mode",
)


def to_plain(value: Any) -> Any:
    """``value`` with numpy scalars, tuples and non-finite floats made JSON-safe."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _value_range(pixels: np.ndarray) -> tuple[float | None, float | None]:
    if pixels.size == 0:
        return None, None
    if pixels.dtype.kind == "f":
        finite = pixels[np.isfinite(pixels)]
        if finite.size == 0:
            return None, None
        return float(finite.min()), float(finite.max())
    return pixels.min().item(), pixels.max().item()


def scan_summary(scan: Scan) -> dict[str, Any]:
    """The summary fields of one read scan."""
    low, high = _value_range(scan.pixels)
    summary: dict[str, Any] = {
        "path": scan.path,
        "kind": scan.kind,
        "modality": scan.modality,
        "shape": list(scan.shape),
        "dtype": str(scan.pixels.dtype),
        "is_color": scan.is_color,
        "n_frames": scan.n_frames,
        "spacing": list(scan.spacing),
        "origin": list(scan.origin),
        "direction": list(scan.direction),
        "min": low,
        "max": high,
        "window": list(scan.window) if scan.window else None,
        "default_window": list(default_window(scan)),
    }
    if scan.series_uid:
        summary["series_uid"] = scan.series_uid
    if scan.sop_uids:
        summary["n_instances"] = len(scan.sop_uids)
    for key in _METADATA_KEYS:
        if key in scan.metadata:
            summary[key] = scan.metadata[key]
    summary["warnings"] = list(scan.metadata.get("warnings", []))
    return summary


def describe(path: str | os.PathLike, series_uid: str | None = None) -> dict[str, Any]:
    """Summary of a scan file or folder; JSON-serialisable (plain numbers, strings, lists).

    Keys: path, kind, modality, shape, dtype, spacing, origin, direction,
    min, max, n_frames, window (the file's), default_window, and when they
    apply transfer_syntax(_uid), photometric_interpretation, decoder,
    warnings. For a folder also ``series`` (uid, description, modality,
    n_files for each) and ``skipped`` (number of other files); a folder
    with several series and no ``series_uid`` gets only the listing, with
    kind ``"dicom-folder"``. Raises ``ScanReadError`` like :func:`read_scan`.
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        return to_plain(scan_summary(read_scan(path, series_uid)))

    with scan_errors_as_read_errors(path):
        return to_plain(_describe_folder(path, series_uid))


def _describe_folder(path: str, series_uid: str | None) -> dict[str, Any]:
    from medtl_gui.core.imaging.dicom_series import DicomFolder

    folder = DicomFolder(path, recursive=True, with_pixels=True)
    listing = folder.listing()
    info: dict[str, Any] = {
        "path": path,
        "kind": "dicom-folder",
        "series": [s.as_dict() for s in listing],
        "skipped": len(listing.skipped),
        "skipped_examples": [{"path": p, "reason": r} for p, r in listing.skipped[:5]],
    }
    if series_uid is None and len(listing) > 1:
        info["note"] = f"{len(listing)} series found; choose one with its series UID"
        return info
    info.update(scan_summary(folder.read(series_uid)))
    return info
