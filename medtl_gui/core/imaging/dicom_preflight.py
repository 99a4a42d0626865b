"""Checks on a DICOM file's raw bytes before pydicom parses it.

pydicom inflates a *Deflated Explicit VR Little Endian* data set in one
``zlib.decompress`` call, without any size limit: a few kilobytes can
inflate to gigabytes (a zip bomb). :func:`check_deflated_dataset` streams
the inflation first, counting bytes without keeping them, and refuses a
data set that would expand beyond :mod:`.limits`.
"""

from __future__ import annotations

import os
import struct
import zlib

from medtl_gui.core.imaging.limits import (
    BOMB_FLOOR_BYTES,
    MAX_DECODED_BYTES,
    MAX_EXPANSION_RATIO,
    BoundedFile,
    expansion_problem,
)
from medtl_gui.core.imaging.errors import ScanReadError

DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1.99"
_PREAMBLE = 128
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT"}
_CHUNK = 1 << 20


def file_meta_transfer_syntax(fp: BoundedFile) -> tuple[str | None, int]:
    """(Transfer Syntax UID, offset where the data set starts) from a Part 10 file meta.

    Returns ``(None, 0)`` for a file without the ``DICM`` marker. Reads only
    the group-2 elements (explicit VR little endian by definition).
    """
    fp.seek(0)
    head = fp.read(_PREAMBLE + 4)
    if head[_PREAMBLE:] != b"DICM":
        return None, 0
    syntax: str | None = None
    offset = _PREAMBLE + 4
    while True:
        header = fp.read(8)
        if len(header) < 8 or header[:2] != b"\x02\x00":
            return syntax, offset
        element = struct.unpack("<H", header[2:4])[0]
        vr = header[4:6]
        if vr in _LONG_VRS:
            extra = fp.read(4)
            if len(extra) < 4:
                return syntax, offset
            length = struct.unpack("<I", extra)[0]
            header_size = 12
        else:
            length = struct.unpack("<H", header[6:8])[0]
            header_size = 8
        value = fp.read(length) if element == 0x0010 else b""
        if element == 0x0010:
            syntax = value.decode("ascii", "replace").strip("\x00 ")
        else:
            fp.seek(min(offset + header_size + length, os.fstat(fp.fileno()).st_size))
        offset += header_size + length


def check_deflated_dataset(path: str) -> None:
    """Refuse a deflated data set that would inflate beyond the size limits (streamed, not stored)."""
    with BoundedFile(path) as fp:
        syntax, start = file_meta_transfer_syntax(fp)
        if syntax != DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN:
            return
        stored = max(1, os.fstat(fp.fileno()).st_size - start)
        limit = min(MAX_DECODED_BYTES, max(BOMB_FLOOR_BYTES, MAX_EXPANSION_RATIO * stored))
        fp.seek(start)
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        total = 0
        try:
            while chunk := fp.read(_CHUNK):
                data = chunk
                while data and total <= limit:
                    total += len(inflater.decompress(data, _CHUNK))
                    data = inflater.unconsumed_tail
                if total > limit:
                    break
        except zlib.error as exc:
            raise ScanReadError(path, f"corrupt deflated data set ({exc})") from None
    if total > limit:
        problem = expansion_problem(total, stored, "the deflated data set") or (
            f"the deflated data set inflates beyond {limit} bytes; refused as a possible zip bomb"
        )
        raise ScanReadError(path, problem)
