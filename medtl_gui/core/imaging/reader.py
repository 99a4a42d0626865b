""":func:`read_scan`: the one entry point that reads any supported input into a :class:`Scan`."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from medtl_gui.core.imaging.errors import ScanReadError
from medtl_gui.core.imaging.formats import (
    SUPPORTED_EXTENSIONS,
    extension_of,
    format_from_content,
    format_from_extension,
)
from medtl_gui.core.imaging.scan import Scan

_log = logging.getLogger(__name__)


def _reader_family(path: str) -> str:
    """Which reader handles ``path``: content signature first, then extension."""
    family = format_from_content(path) or format_from_extension(path)
    if family is not None:
        return family
    if extension_of(path) == "":
        return "dicom"  # DICOM exports often have no extension (and old ones no preamble)
    raise ScanReadError(
        path,
        f"unsupported file type (extension {extension_of(path)}); "
        f"supported: {', '.join(SUPPORTED_EXTENSIONS)}, DICOM files without extension and folders",
    )


def _read(path: str, series_uid: str | None) -> Scan:
    if os.path.isdir(path):
        from medtl_gui.core.imaging.dicom_series import read_dicom_folder

        return read_dicom_folder(path, series_uid)
    if not os.path.exists(path):
        raise ScanReadError(path, "no such file or folder")
    if not os.path.isfile(path):
        raise ScanReadError(path, "not a regular file")
    family = _reader_family(path)
    if family == "dicom":
        from medtl_gui.core.imaging.dicom_file import read_dicom_file

        scan = read_dicom_file(path)
    elif family == "volume":
        from medtl_gui.core.imaging.volume_reader import read_volume

        scan = read_volume(path)
    else:
        from medtl_gui.core.imaging.raster_reader import read_raster

        scan = read_raster(path)
    if series_uid is not None and scan.series_uid != series_uid:
        raise ScanReadError(path, f"file belongs to series {scan.series_uid}, not {series_uid}")
    return scan


def read_scan(path: str | os.PathLike, series_uid: str | None = None) -> Scan:
    """Read a scan file or a DICOM folder into a :class:`Scan`.

    - A DICOM file (single- or multi-frame), NIfTI/MHA/MHD/NRRD volume, or
      PNG/JPEG/TIFF/GIF/BMP image.
    - A folder: its DICOM series (searched recursively). With several
      series, ``series_uid`` picks one; without it ``ScanReadError`` lists
      them (UID, description, modality, number of files).

    Anything that cannot be read (not an image, truncated, corrupt, an
    encoding no installed plugin decodes) raises ``ScanReadError`` naming
    the path and the reason; no other exception escapes.
    """
    path = os.fspath(path)
    with scan_errors_as_read_errors(path):
        return _read(path, series_uid)


@contextmanager
def scan_errors_as_read_errors(path: str) -> Iterator[None]:
    """Turn any exception raised while reading ``path`` into ``ScanReadError``.

    Readers raise ``ScanReadError`` for the failures they anticipate; this
    guard catches the rest (a reader bug, a library error nobody foresaw)
    so that callers only ever handle one exception type.
    """
    try:
        yield
    except ScanReadError:
        raise
    except MemoryError:
        raise ScanReadError(path, "not enough memory to load this scan") from None
    except Exception as exc:
        _log.debug("unexpected error reading %s", path, exc_info=True)
        message = " ".join(str(exc).split())
        reason = f"unexpected error while reading ({type(exc).__name__}: {message})"
        raise ScanReadError(path, reason) from None
