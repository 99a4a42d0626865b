"""Display windows: CT presets, robust automatic windows, window -> 8-bit image.

A window is ``(center, width)`` in modality units (Hounsfield units for
CT), the DICOM "window level / window width" pair.

CT presets (:data:`CT_PRESETS`), as listed by Radiopaedia, "Windowing (CT)"
(https://radiopaedia.org/articles/windowing-ct), given there as W:width L:level:

=============  ======  =====  ==========================================
preset         center  width  note
=============  ======  =====  ==========================================
brain              40     80  "brain W:80 L:40"
subdural           80    200  Radiopaedia gives W:130-300 L:50-100; 80/200
                              is the subdural window widely used for the
                              RSNA 2019 intracranial haemorrhage data
stroke             40     40  "stroke W:40 L:40" (alternative W:8 L:32)
lung             -600   1500  "lungs W:1500 L:-600"
mediastinum        50    350  "mediastinum W:350 L:50"
abdomen            50    400  "soft tissues W:350-400 L:20-60"
liver              30    150  "liver W:150 L:30"
bone              400   1800  "bones W:1800 L:400"
=============  ======  =====  ==========================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from medtl_gui.core.imaging.scan import Scan

#: name -> (center, width) in Hounsfield units; sources in the module docstring
CT_PRESETS: dict[str, tuple[float, float]] = {
    "brain": (40.0, 80.0),
    "subdural": (80.0, 200.0),
    "stroke": (40.0, 40.0),
    "lung": (-600.0, 1500.0),
    "mediastinum": (50.0, 350.0),
    "abdomen": (50.0, 400.0),
    "liver": (30.0, 150.0),
    "bone": (400.0, 1800.0),
}

#: the CT preset used when a CT file suggests no window
DEFAULT_CT_PRESET = "abdomen"

#: auto_window looks at about this many values at most (evenly strided)
AUTO_WINDOW_SAMPLE = 1_000_000


def _sample(pixels: np.ndarray, max_values: int) -> np.ndarray:
    """About ``max_values`` values taken on a regular grid (strided view, no full copy)."""
    arr = np.asarray(pixels)
    ratio = arr.size / max_values
    if ratio <= 1.0:
        return arr.ravel()
    # stride the spatial axes equally (a trailing RGB axis is kept whole)
    n_axes = arr.ndim - 1 if (arr.ndim >= 3 and arr.shape[-1] == 3) else arr.ndim
    n_axes = max(1, min(n_axes, 3))
    step = int(np.ceil(ratio ** (1.0 / n_axes)))
    return arr[tuple(slice(None, None, step) for _ in range(n_axes))].ravel()


def auto_window(
    pixels: np.ndarray, low_pct: float = 0.5, high_pct: float = 99.5
) -> tuple[float, float]:
    """(center, width) spanning the ``low_pct``..``high_pct`` percentiles of the values.

    Robust to outliers, ignores NaN and infinities, subsamples large volumes
    (at most :data:`AUTO_WINDOW_SAMPLE` values). A constant or empty image
    gets width 1.
    """
    if not 0.0 <= low_pct < high_pct <= 100.0:
        raise ValueError(f"need 0 <= low_pct < high_pct <= 100, got {low_pct}, {high_pct}")
    values = _sample(pixels, AUTO_WINDOW_SAMPLE)
    if values.dtype.kind == "f":
        values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(values.astype(np.float64, copy=False), [low_pct, high_pct])
    low, high = float(low), float(high)
    width = max(high - low, 1.0)
    return (low + high) / 2.0, width


def _modality(scan: Scan) -> str:
    """The scan's modality, upper case ("" when unknown; MetaImage's ``MET_MOD_CT`` is "CT")."""
    modality = (scan.modality or "").strip().upper()
    return modality[len("MET_MOD_"):] if modality.startswith("MET_MOD_") else modality


def value_unit(scan: Scan) -> str:
    """The unit of the scan's grey values where the file states it: "HU", "Gy" or "" (raw values).

    Evidence only, no guessing from the value range: Hounsfield units when
    the modality LUT says so (Rescale Type "HU"), or for modality CT when a
    modality LUT (Rescale Slope/Intercept or LUT) turned stored values into
    modality values; Gy for RT Dose scaled by Dose Grid Scaling in Gy.
    Colour images and everything else (PNG, MR, NIfTI...) have no unit.
    """
    if scan.is_color:
        return ""
    lut = scan.metadata.get("modality_lut") if isinstance(scan.metadata, dict) else None
    lut = lut if isinstance(lut, dict) else {}
    source = str(lut.get("source") or "none")
    rescale_type = str(lut.get("rescale_type") or "").strip().upper()
    if source == "Dose Grid Scaling" or _modality(scan) == "RTDOSE":
        return "Gy" if source == "Dose Grid Scaling" and rescale_type in ("GY", "") else ""
    if rescale_type:
        return "HU" if rescale_type == "HU" else ""
    if _modality(scan) == "CT" and source != "none":
        return "HU"
    return ""


def has_ct_evidence(scan: Scan) -> bool:
    """True when the file says the scan is CT: modality CT, or a modality LUT producing Hounsfield units.

    Only then does a scan open with a CT preset (:func:`default_window`).
    """
    return not scan.is_color and (_modality(scan) == "CT" or value_unit(scan) == "HU")


def spans_hounsfield_range(value_range: tuple[float, float]) -> bool:
    """True when values reach from air (about -1000) to soft tissue, as Hounsfield units do.

    A hint only (e.g. a NIfTI CT volume): CT presets are offered for such a
    scan, but it opens with the automatic window and shows no unit.
    """
    low, high = value_range
    return low <= -900.0 and high >= 0.0


def default_window(scan: Scan) -> tuple[float, float]:
    """The window to show ``scan`` with first.

    The file's own window (DICOM Window Center/Width or VOI LUT, kept in
    ``scan.window``) when present; for CT without one (:func:`has_ct_evidence`:
    modality CT or a modality LUT giving HU), the :data:`DEFAULT_CT_PRESET`
    soft-tissue preset; 8-bit colour images their full range; otherwise
    :func:`auto_window` (robust percentiles), e.g. for a DICOM without a
    Modality tag whose values are not stated to be HU.
    """
    if scan.window is not None:
        return float(scan.window[0]), float(scan.window[1])
    if has_ct_evidence(scan):
        return CT_PRESETS[DEFAULT_CT_PRESET]
    if scan.is_color and scan.pixels.dtype == np.uint8:
        return 127.5, 256.0
    return auto_window(scan.pixels)


def apply_window(pixels: np.ndarray, center: float, width: float) -> np.ndarray:
    """Map values to uint8 display values with the DICOM linear window (PS3.3 C.11.2.1.2.1).

    Values at or below ``center - width/2`` become 0, values above
    ``center + width/2`` become 255, linear in between. NaN becomes 0.
    """
    if not width >= 1.0:
        raise ValueError(f"window width must be at least 1, got {width}")
    arr = np.asarray(pixels)
    # y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255, clipped (DICOM linear function)
    scale = np.float32(255.0 / max(width - 1.0, 1e-6))
    offset = np.float32(center - 0.5 - (width - 1.0) / 2.0)
    out = arr.astype(np.float32)
    out -= offset
    out *= scale
    np.clip(out, 0.0, 255.0, out=out)
    np.nan_to_num(out, copy=False, nan=0.0)
    return np.rint(out).astype(np.uint8)
