"""Check NIfTI, MetaImage and NRRD headers before SimpleITK sees the file.

ITK trusts these headers: a MetaImage ``NDims = 2147483648`` crashes the
process, a NIfTI ``srow`` holding ``inf`` makes it loop forever, a declared
100000^3 volume is allocated before the data is found missing. The checks
here parse the header themselves (a few hundred bytes of text or a fixed
binary layout) and raise ``ScanReadError`` naming the field, so SimpleITK
only ever reads headers that describe a plausible image:

- dimensions and sizes: 1-4 axes (NIfTI up to 7 with the extra ones of
  size 1), every size at least 1;
- a known pixel type, and at most 4 components per pixel;
- geometry fields finite and of sane magnitude;
- the declared voxel bytes: present in an uncompressed file, and within
  :mod:`.limits` for a compressed one (decompression bombs);
- detached data (``ElementDataFile``, ``data file``): one regular file, not
  a list, a pattern or a device.
"""

from __future__ import annotations

import gzip
import math
import os
import re
import struct
import zlib
from pathlib import Path

from medtl_gui.core.imaging.errors import ScanReadError
from medtl_gui.core.imaging.limits import check_expansion

#: largest magnitude accepted for spacing, origin and orientation values (mm)
MAX_GEOMETRY_MAGNITUDE = 1e7
_MAX_HEADER_BYTES = 64 * 1024
_MAX_AXES = 4

#: NIfTI datatype code -> bytes per voxel (complex types are refused later, but sized here)
_NIFTI_DATATYPE_BYTES = {2: 1, 4: 2, 8: 4, 16: 4, 32: 8, 64: 8, 128: 3, 256: 1, 512: 2, 768: 4, 1024: 8,
                         1280: 8, 1536: 16, 1792: 16, 2048: 32, 2304: 4}
_META_TYPE_BYTES = {"CHAR": 1, "UCHAR": 1, "SHORT": 2, "USHORT": 2, "INT": 4, "UINT": 4, "LONG": 4, "ULONG": 4,
                    "LONG_LONG": 8, "ULONG_LONG": 8, "FLOAT": 4, "DOUBLE": 8}
_NRRD_TYPE_BYTES = {
    **dict.fromkeys(("signed char", "int8", "int8_t", "uchar", "unsigned char", "uint8", "uint8_t"), 1),
    **dict.fromkeys(("short", "short int", "signed short", "signed short int", "int16", "int16_t", "ushort",
                     "unsigned short", "unsigned short int", "uint16", "uint16_t"), 2),
    **dict.fromkeys(("int", "signed int", "int32", "int32_t", "uint", "unsigned int", "uint32", "uint32_t",
                     "float"), 4),
    **dict.fromkeys(("longlong", "long long", "long long int", "signed long long", "signed long long int",
                     "int64", "int64_t", "ulonglong", "unsigned long long", "unsigned long long int", "uint64",
                     "uint64_t", "double"), 8),
}
_NRRD_ENCODINGS = {"raw": False, "gzip": True, "gz": True, "bzip2": True, "bz2": True, "ascii": False,
                   "text": False, "txt": False, "hex": False}


def check_volume_header(path: str) -> None:
    """Raise ``ScanReadError`` when a NIfTI/MHA/MHD/NRRD header is implausible (see module doc)."""
    name = os.path.basename(path).lower()
    head = _read_head(path)
    if name.endswith((".nii", ".nii.gz")) or head[:2] == b"\x1f\x8b" or head[344:348] in (b"n+1\x00", b"ni1\x00"):
        _check_nifti(path, head)
    elif name.endswith((".mha", ".mhd")):
        _check_metaimage(path, head)
    elif name.endswith((".nrrd", ".nhdr")) or head.startswith(b"NRRD"):
        _check_nrrd(path, head)


def _read_head(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(_MAX_HEADER_BYTES)
    except OSError as exc:
        raise ScanReadError(path, f"cannot open file ({exc.strerror or exc})") from None


def _check_sizes(path: str, sizes: list[int], what: str) -> None:
    if not 1 <= len(sizes) <= 7:
        raise ScanReadError(path, f"{what}: {len(sizes)} dimensions (expected 1 to {_MAX_AXES})")
    if any(n < 1 for n in sizes):
        raise ScanReadError(path, f"{what}: invalid size {' x '.join(map(str, sizes))} (every size must be >= 1)")
    if len(sizes) > _MAX_AXES and any(n > 1 for n in sizes[_MAX_AXES:]):
        raise ScanReadError(path, f"{what}: {len(sizes)}-D images are not supported (size {sizes})")


def _check_geometry(path: str, values: list[float], what: str) -> None:
    for value in values:
        if not math.isfinite(value) or abs(value) > MAX_GEOMETRY_MAGNITUDE:
            raise ScanReadError(path, f"{what} holds the invalid value {value!r}")


def _check_data_bytes(path: str, declared: int, available: int, compressed: bool, what: str) -> None:
    if compressed:
        check_expansion(path, decoded_bytes=declared, stored_bytes=available, what=what)
    elif declared > available:
        raise ScanReadError(path, f"file is truncated: {what} needs {declared} bytes, only {max(0, available)} present")


# -- NIfTI -----------------------------------------------------------------------------------
def _check_nifti(path: str, head: bytes) -> None:
    compressed = head[:2] == b"\x1f\x8b"
    if compressed:
        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(544)
        except (OSError, EOFError, zlib.error) as exc:
            raise ScanReadError(path, f"corrupt gzip stream ({exc})") from None
    if len(head) < 348:
        raise ScanReadError(path, f"not a NIfTI file: {len(head)} header bytes, expected 348")
    little = struct.unpack("<i", head[:4])[0] in (348, 540)
    end = "<" if little else ">"
    header_size = struct.unpack(end + "i", head[:4])[0]
    if header_size == 540:
        if len(head) < 540:
            raise ScanReadError(path, "NIfTI-2 header is truncated")
        datatype = struct.unpack(end + "h", head[12:14])[0]
        dims = list(struct.unpack(end + "8q", head[16:80]))
        geometry = list(struct.unpack(end + "8d", head[104:168]))
        vox_offset = float(struct.unpack(end + "q", head[168:176])[0])
        transforms = list(struct.unpack(end + "18d", head[352:496]))
    elif header_size == 348:
        datatype = struct.unpack(end + "h", head[70:72])[0]
        dims = list(struct.unpack(end + "8h", head[40:56]))
        geometry = list(struct.unpack(end + "8f", head[76:108]))
        vox_offset = struct.unpack(end + "f", head[108:112])[0]
        transforms = list(struct.unpack(end + "18f", head[256:328]))
    else:
        raise ScanReadError(path, f"not a NIfTI file (header size field {header_size}, expected 348 or 540)")
    n_axes = dims[0]
    if not 1 <= n_axes <= 7:
        raise ScanReadError(path, f"NIfTI header: dim[0] = {n_axes} (expected 1 to 7)")
    sizes = dims[1 : n_axes + 1]
    _check_sizes(path, sizes, "NIfTI header")
    if datatype not in _NIFTI_DATATYPE_BYTES:
        raise ScanReadError(path, f"NIfTI header: unknown datatype code {datatype}")
    _check_geometry(path, geometry[1 : n_axes + 1], "NIfTI pixdim")
    _check_geometry(path, transforms, "NIfTI orientation (quatern/qoffset/srow)")
    if not math.isfinite(vox_offset) or vox_offset < header_size:
        raise ScanReadError(path, f"NIfTI header: invalid vox_offset {vox_offset}")
    declared = math.prod(sizes) * _NIFTI_DATATYPE_BYTES[datatype]
    available = os.path.getsize(path) - (0 if compressed else int(vox_offset))
    _check_data_bytes(path, declared, available, compressed, f"the NIfTI volume of {' x '.join(map(str, sizes))}")


# -- MetaImage -------------------------------------------------------------------------------
def _text_fields(head: bytes, separator: str, last_key: str | None) -> tuple[dict[str, str], int]:
    """``key -> value`` of a text header (keys lower-cased) and the offset just after it."""
    fields: dict[str, str] = {}
    offset = 0
    for raw_line in head.split(b"\n"):
        offset += len(raw_line) + 1
        line = raw_line.decode("latin-1").strip()
        if not line and separator == ":" and fields:
            return fields, offset  # NRRD: a blank line ends the header
        key, sep, value = line.partition(separator)
        if sep and not line.startswith("#"):
            fields[key.strip().lower()] = value.strip()
        if last_key is not None and key.strip().lower() == last_key:
            return fields, offset
    return fields, offset


def _integers(path: str, text: str, what: str) -> list[int]:
    try:
        return [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise ScanReadError(path, f"{what}: not a list of integers: {text[:80]!r}") from None


def _floats(text: str) -> list[float]:
    values = []
    for token in re.split(r"[\s,()]+", text):
        if token and token.lower() != "none":
            try:
                values.append(float(token))
            except ValueError:
                continue
    return values


def _data_file(path: str, name: str, what: str) -> Path:
    """The single detached data file a header names (refusing lists, patterns and devices)."""
    if name.upper() == "LIST" or "%" in name or " " in name.strip():
        raise ScanReadError(path, f"{what}: multi-file data ({name!r}) is not supported")
    target = Path(path).parent / name
    if not target.is_file():
        raise ScanReadError(path, f"{what}: data file {name!r} is missing or not a regular file")
    return target


def _check_metaimage(path: str, head: bytes) -> None:
    fields, data_offset = _text_fields(head, "=", "elementdatafile")
    what = "MetaImage header"
    if "ndims" not in fields or "dimsize" not in fields:
        raise ScanReadError(path, f"{what}: NDims or DimSize is missing")
    n_dims = _integers(path, fields["ndims"], "NDims")
    sizes = _integers(path, fields["dimsize"], "DimSize")
    if len(n_dims) != 1 or not 1 <= n_dims[0] <= _MAX_AXES or len(sizes) != n_dims[0]:
        raise ScanReadError(path, f"{what}: NDims {fields['ndims']!r} with DimSize {fields['dimsize']!r}")
    _check_sizes(path, sizes, what)
    element = fields.get("elementtype", "").upper().removeprefix("MET_").removesuffix("_ARRAY")
    if element not in _META_TYPE_BYTES:
        raise ScanReadError(path, f"{what}: unsupported ElementType {fields.get('elementtype')!r}")
    channels = _integers(path, fields.get("elementnumberofchannels", "1"), "ElementNumberOfChannels")
    if len(channels) != 1 or not 1 <= channels[0] <= 4:
        raise ScanReadError(path, f"{what}: ElementNumberOfChannels {fields.get('elementnumberofchannels')!r}")
    for key in ("elementspacing", "elementsize", "offset", "origin", "position", "transformmatrix", "rotation"):
        if key in fields:
            _check_geometry(path, _floats(fields[key]), f"{what} {key}")
    header_size = _integers(path, fields.get("headersize", "0"), "HeaderSize")
    declared = math.prod(sizes) * channels[0] * _META_TYPE_BYTES[element]
    compressed = fields.get("compresseddata", "false").lower() == "true"
    data_name = fields.get("elementdatafile", "")
    if not data_name:
        raise ScanReadError(path, f"{what}: ElementDataFile is missing")
    if data_name.upper() == "LOCAL":
        available = os.path.getsize(path) - data_offset
    else:
        available = _data_file(path, data_name, what).stat().st_size
    if header_size and header_size[0] > 0:
        available -= header_size[0]
    if compressed and "compresseddatasize" in fields:
        stated = _integers(path, fields["compresseddatasize"], "CompressedDataSize")
        if len(stated) != 1 or not 0 < stated[0] <= max(0, available):
            raise ScanReadError(path, f"{what}: CompressedDataSize {fields['compresseddatasize']} does not fit "
                                      f"the {max(0, available)} bytes of data in the file")
    _check_data_bytes(path, declared, available, compressed, f"the MetaImage of {' x '.join(map(str, sizes))}")


# -- NRRD ------------------------------------------------------------------------------------
def _check_nrrd(path: str, head: bytes) -> None:
    what = "NRRD header"
    if not head.startswith(b"NRRD"):
        raise ScanReadError(path, "not a NRRD file (no NRRD magic)")
    fields, data_offset = _text_fields(head, ":", None)
    if "dimension" not in fields or "sizes" not in fields:
        raise ScanReadError(path, f"{what}: dimension or sizes is missing")
    dimension = _integers(path, fields["dimension"], "dimension")
    sizes = _integers(path, fields["sizes"], "sizes")
    if len(dimension) != 1 or not 1 <= dimension[0] <= _MAX_AXES + 1 or len(sizes) != dimension[0]:
        raise ScanReadError(path, f"{what}: dimension {fields['dimension']!r} with sizes {fields['sizes']!r}")
    _check_sizes(path, sizes, what)
    kind = " ".join(fields.get("type", "").lower().split())
    if kind not in _NRRD_TYPE_BYTES:
        raise ScanReadError(path, f"{what}: unsupported type {fields.get('type')!r}")
    encoding = fields.get("encoding", "").lower()
    if encoding not in _NRRD_ENCODINGS:
        raise ScanReadError(path, f"{what}: unsupported encoding {fields.get('encoding')!r}")
    for key in ("space directions", "space origin", "spacings", "thicknesses"):
        if key in fields:
            _check_geometry(path, _floats(fields[key]), f"{what} {key}")
    data_name = fields.get("data file") or fields.get("datafile")
    if data_name:
        available = _data_file(path, data_name, what).stat().st_size
    else:
        available = os.path.getsize(path) - data_offset
    declared = math.prod(sizes) * _NRRD_TYPE_BYTES[kind]
    if encoding in ("ascii", "text", "txt", "hex"):
        declared_stored = math.prod(sizes) * (2 if encoding == "hex" else 1)  # at least this much text
        _check_data_bytes(path, declared_stored, available, False, f"the {encoding} NRRD data")
        return
    _check_data_bytes(path, declared, available, _NRRD_ENCODINGS[encoding],
                      f"the NRRD volume of {' x '.join(map(str, sizes))}")
