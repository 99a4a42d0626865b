"""Format-aware mutations: the header fields readers trust, changed to hostile values.

Byte flips alone rarely get past a PNG's CRCs or a DICOM parser's sanity
checks; these mutators keep a file well-formed enough to reach the code that
allocates and decodes:

- DICOM: pixel-module values (Rows, Columns, Number of Frames, Bits
  Allocated, Photometric Interpretation, the transfer syntax ...), geometry
  and rescale values, removed elements and truncated Pixel Data (through
  pydicom); element VRs and lengths (0xFFFFFFFF, 0xFFFFFFF0 ...) in the raw bytes.
- PNG: IHDR fields and chunk payloads with recomputed CRCs; huge
  compressed text chunks; re-deflated, mutated image data.
- TIFF: IFD entry values (size, bits, compression, strip offsets and counts).
- NIfTI: ``dim``, ``datatype``, ``bitpix``, ``vox_offset``, scaling and
  orientation fields (gzipped again for ``.nii.gz``).
- NRRD/MHA: header lines (sizes, type, encoding, data file) and the data.
"""

from __future__ import annotations

import gzip
import io
import random
import re
import struct
import zlib

from medtl_gui.core.imaging.fuzzing.byte_mutations import (
    interesting_int,
    mutate_bytes,
    mutate_region,
    pack_uint,
)

# -- DICOM --------------------------------------------------------------------------------
_US = (0, 1, 2, 3, 7, 8, 255, 256, 4095, 4096, 32768, 65535)
_DICOM_VALUES: dict[str, tuple] = {
    "Rows": _US,
    "Columns": _US,
    "NumberOfFrames": ("0", "1", "2", "3", "500", "65535", "2147483647", "-1", "abc", "", "1e3"),
    "BitsAllocated": (0, 1, 7, 8, 12, 16, 24, 32, 64, 65535),
    "BitsStored": (0, 1, 7, 8, 12, 15, 16, 17, 32, 64, 65535),
    "HighBit": (0, 7, 11, 15, 31, 65535),
    "SamplesPerPixel": (0, 1, 2, 3, 4, 65535),
    "PixelRepresentation": (0, 1, 2, 65535),
    "PlanarConfiguration": (0, 1, 2, 65535),
    "PhotometricInterpretation": (
        "MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL", "YBR_FULL_422", "PALETTE COLOR", "YBR_RCT",
        "YBR_ICT", "YBR_PARTIAL_420", "HSV", "", "CMYK",
    ),
    "RescaleSlope": ("0", "1", "-1", "1e308", "-1e308", "nan", "inf", "abc", "1e-308", "1\\2"),
    "RescaleIntercept": ("0", "-1024", "1e308", "nan", "-inf", "abc", ""),
    "WindowCenter": ("0", "-1", "1e308", "nan", "", "40\\400", "inf"),
    "WindowWidth": ("0", "-1", "1e308", "nan", "", "400\\40\\1", "1e-300"),
    "PixelSpacing": ("0\\0", "-1\\1", "nan\\1", "1e308\\1e308", "1", "abc\\def", "", "inf\\inf"),
    "ImagePositionPatient": ("nan\\0\\0", "1e308\\1e308\\1e308", "0\\0", "", "0\\0\\0", "inf\\0\\0"),
    "ImageOrientationPatient": (
        "0\\0\\0\\0\\0\\0", "1\\0\\0\\1\\0\\0", "nan\\0\\0\\0\\1\\0", "1\\0\\0\\0\\1\\0",
        "1e308\\0\\0\\0\\1\\0", "1\\0\\0", "",
    ),
    "SliceThickness": ("0", "-5", "nan", "1e308", ""),
    "SpacingBetweenSlices": ("0", "-5", "nan", "1e308"),
    "FrameTime": ("0", "-1", "nan", "1e308"),
    "RedPaletteColorLookupTableDescriptor": ((0, 0, 16), (65535, 0, 16), (256, 0, 8), (1, 65535, 16), (0, 0, 0)),
    "GreenPaletteColorLookupTableDescriptor": ((0, 0, 16), (256, 0, 8), (4096, 0, 32)),
    "BluePaletteColorLookupTableDescriptor": ((0, 0, 16), (256, 0, 8)),
}
TRANSFER_SYNTAXES = (
    "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.203", "1.2.840.10008.1.2.8.1",
    "1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.110", "1.2.3.4", "",
)
#: explicit-VR element header: group, element, two upper-case VR letters
_EXPLICIT_ELEMENT = re.compile(rb"[\x02\x08\x10\x18\x20\x28\x40\x54\x88][\x00].{2}(?:AE|AS|AT|CS|DA|DS|DT|FD|FL|IS|LO|LT|OB|OD|OF|OL|OV|OW|PN|SH|SL|SQ|SS|ST|SV|TM|UC|UI|UL|UN|UR|US|UT|UV)", re.S)
_PIXEL_DATA_TAG = (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10")
_LONG_LENGTH_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"}
_VRS = (b"OB", b"OW", b"SQ", b"UN", b"US", b"UL", b"DS", b"IS", b"CS", b"UI", b"XX")


def mutate_dicom(data: bytes, rng: random.Random, splice_with: tuple[bytes, ...] = ()) -> bytes:
    """A hostile variant of a DICOM file: header values, raw lengths/VRs, or plain bytes."""
    choice = rng.random()
    if choice < 0.45:
        mutated = _mutate_dicom_values(data, rng)
        if mutated is not None:
            return mutated if rng.random() < 0.8 else mutate_bytes(mutated, rng, n_mutations=1)
    if choice < 0.75:
        return _mutate_dicom_elements(data, rng)
    if choice < 0.82:
        return _replace_transfer_syntax(data, rng)
    return mutate_bytes(data, rng, splice_with=splice_with)


def _mutate_dicom_values(data: bytes, rng: random.Random) -> bytes | None:
    """Change 1-3 header values through pydicom and write the file again; None if that fails."""
    from pydicom import config, dcmread

    try:
        config.settings.writing_validation_mode = config.IGNORE
        config.settings.reading_validation_mode = config.IGNORE
        ds = dcmread(io.BytesIO(data), force=True)
        for _ in range(rng.choice((1, 1, 2, 3))):
            _apply_dicom_edit(ds, rng)
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=False)
        return out.getvalue()
    except Exception:  # the mutation made the data set unwritable: use another mutator
        return None


def _apply_dicom_edit(ds, rng: random.Random) -> None:  # noqa: ANN001 - pydicom Dataset
    roll = rng.random()
    if roll < 0.6:
        keyword = rng.choice(tuple(_DICOM_VALUES))
        value = rng.choice(_DICOM_VALUES[keyword])
        setattr(ds, keyword, list(value) if isinstance(value, tuple) else value)
    elif roll < 0.72 and "PixelData" in ds:
        pixels = ds.PixelData
        ds.PixelData = pixels[: rng.randrange(max(1, len(pixels)))] if rng.random() < 0.7 else pixels + pixels
    elif roll < 0.82:
        tags = [elem.tag for elem in ds]
        if tags:
            del ds[rng.choice(tags)]
    elif roll < 0.9 and getattr(ds, "file_meta", None) is not None:
        ds.file_meta.TransferSyntaxUID = rng.choice(TRANSFER_SYNTAXES)
    else:
        for keyword in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence",
                        "ModalityLUTSequence", "VOILUTSequence"):
            if keyword in ds and rng.random() < 0.5:
                del ds[keyword]


def _mutate_dicom_elements(data: bytes, rng: random.Random) -> bytes:
    """Corrupt the VR, the length or the first value bytes of one explicit-VR element."""
    starts = [m.start() for m in _EXPLICIT_ELEMENT.finditer(data)]
    for tag in _PIXEL_DATA_TAG:
        pos = data.find(tag)
        if pos >= 0:
            starts.extend([pos] * 4)  # the Pixel Data header is the most interesting one
    if not starts:
        return mutate_bytes(data, rng)
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2))):
        pos = rng.choice(starts)
        little = out[pos + 1 : pos + 2] == b"\x00" or out[pos : pos + 2] == b"\xe0\x7f"
        vr = bytes(out[pos + 4 : pos + 6])
        what = rng.random()
        if what < 0.2:
            out[pos + 4 : pos + 6] = rng.choice(_VRS)
        elif vr in _LONG_LENGTH_VRS and len(out) >= pos + 12:
            out[pos + 8 : pos + 12] = pack_uint(interesting_int(rng, 4), 4, little)
        elif what < 0.75 and len(out) >= pos + 8:
            out[pos + 6 : pos + 8] = pack_uint(interesting_int(rng, 2), 2, little)
        else:
            return mutate_region(bytes(out), pos + 6, pos + 16, rng)
    return bytes(out)


def set_transfer_syntax(data: bytes, uid: str) -> bytes | None:
    """``data`` with another transfer syntax UID in its file meta (the body keeps its encoding); None without one."""
    pos = data.find(b"\x02\x00\x10\x00UI")
    if pos < 0:
        return None
    (length,) = struct.unpack("<H", data[pos + 6 : pos + 8])
    value = uid.encode("ascii")
    if len(value) % 2:
        value += b"\x00"
    return data[: pos + 6] + struct.pack("<H", len(value)) + value + data[pos + 8 + length :]


def _replace_transfer_syntax(data: bytes, rng: random.Random) -> bytes:
    """Swap the transfer syntax UID in the file meta for a random one."""
    replaced = set_transfer_syntax(data, rng.choice(TRANSFER_SYNTAXES))
    return mutate_bytes(data, rng) if replaced is None else replaced


# -- PNG ----------------------------------------------------------------------------------
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunks(data: bytes) -> list[list[bytes]] | None:
    """[type, payload] of every chunk, or None when the file is not a PNG."""
    if not data.startswith(_PNG_SIGNATURE):
        return None
    chunks, pos = [], len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunks.append([kind, data[pos + 8 : pos + 8 + length]])
        pos += 12 + length
    return chunks


def _png_bytes(chunks: list[list[bytes]], fix_crc: bool) -> bytes:
    out = bytearray(_PNG_SIGNATURE)
    for kind, payload in chunks:
        crc = zlib.crc32(kind + payload) if fix_crc else zlib.crc32(kind + payload) ^ 1
        out += struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)
    return bytes(out)


def mutate_png(data: bytes, rng: random.Random, splice_with: tuple[bytes, ...] = ()) -> bytes:
    """A hostile PNG: header fields, chunk payloads or a compression bomb, CRCs mostly fixed."""
    chunks = _png_chunks(data)
    if chunks is None or rng.random() < 0.15:
        return mutate_bytes(data, rng, splice_with=splice_with)
    roll = rng.random()
    ihdr = next((c for c in chunks if c[0] == b"IHDR" and len(c[1]) >= 13), None)
    if roll < 0.35 and ihdr is not None:
        fields = bytearray(ihdr[1])
        field = rng.choice(("width", "height", "size", "depth", "colour", "interlace"))
        if field in ("width", "height", "size"):
            for offset in ((0, 4) if field == "size" else ((0,) if field == "width" else (4,))):
                fields[offset : offset + 4] = struct.pack(">I", rng.choice(
                    (0, 1, 3, 65535, 100_000, 0x7FFFFFFF, 0xFFFFFFFF, rng.randint(1, 70_000))))
        elif field == "depth":
            fields[8] = rng.choice((0, 1, 2, 3, 4, 8, 16, 32, 255))
        elif field == "colour":
            fields[9] = rng.choice((0, 1, 2, 3, 4, 5, 6, 7, 255))
        else:
            fields[12] = rng.choice((0, 1, 2, 255))
        ihdr[1] = bytes(fields)
    elif roll < 0.6:
        idat = [c for c in chunks if c[0] == b"IDAT"]
        if idat:
            target = rng.choice(idat)
            try:
                raw = zlib.decompress(b"".join(c[1] for c in idat))
                raw = mutate_bytes(raw, rng)
                for c in idat[1:]:
                    chunks.remove(c)
                idat[0][1] = zlib.compress(raw, 9)
            except zlib.error:
                target[1] = mutate_bytes(target[1], rng)
    elif roll < 0.7:
        bomb = zlib.compress(b"\x00" * rng.choice((10**6, 50 * 10**6)), 9)
        kind = rng.choice((b"zTXt", b"iCCP", b"iTXt"))
        payload = {b"zTXt": b"Comment\x00\x00", b"iCCP": b"icc\x00\x00", b"iTXt": b"Comment\x00\x01\x00\x00\x00"}[kind]
        chunks.insert(1, [kind, payload + bomb])
    elif roll < 0.8 and len(chunks) > 2:
        index = rng.randrange(1, len(chunks) - 1)
        if rng.random() < 0.5:
            del chunks[index]
        else:
            chunks.insert(index, list(chunks[index]))
    else:
        target = rng.choice(chunks)
        target[1] = mutate_bytes(target[1], rng) if target[1] else rng.randbytes(rng.randint(1, 16))
    return _png_bytes(chunks, fix_crc=rng.random() < 0.95)


# -- JPEG ---------------------------------------------------------------------------------
def mutate_jpeg(data: bytes, rng: random.Random, splice_with: tuple[bytes, ...] = ()) -> bytes:
    """A hostile JPEG: frame size / component fields of the SOF segment, or bytes."""
    sof = max(data.find(b"\xff\xc0"), data.find(b"\xff\xc2"))
    if sof >= 0 and rng.random() < 0.5:
        out = bytearray(data)
        field = rng.choice((5, 7, 4, 9))  # height, width, precision, components
        width = 1 if field in (4, 9) else 2
        out[sof + field : sof + field + width] = pack_uint(interesting_int(rng, width), width, False)
        return bytes(out)
    return mutate_bytes(data, rng, splice_with=splice_with)


# -- TIFF ---------------------------------------------------------------------------------
_TIFF_TAGS = (256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 322, 323, 324, 325, 338, 339)


def mutate_tiff(data: bytes, rng: random.Random, splice_with: tuple[bytes, ...] = ()) -> bytes:
    """A hostile TIFF: the value of one IFD entry (size, bits, strips, tiles ...), or bytes."""
    if len(data) < 8 or data[:2] not in (b"II", b"MM") or rng.random() < 0.25:
        return mutate_bytes(data, rng, splice_with=splice_with)
    little = data[:2] == b"II"
    end = "<" if little else ">"
    (ifd,) = struct.unpack(end + "I", data[4:8])
    if ifd + 2 > len(data):
        return mutate_bytes(data, rng)
    (count,) = struct.unpack(end + "H", data[ifd : ifd + 2])
    entries = [ifd + 2 + 12 * i for i in range(count) if ifd + 14 + 12 * i <= len(data)]
    wanted = [e for e in entries if struct.unpack(end + "H", data[e : e + 2])[0] in _TIFF_TAGS]
    if not wanted:
        return mutate_bytes(data, rng)
    entry = rng.choice(wanted)
    out = bytearray(data)
    part = rng.random()
    if part < 0.15:  # field type
        out[entry + 2 : entry + 4] = pack_uint(rng.choice((0, 1, 2, 3, 4, 5, 12, 13, 16, 255)), 2, little)
    elif part < 0.3:  # count
        out[entry + 4 : entry + 8] = pack_uint(interesting_int(rng, 4), 4, little)
    else:  # value (short or long)
        out[entry + 8 : entry + 12] = pack_uint(interesting_int(rng, rng.choice((2, 4))), 4, little)
    return bytes(out)


# -- NIfTI --------------------------------------------------------------------------------
#: (offset, struct format) of the NIfTI-1 header fields worth lying about
_NIFTI_FIELDS = (
    (0, "i"),  # sizeof_hdr
    *((40 + 2 * i, "h") for i in range(8)),  # dim[0..7]
    (70, "h"),  # datatype
    (72, "h"),  # bitpix
    *((76 + 4 * i, "f") for i in range(8)),  # pixdim
    (108, "f"),  # vox_offset
    (112, "f"), (116, "f"),  # scl_slope, scl_inter
    (252, "h"), (254, "h"),  # qform_code, sform_code
    *((256 + 4 * i, "f") for i in range(6)),  # quaternion, offsets
    *((280 + 4 * i, "f") for i in range(12)),  # srow_x/y/z
)
_NIFTI_VALUES = {
    "h": (0, 1, 2, 3, 4, 7, 8, 16, 64, 128, 255, 256, 511, 1024, 2304, 32767, -1, -32768),
    "i": (0, 348, 540, -1, 0x7FFFFFFF),
    "f": (0.0, -1.0, 1.0, 1e-30, 1e30, 3.4e38, float("nan"), float("inf"), 352.0, 1e9),
}


def mutate_nifti(data: bytes, rng: random.Random, splice_with: tuple[bytes, ...] = ()) -> bytes:
    """A hostile NIfTI-1: header fields (dims, datatype, offsets, scaling); gzipped stays gzipped."""
    gzipped = data[:2] == b"\x1f\x8b"
    if gzipped:
        if rng.random() < 0.1:
            return mutate_bytes(data, rng)
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return mutate_bytes(data, rng)
    if len(data) < 348 or rng.random() < 0.2:
        out = mutate_bytes(data, rng, splice_with=splice_with)
    else:
        little = struct.unpack("<i", data[:4])[0] == 348
        end = "<" if little else ">"
        buf = bytearray(data)
        for _ in range(rng.choice((1, 1, 2, 3))):
            offset, fmt = rng.choice(_NIFTI_FIELDS)
            value = rng.choice(_NIFTI_VALUES[fmt])
            buf[offset : offset + struct.calcsize(fmt)] = struct.pack(end + fmt, value)
        if rng.random() < 0.15:
            del buf[rng.randrange(348, max(349, len(buf))) :]
        out = bytes(buf)
    return gzip.compress(out, compresslevel=1) if gzipped else out


# -- text headers (NRRD, MetaImage) -------------------------------------------------------
_HEADER_END = {b"NRRD": b"\n\n"}
_NRRD_LINES = (
    b"type: double", b"type: int64", b"type: block", b"type: nonsense", b"dimension: 0", b"dimension: 17",
    b"sizes: 100000 100000 100000", b"sizes: 0 0 0", b"sizes: -1 2 3", b"sizes: 2",
    b"encoding: gzip", b"encoding: raw", b"encoding: bzip2", b"encoding: hex", b"encoding: ascii",
    b"endian: big", b"space directions: (nan,0,0) (0,0,0) (0,0,1e308)", b"space origin: (inf,0,0)",
    b"data file: LIST", b"data file: ../outside.raw", b"data file: /dev/zero",
    b"data file: part%d.raw 0 1000000 1", b"kinds: complex domain domain", b"byte skip: -1",
    b"byte skip: 1000000000", b"line skip: 1000000",
)
_MHA_LINES = (
    b"NDims = 0", b"NDims = 17", b"DimSize = 100000 100000 100000", b"DimSize = 0 0 0",
    b"ElementType = MET_DOUBLE", b"ElementType = MET_NONE", b"ElementType = MET_STRING",
    b"ElementNumberOfChannels = 65535", b"CompressedData = True", b"CompressedDataSize = 4",
    b"BinaryDataByteOrderMSB = True", b"ElementSpacing = 0 nan inf", b"ElementDataFile = /dev/zero",
    b"ElementDataFile = ../outside.raw", b"ElementDataFile = LIST", b"HeaderSize = -1",
    b"HeaderSize = 1000000000", b"TransformMatrix = nan 0 0 0 0 0 0 0 0",
)


def mutate_text_header(data: bytes, rng: random.Random, splice_with: tuple[bytes, ...] = ()) -> bytes:
    """A hostile NRRD or MetaImage file: header lines replaced, dropped or added, or data bytes."""
    is_nrrd = data.startswith(b"NRRD")
    separator = b"\n\n" if is_nrrd else b"ElementDataFile = LOCAL\n"
    head, sep, body = data.partition(separator)
    if not sep or rng.random() < 0.15:
        return mutate_bytes(data, rng, splice_with=splice_with)
    lines = head.split(b"\n")
    pool = _NRRD_LINES if is_nrrd else _MHA_LINES
    for _ in range(rng.choice((1, 1, 2))):
        roll = rng.random()
        index = rng.randrange(1 if is_nrrd else 0, max(2, len(lines)))
        index = min(index, len(lines))
        if roll < 0.5:
            key = rng.choice(pool)
            name = key.split(b":" if is_nrrd else b"=")[0].strip()
            lines = [line for line in lines if not line.startswith(name)]
            lines.insert(min(index, len(lines)), key)
        elif roll < 0.7 and len(lines) > 1:
            del lines[min(index, len(lines) - 1)]
        elif roll < 0.85:
            line_index = min(index, len(lines) - 1)
            lines[line_index] = re.sub(
                rb"\d+", lambda _: str(rng.choice((0, 1, 65535, 10**9, 2**31, 2**63))).encode(), lines[line_index], count=1
            )
        else:
            body = mutate_bytes(body, rng) if body else body
    return b"\n".join(lines) + sep + body
