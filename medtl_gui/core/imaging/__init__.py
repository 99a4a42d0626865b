"""Read any supported scan into pixels + geometry + metadata (:class:`Scan`).

Entry points:
- :func:`read_scan` — a DICOM file or series folder, a NIfTI/MHA/MHD/NRRD
  volume, or a PNG/JPEG/TIFF/GIF/BMP image.
- :func:`find_series` — DICOM series in a folder, from headers only.
- :func:`describe` — JSON-friendly summary (what ``medtl read`` prints).
- windowing: :data:`CT_PRESETS`, :func:`auto_window`,
  :func:`default_window`, :func:`apply_window`.

Nothing here imports Qt or torch; heavy readers (pydicom, SimpleITK,
Pillow) are imported when first used.
"""

from medtl_gui.core.imaging.describe import describe
from medtl_gui.core.imaging.dicom_series import SeriesInfo, SeriesListing, find_series
from medtl_gui.core.imaging.errors import ScanReadError
from medtl_gui.core.imaging.formats import SUPPORTED_EXTENSIONS, is_supported_path
from medtl_gui.core.imaging.reader import read_scan
from medtl_gui.core.imaging.scan import Scan
from medtl_gui.core.imaging.windowing import CT_PRESETS, apply_window, auto_window, default_window

__all__ = [
    "CT_PRESETS",
    "SUPPORTED_EXTENSIONS",
    "Scan",
    "ScanReadError",
    "SeriesInfo",
    "SeriesListing",
    "apply_window",
    "auto_window",
    "default_window",
    "describe",
    "find_series",
    "is_supported_path",
    "read_scan",
]
