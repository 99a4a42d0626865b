"""Transfer-syntax knowledge and the few decoders MedTL adds to pydicom's.

pydicom 3.0 (with the installed python-gdcm, pylibjpeg-openjpeg and pyjpegls
plugins) decodes most compressed pixel data. This module covers the gaps
that real files hit, each one checked against an uncompressed twin:

- *Deflated Image Frame Compression* (1.2.840.10008.1.2.8.1, new in DICOM
  2024, unknown to pydicom 3.0): each frame is a raw-deflate (RFC 1951)
  stream of the natively encoded frame.
- *RLE Lossless* with 1 bit allocated (segmentations): each frame's single
  RLE segment holds the bit-packed frame; pydicom only handles multiples
  of 8 bits.
- 12-bit *JPEG Extended* (lossy CT/NM): pydicom's plugins refuse it (the
  pylibjpeg-libjpeg plugin that would decode it is GPL-licensed and not
  installed), but GDCM's full-file reader decodes it. It returns *stored*
  values, so the modality LUT is still applied in one place by MedTL.

It also names transfer syntaxes and the plugin that would decode them, so
that an error says what is missing rather than "cannot decode".
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

#: Deflated Image Frame Compression (DICOM 2024, Supplement 244)
DEFLATED_IMAGE_FRAME_COMPRESSION = "1.2.840.10008.1.2.8.1"
RLE_LOSSLESS = "1.2.840.10008.1.2.5"
JPEG_EXTENDED_12BIT = "1.2.840.10008.1.2.4.51"

#: names of transfer syntaxes that pydicom 3.0 does not know yet
_EXTRA_NAMES: dict[str, str] = {
    DEFLATED_IMAGE_FRAME_COMPRESSION: "Deflated Image Frame Compression",
    "1.2.840.10008.1.2.4.110": "JPEG XL Lossless",
    "1.2.840.10008.1.2.4.111": "JPEG XL JPEG Recompression",
    "1.2.840.10008.1.2.4.112": "JPEG XL",
}

_VIDEO_PREFIX = "1.2.840.10008.1.2.4.10"  # .100-.108: MPEG-2, MPEG-4, HEVC

#: what would decode a transfer syntax that the installed plugins cannot
_DECODER_HINTS: dict[str, str] = {
    JPEG_EXTENDED_12BIT: (
        "12-bit JPEG Extended needs the pylibjpeg-libjpeg plugin (GPL-3.0, "
        "deliberately not installed) and GDCM could not decode it either"
    ),
    "1.2.840.10008.1.2.4.110": "no JPEG XL decoder is available to pydicom 3.0",
    "1.2.840.10008.1.2.4.111": "no JPEG XL decoder is available to pydicom 3.0",
    "1.2.840.10008.1.2.4.112": "no JPEG XL decoder is available to pydicom 3.0",
    "1.2.840.10008.1.2.4.92": "JPEG 2000 Part 2 multi-component data has no decoder in pydicom 3.0",
    "1.2.840.10008.1.2.4.93": "JPEG 2000 Part 2 multi-component data has no decoder in pydicom 3.0",
    "1.2.840.10008.1.2.4.94": "JPIP-referenced pixel data lives on a server; MedTL works offline",
    "1.2.840.10008.1.2.4.95": "JPIP-referenced pixel data lives on a server; MedTL works offline",
}


def transfer_syntax_name(uid: str) -> str:
    """Human name of a transfer syntax UID (the UID itself when unknown)."""
    from pydicom.uid import UID

    uid = str(uid)
    if uid in _EXTRA_NAMES:
        return _EXTRA_NAMES[uid]
    name = UID(uid).name
    return name if name and name != uid else uid


def transfer_syntax_label(uid: str) -> str:
    """``"Name (UID)"`` for error messages and summaries."""
    name = transfer_syntax_name(uid)
    return f"{name} ({uid})" if name != str(uid) else str(uid)


def decoder_hint(uid: str) -> str | None:
    """What would decode ``uid`` when the installed plugins cannot, or None."""
    uid = str(uid)
    if uid in _DECODER_HINTS:
        return _DECODER_HINTS[uid]
    if uid.startswith(_VIDEO_PREFIX) and len(uid) == len(_VIDEO_PREFIX) + 1:
        return "video (MPEG/HEVC) pixel data; export the frames as images to use them"
    try:
        from pydicom.pixels import get_decoder

        missing = get_decoder(uid).missing_dependencies
    except Exception:  # no decoder at all for this UID
        return None
    return f"plugins not installed: {'; '.join(missing)}" if missing else None


def frame_fragments(ds: Dataset, n_frames: int) -> list[bytes]:
    """The encoded frames of encapsulated Pixel Data, one ``bytes`` per frame."""
    from pydicom.encaps import generate_frames

    frames = list(generate_frames(ds.PixelData, number_of_frames=n_frames))
    if len(frames) != n_frames:
        raise ValueError(f"found {len(frames)} encoded frames, expected {n_frames}")
    return frames


def inflate_frame(data: bytes, expected_bytes: int) -> bytes:
    """Inflate one raw-deflate (RFC 1951) frame, refusing output beyond ``expected_bytes``.

    The limit keeps a crafted file from inflating into gigabytes. A frame
    that inflates to fewer bytes than expected raises ``ValueError``.
    """
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    out = inflater.decompress(data, expected_bytes)
    if len(out) < expected_bytes:
        raise ValueError(
            f"deflated frame holds {len(out)} bytes, expected {expected_bytes}"
        )
    return out


def decode_packbits(segment: bytes, expected_bytes: int) -> bytes:
    """Decode one DICOM RLE segment (PackBits, PS3.5 G.3.2) into ``expected_bytes``.

    A header byte n in 0..127 copies the next n+1 bytes; n in -127..-1
    repeats the next byte 1-n times; -128 is a no-op. Raises ``ValueError``
    when the segment ends early or produces too few bytes.
    """
    out = bytearray()
    pos, size = 0, len(segment)
    while pos < size and len(out) < expected_bytes:
        header = segment[pos]
        pos += 1
        if header < 128:  # literal run of header+1 bytes
            count = header + 1
            if pos + count > size:
                raise ValueError("RLE segment ends inside a literal run")
            out += segment[pos : pos + count]
            pos += count
        elif header > 128:  # replicate next byte 257-header times
            if pos >= size:
                raise ValueError("RLE segment ends inside a replicate run")
            out += bytes((segment[pos],)) * (257 - header)
            pos += 1
    if len(out) < expected_bytes:
        raise ValueError(f"RLE segment decodes to {len(out)} bytes, expected {expected_bytes}")
    return bytes(out[:expected_bytes])


def unpack_bit_frames(frames: list[bytes], rows: int, columns: int) -> np.ndarray:
    """Unpack bit-packed frames (1 bit allocated, LSB first) to a (frames, rows, cols) uint8 array."""
    from pydicom.pixels.utils import unpack_bits

    n_pixels = rows * columns
    out = np.empty((len(frames), rows, columns), dtype=np.uint8)
    for index, frame in enumerate(frames):
        out[index] = unpack_bits(frame)[:n_pixels].reshape(rows, columns)
    return out


def decode_rle_1bit(ds: Dataset, rows: int, columns: int, n_frames: int) -> np.ndarray:
    """Decode RLE Lossless Pixel Data with 1 bit allocated to (frames, rows, cols) uint8 0/1."""
    import struct

    packed_bytes = (rows * columns + 7) // 8
    decoded: list[bytes] = []
    for frame in frame_fragments(ds, n_frames):
        if len(frame) < 64:
            raise ValueError("RLE frame is shorter than its 64-byte header")
        n_segments = struct.unpack("<L", frame[:4])[0]
        if n_segments != 1:
            raise ValueError(f"RLE frame has {n_segments} segments, expected 1 for 1-bit data")
        offset = struct.unpack("<L", frame[4:8])[0]
        decoded.append(decode_packbits(frame[offset:], packed_bytes))
    return unpack_bit_frames(decoded, rows, columns)


def decode_deflated_frames(
    ds: Dataset,
    *,
    rows: int,
    columns: int,
    n_frames: int,
    samples: int,
    bits_allocated: int,
    pixel_representation: int,
    planar_configuration: int,
) -> np.ndarray:
    """Decode Deflated Image Frame Compression to stored values.

    Returns (frames, rows, cols) or (frames, rows, cols, samples), the same
    layout as native (uncompressed) little-endian pixel data would give.
    """
    if bits_allocated == 1:
        if samples != 1:
            raise ValueError("1-bit pixel data must have 1 sample per pixel")
        frame_bytes = (rows * columns + 7) // 8
        frames = [inflate_frame(f, frame_bytes) for f in frame_fragments(ds, n_frames)]
        return unpack_bit_frames(frames, rows, columns)
    if bits_allocated not in (8, 16, 32, 64):
        raise ValueError(f"unsupported Bits Allocated {bits_allocated} for deflated frames")
    kind = "i" if pixel_representation == 1 else "u"
    dtype = np.dtype(f"<{kind}{bits_allocated // 8}")
    frame_bytes = rows * columns * samples * dtype.itemsize
    raw = b"".join(inflate_frame(f, frame_bytes) for f in frame_fragments(ds, n_frames))
    arr = np.frombuffer(raw, dtype=dtype)
    if samples == 1:
        return arr.reshape(n_frames, rows, columns)
    if planar_configuration == 1:  # RRR...GGG...BBB per frame
        return np.ascontiguousarray(
            arr.reshape(n_frames, samples, rows, columns).transpose(0, 2, 3, 1)
        )
    return arr.reshape(n_frames, rows, columns, samples)


def minimal_pixel_file(ds: Dataset, *, rows: int, columns: int, n_frames: int, bits_allocated: int,
                       bits_stored: int, pixel_representation: int, transfer_syntax: str) -> bytes:
    """A new Part 10 file holding only the validated Image Pixel module and the encoded Pixel Data.

    GDCM's own parser aborts the process on some malformed elements (an
    attribute whose VR it does not expect); it is only ever given this
    clean re-encoding, never the original file.
    """
    import io

    from pydicom.dataset import Dataset as PydicomDataset
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    clean = PydicomDataset()
    clean.file_meta = meta
    clean.SOPClassUID = meta.MediaStorageSOPClassUID
    clean.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    clean.Rows, clean.Columns = rows, columns
    clean.SamplesPerPixel = 1
    clean.PhotometricInterpretation = "MONOCHROME2"
    clean.BitsAllocated, clean.BitsStored, clean.HighBit = bits_allocated, bits_stored, bits_stored - 1
    clean.PixelRepresentation = pixel_representation
    if n_frames > 1:
        clean.NumberOfFrames = n_frames
    clean.PixelData = bytes(ds.PixelData)
    clean["PixelData"].VR = "OB"
    clean["PixelData"].is_undefined_length = True
    buffer = io.BytesIO()
    clean.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def decode_with_gdcm(
    ds: Dataset,
    *,
    rows: int,
    columns: int,
    n_frames: int,
    bits_allocated: int,
    bits_stored: int,
    pixel_representation: int,
    transfer_syntax: str,
) -> np.ndarray:
    """Decode monochrome encapsulated pixels with GDCM's own reader; stored values, (frames, rows, cols).

    Used only when pydicom's plugins report that they do not support the
    encoding. GDCM reads a clean re-encoding (:func:`minimal_pixel_file`),
    not the original file. Raises ``ValueError`` when GDCM fails or returns
    an image whose size or pixel format differs from the DICOM header.
    """
    import os
    import tempfile

    try:
        import gdcm  # python-gdcm
    except ImportError as exc:  # pragma: no cover - python-gdcm is a dependency
        raise ValueError("python-gdcm is not installed") from exc

    data = minimal_pixel_file(ds, rows=rows, columns=columns, n_frames=n_frames, bits_allocated=bits_allocated,
                              bits_stored=bits_stored, pixel_representation=pixel_representation,
                              transfer_syntax=transfer_syntax)
    fd, temp_name = tempfile.mkstemp(prefix="medtl-gdcm-", suffix=".dcm")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        reader = gdcm.ImageReader()
        reader.SetFileName(temp_name)
        if not reader.Read():
            raise ValueError("GDCM could not read the pixel data")
        image = reader.GetImage()
        return _gdcm_stored_values(image, rows=rows, columns=columns, n_frames=n_frames,
                                   bits_allocated=bits_allocated, pixel_representation=pixel_representation)
    finally:
        os.unlink(temp_name)


def _gdcm_stored_values(
    image, *, rows: int, columns: int, n_frames: int, bits_allocated: int, pixel_representation: int  # noqa: ANN001
) -> np.ndarray:
    """The buffer of a GDCM image as stored values, after checking it matches the header."""
    fmt = image.GetPixelFormat()
    dims = list(image.GetDimensions())
    got_frames = dims[2] if len(dims) > 2 else 1
    if fmt.GetSamplesPerPixel() != 1 or dims[:2] != [columns, rows] or got_frames != n_frames:
        raise ValueError("GDCM returned an image whose size differs from the DICOM header")
    if fmt.GetBitsAllocated() != bits_allocated:
        raise ValueError("GDCM returned a different pixel size than the DICOM header")
    kind = "i" if pixel_representation == 1 else "u"
    dtype = np.dtype(f"<{kind}{bits_allocated // 8}")
    buffer = image.GetBuffer()
    if not buffer:
        raise ValueError("GDCM could not decode the pixel data")
    if isinstance(buffer, str):  # python-gdcm hands char* back as str
        buffer = buffer.encode("utf-8", "surrogateescape")
    expected = rows * columns * n_frames * dtype.itemsize
    if len(buffer) != expected:
        raise ValueError(f"GDCM returned {len(buffer)} bytes, expected {expected}")
    return np.frombuffer(buffer, dtype=dtype).reshape(n_frames, rows, columns).copy()
