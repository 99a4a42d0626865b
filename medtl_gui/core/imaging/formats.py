"""Which files MedTL can read, and which reader handles each one.

The reader is chosen from the file name's extension; files with an unknown
extension (DICOM exports often have none, e.g. ``IM000123``) are recognised
by their first bytes (the ``DICM`` marker of a DICOM Part 10 file, the
signatures of PNG/JPEG/GIF/BMP/TIFF, the NIfTI header).
"""

from __future__ import annotations

import os
from pathlib import Path

#: reader family -> file name endings it handles (lower case, with the dot)
EXTENSIONS_BY_FORMAT: dict[str, tuple[str, ...]] = {
    "dicom": (".dcm", ".dicom", ".dic", ".ima"),
    "volume": (".nii", ".nii.gz", ".mha", ".mhd", ".nrrd", ".nhdr"),
    "raster": (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".bmp"),
}

#: every file name ending MedTL reads (DICOM files without an extension are
#: recognised by content, see :func:`detect_format`)
SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(
    ext for exts in EXTENSIONS_BY_FORMAT.values() for ext in exts
)

_DICOM_MAGIC_OFFSET = 128
_RASTER_SIGNATURES: tuple[bytes, ...] = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",
    b"GIF89a",
    b"BM",  # BMP
    b"II*\x00",  # little-endian TIFF
    b"MM\x00*",  # big-endian TIFF
    b"II+\x00",  # BigTIFF
    b"MM\x00+",
)


def extension_of(path: str | os.PathLike) -> str:
    """The supported-extension spelling of ``path``'s ending (``.nii.gz`` kept whole)."""
    name = Path(path).name.lower()
    if name.endswith(".nii.gz"):
        return ".nii.gz"
    return Path(name).suffix


def format_from_extension(path: str | os.PathLike) -> str | None:
    """Reader family (``"dicom"``, ``"volume"``, ``"raster"``) for the extension, or None."""
    ext = extension_of(path)
    for family, exts in EXTENSIONS_BY_FORMAT.items():
        if ext in exts:
            return family
    return None


def _read_head(path: str | os.PathLike, n_bytes: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(n_bytes)
    except OSError:
        return b""


def has_dicom_marker(path: str | os.PathLike) -> bool:
    """True when the file carries the DICOM Part 10 ``DICM`` marker at byte 128."""
    head = _read_head(path, _DICOM_MAGIC_OFFSET + 4)
    return head[_DICOM_MAGIC_OFFSET : _DICOM_MAGIC_OFFSET + 4] == b"DICM"


def format_from_content(path: str | os.PathLike) -> str | None:
    """Reader family guessed from the file's first bytes, or None when unknown."""
    head = _read_head(path, 352)
    if head[_DICOM_MAGIC_OFFSET : _DICOM_MAGIC_OFFSET + 4] == b"DICM":
        return "dicom"
    if any(head.startswith(sig) for sig in _RASTER_SIGNATURES):
        return "raster"
    # NIfTI-1 single file: magic "n+1\0" at offset 344
    if len(head) >= 348 and head[344:348] in (b"n+1\x00", b"ni1\x00"):
        return "volume"
    return None


def detect_format(path: str | os.PathLike) -> str | None:
    """Reader family for a file: by extension first, then by content; None if unknown."""
    return format_from_extension(path) or format_from_content(path)


def is_supported_path(path: str | os.PathLike) -> bool:
    """True when :func:`read_scan` would try to read ``path``.

    That is a folder (read as a DICOM series), a file with one of
    :data:`SUPPORTED_EXTENSIONS`, or a file whose content is recognised
    (e.g. an extension-less DICOM file). It says nothing about whether the
    content is valid: reading may still raise ``ScanReadError``.
    """
    p = Path(path)
    if p.is_dir():
        return True
    if format_from_extension(p) is not None:
        return True
    return p.is_file() and format_from_content(p) is not None
