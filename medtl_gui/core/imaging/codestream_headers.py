"""The image size that a JPEG, JPEG-LS or JPEG 2000 code stream declares about itself.

GDCM aborts the whole process (an uncaught C++ exception) when a frame's
code stream disagrees with the DICOM header it was given - for instance a
JPEG frame of 4096 x 100 pixels in a file whose header says 100 x 4096, or
a JPEG stream in a file with 32 bits allocated. Before a frame reaches
GDCM, :func:`check_frame_matches_header` compares the two and raises
``ValueError`` on any disagreement, so a corrupt file is refused instead of
killing the program.

CharLS (the JPEG-LS decoder) loops forever on a stream that stops in the
middle of its scan: :func:`ends_with_end_of_image` lets the caller refuse
such a frame first.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

#: start-of-frame markers of JPEG (baseline, extended, progressive, lossless, arithmetic) and JPEG-LS
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RSTn: markers without a length
_J2K_SOC = b"\xff\x4f"
_J2K_SIZ = b"\xff\x51"
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  "


@dataclass(frozen=True)
class CodestreamHeader:
    """What a code stream says about the image it holds."""

    rows: int
    columns: int
    components: int
    precision: int  # bits per sample (the largest, for JPEG 2000)


def jpeg_header(data: bytes) -> CodestreamHeader | None:
    """The frame header (SOFn) of a JPEG or JPEG-LS stream, or None when there is none before the scan."""
    if not data.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _SOF_MARKERS:
            if pos + 10 > len(data):
                return None
            precision = data[pos + 4]
            rows, columns = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return CodestreamHeader(rows, columns, data[pos + 9], precision)
        if marker == 0xDA or length < 2:  # start of scan before any frame header, or a broken length
            return None
        pos += 2 + length
    return None


def j2k_header(data: bytes) -> CodestreamHeader | None:
    """The SIZ marker of a JPEG 2000 code stream (raw or inside a JP2 box), or None."""
    start = data.find(_J2K_SOC) if data.startswith(_JP2_SIGNATURE) else (0 if data.startswith(_J2K_SOC) else -1)
    if start < 0 or data[start + 2 : start + 4] != _J2K_SIZ or start + 42 > len(data):
        return None
    siz = start + 4
    x_size, y_size, x_offset, y_offset = struct.unpack(">IIII", data[siz + 4 : siz + 20])
    (components,) = struct.unpack(">H", data[siz + 36 : siz + 38])
    depths = [(data[siz + 38 + 3 * i] & 0x7F) + 1 for i in range(components) if siz + 38 + 3 * i < len(data)]
    return CodestreamHeader(
        rows=max(0, y_size - y_offset), columns=max(0, x_size - x_offset), components=components,
        precision=max(depths) if depths else 0,
    )


def check_frame_matches_header(
    frame: bytes, *, rows: int, columns: int, samples: int, bits_allocated: int, index: int = 0
) -> None:
    """Raise ``ValueError`` when the frame's own header contradicts the DICOM header (or is missing)."""
    header = jpeg_header(frame) or j2k_header(frame)
    where = f"frame {index + 1}"
    if header is None:
        raise ValueError(f"{where} has no readable JPEG / JPEG-LS / JPEG 2000 frame header")
    if (header.rows, header.columns) != (rows, columns):
        raise ValueError(
            f"{where}'s code stream is {header.rows} x {header.columns} pixels but the DICOM header says "
            f"{rows} x {columns}"
        )
    if header.components != samples:
        raise ValueError(f"{where}'s code stream has {header.components} component(s), the DICOM header {samples}")
    if bits_allocated not in (8, 16) or not 1 <= header.precision <= bits_allocated:
        raise ValueError(
            f"{where}'s code stream holds {header.precision}-bit samples, which do not fit the header's "
            f"{bits_allocated} bits allocated"
        )


def ends_with_end_of_image(frame: bytes) -> bool:
    """True when a JPEG / JPEG-LS frame ends with its EOI marker (``FFD9``; DICOM may pad one 0 byte)."""
    return frame.rstrip(b"\x00").endswith(b"\xff\xd9")
