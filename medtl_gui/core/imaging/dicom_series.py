"""DICOM series in a folder: discovery (:func:`find_series`) and volume assembly.

Files are grouped by Series Instance UID and slices ordered by their
position along the slice normal (see :mod:`.dicom_geometry`), never by file
name or Instance Number. Reading a folder parses each header once: pixel
values larger than :data:`DEFER_BYTES` stay on disk until the chosen series
is decoded straight into a pre-allocated volume.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from medtl_gui.core.imaging import dicom_geometry as geometry
from medtl_gui.core.imaging.dicom_file import dataset_to_scan, load_dataset, modality_values
from medtl_gui.core.imaging.dicom_metadata import dicom_tags, header_summary, sop_class_name
from medtl_gui.core.imaging.dicom_pixels import decode_stored_pixels, read_pixel_module
from medtl_gui.core.imaging.errors import ScanReadError
from medtl_gui.core.imaging.formats import EXTENSIONS_BY_FORMAT, extension_of, has_dicom_marker
from medtl_gui.core.imaging.modality_lut import modality_transforms
from medtl_gui.core.imaging.scan import Scan

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

#: values above this size are read only when the series is decoded
DEFER_BYTES = 2048
_DICOM_EXTENSIONS = set(EXTENSIONS_BY_FORMAT["dicom"]) | {""}


@dataclass
class SeriesInfo:
    """One DICOM series found in a folder (from headers only)."""

    uid: str
    description: str
    modality: str
    patient_id: str
    study_uid: str
    files: list[str]  # ordered along the slice normal (Instance Number when positions are missing)
    series_number: int | None = None

    @property
    def n_files(self) -> int:
        return len(self.files)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (without the file list)."""
        return {
            "uid": self.uid,
            "description": self.description,
            "modality": self.modality,
            "series_number": self.series_number,
            "n_files": self.n_files,
        }


class SeriesListing(list[SeriesInfo]):
    """The series of a folder, largest first, plus ``skipped``: ``(path, reason)`` for every other file."""

    def __init__(self, series: list[SeriesInfo], skipped: list[tuple[str, str]]):
        super().__init__(series)
        self.skipped: list[tuple[str, str]] = skipped


@dataclass
class _ParsedFile:
    path: str
    ds: Dataset


#: Image Pixel module and modality LUT tags: files whose raw values of these
#: are byte-identical share one validated module and one modality transform
_SIGNATURE_TAGS = (
    0x00280002, 0x00280004, 0x00280006, 0x00280008, 0x00280010, 0x00280011,
    0x00280100, 0x00280101, 0x00280103,  # pixel module
    0x00281052, 0x00281053, 0x00281054, 0x00283000,  # rescale, modality LUT
    0x3004000E, 0x52009229, 0x52009230,  # dose scaling, functional groups
)
_TAG_POSITION = 0x00200032
_TAG_ORIENTATION = 0x00200037
_TAG_SERIES_UID = 0x0020000E
_TAG_SOP_INSTANCE_UID = 0x00080018


def _raw(ds: Any, tag: int) -> Any:
    """An element's value without pydicom's (slow) conversion: raw bytes when still unconverted."""
    elem = ds.get_item(tag)
    if elem is None:
        return None
    value = elem.value
    return bytes(value) if isinstance(value, (bytes, bytearray)) else repr(value)


def _raw_text(ds: Any, tag: int) -> str:
    value = _raw(ds, tag)
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").strip("\x00 ")
    try:
        return str(ds[tag].value).strip()
    except Exception:  # a malformed value reads as missing
        return ""


def _safe_get(ds: Any, keyword: str) -> Any:
    """``ds.get(keyword)``, or None when the stored value cannot be converted (a malformed element)."""
    try:
        return ds.get(keyword)
    except Exception:
        return None


def _raw_floats(ds: Any, tag: int, count: int) -> np.ndarray | None:
    """A multi-valued DS element as floats, parsed from the raw bytes when possible."""
    elem = ds.get_item(tag)
    if elem is None or elem.value is None:
        return None
    value = elem.value
    try:
        if isinstance(value, (bytes, bytearray)):
            numbers = [float(v) for v in bytes(value).split(b"\\")]
        else:
            numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    if len(numbers) != count or not all(np.isfinite(numbers)):
        return None
    return np.array(numbers)


def _signature(ds: Any) -> tuple:
    file_meta = getattr(ds, "file_meta", None)
    tsyntax = _raw(file_meta, 0x00020010) if file_meta is not None else None
    return (tsyntax,) + tuple(_raw(ds, tag) for tag in _SIGNATURE_TAGS)


def _walk_files(folder: str, recursive: bool) -> list[str]:
    """Every non-hidden file under ``folder``, in a stable order."""
    found: list[str] = []
    if recursive:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(os.path.join(root, f) for f in sorted(files) if not f.startswith("."))
    else:
        with os.scandir(folder) as entries:
            found = sorted(e.path for e in entries if e.is_file() and not e.name.startswith("."))
    return found


def _text(ds: Any, keyword: str) -> str:
    value = _safe_get(ds, keyword)
    return str(value).strip() if value is not None else ""


def _instance_number(ds: Any) -> float:
    try:
        number = float(_safe_get(ds, "InstanceNumber"))
    except (TypeError, ValueError):
        return float("inf")
    return number if np.isfinite(number) else float("inf")


def _orientation(ds: Any) -> tuple[np.ndarray, np.ndarray] | None:
    numbers = _raw_floats(ds, _TAG_ORIENTATION, 6)
    if numbers is None:
        return None
    row, col = numbers[:3], numbers[3:]
    row_norm, col_norm = np.linalg.norm(row), np.linalg.norm(col)
    if row_norm < 1e-6 or col_norm < 1e-6:
        return None
    return row / row_norm, col / col_norm


def _slice_order(entries: list[_ParsedFile]) -> tuple[list[int], geometry.StackLayout | str | None]:
    """Indices of ``entries`` sorted along the normal, and the stack layout (or why there is none).

    Without positions/orientations on every file the order falls back to
    Instance Number (then path) and the layout is None.
    """
    orientations = [_orientation(e.ds) for e in entries]
    positions = [_raw_floats(e.ds, _TAG_POSITION, 3) for e in entries]
    if any(o is None for o in orientations) or any(p is None for p in positions):
        order = sorted(range(len(entries)), key=lambda i: (_instance_number(entries[i].ds), entries[i].path))
        return order, None
    first = np.concatenate(orientations[0])
    stacked = np.array([np.concatenate(o) for o in orientations])
    if np.abs(stacked - first).max() > geometry.ORIENTATION_TOLERANCE:
        order = sorted(range(len(entries)), key=lambda i: (_instance_number(entries[i].ds), entries[i].path))
        return order, "images have different orientations (several stacks or a localizer)"
    layout = geometry.stack_layout(np.array(positions), orientations[0])
    if isinstance(layout, str):
        order = sorted(range(len(entries)), key=lambda i: (_instance_number(entries[i].ds), entries[i].path))
        return order, layout
    return [int(i) for i in layout.order], layout


class DicomFolder:
    """The DICOM files of a folder, parsed once and grouped by series."""

    def __init__(self, folder: str | os.PathLike, *, recursive: bool = True, with_pixels: bool = True):
        self.folder = os.fspath(folder)
        if not os.path.isdir(self.folder):
            raise ScanReadError(self.folder, "not a folder")
        self.groups: dict[str, list[_ParsedFile]] = {}
        self.skipped: list[tuple[str, str]] = []
        self._with_pixels = with_pixels
        self._decoded: set[str] = set()  # series whose encoded pixels were released
        for path in _walk_files(self.folder, recursive):
            self._add(path, with_pixels)

    def _add(self, path: str, with_pixels: bool) -> None:
        if os.path.basename(path).upper() == "DICOMDIR":
            self.skipped.append((path, "DICOMDIR (media index, not an image)"))
            return
        ext = extension_of(path)
        if ext not in _DICOM_EXTENSIONS and not has_dicom_marker(path):
            self.skipped.append((path, f"not a DICOM file (extension {ext})"))
            return
        try:
            defer = DEFER_BYTES if with_pixels else None
            ds = load_dataset(path, header_only=not with_pixels, defer_size=defer)
        except ScanReadError as exc:
            self.skipped.append((path, exc.reason))
            return
        if "Rows" not in ds or "Columns" not in ds:
            sop_class = _safe_get(ds, "SOPClassUID")
            what = sop_class_name(sop_class) if sop_class else "object without image attributes"
            self.skipped.append((path, f"no pixel data: {what}"))
            return
        uid = _raw_text(ds, _TAG_SERIES_UID)
        if not uid:
            self.skipped.append((path, "no Series Instance UID"))
            return
        self.groups.setdefault(uid, []).append(_ParsedFile(path, ds))

    def listing(self) -> SeriesListing:
        """Every series found, most files first."""
        series = []
        for uid, entries in self.groups.items():
            order, _ = _slice_order(entries)
            first = entries[order[0]].ds
            number = _safe_get(first, "SeriesNumber")
            try:
                series_number = int(number) if number not in (None, "") else None
            except (TypeError, ValueError, OverflowError):
                series_number = None
            series.append(
                SeriesInfo(
                    uid=uid,
                    description=_text(first, "SeriesDescription"),
                    modality=_text(first, "Modality"),
                    patient_id=_text(first, "PatientID"),
                    study_uid=_text(first, "StudyInstanceUID"),
                    files=[entries[i].path for i in order],
                    series_number=series_number,
                )
            )
        series.sort(key=lambda s: (-s.n_files, s.series_number or 0, s.uid))
        return SeriesListing(series, list(self.skipped))

    def _choose(self, series_uid: str | None) -> str:
        if series_uid is not None:
            if series_uid in self.groups:
                return series_uid
            raise ScanReadError(self.folder, f"no series {series_uid} here; {self._describe_series()}")
        if not self.groups:
            raise ScanReadError(self.folder, f"no DICOM images found{self._describe_skipped()}")
        if len(self.groups) > 1:
            raise ScanReadError(
                self.folder, f"folder holds {self._describe_series()}; choose one with its series UID"
            )
        return next(iter(self.groups))

    def _describe_series(self) -> str:
        listing = self.listing()
        items = "; ".join(
            f"{s.uid} '{s.description}' ({s.modality or '?'}, {s.n_files} files)" for s in listing
        )
        return f"{len(listing)} DICOM series: {items}"

    def _describe_skipped(self) -> str:
        if not self.skipped:
            return " (the folder holds no files)"
        shown = "; ".join(f"{os.path.basename(p)}: {r}" for p, r in self.skipped[:3])
        more = f"; and {len(self.skipped) - 3} more" if len(self.skipped) > 3 else ""
        return f" ({len(self.skipped)} files skipped: {shown}{more})"

    def read(self, series_uid: str | None = None) -> Scan:
        """Decode one series (the only one, or ``series_uid``) into a :class:`Scan`."""
        if not self._with_pixels:
            raise ValueError("this DicomFolder was scanned without pixels (with_pixels=False)")
        uid = self._choose(series_uid)
        if uid in self._decoded:  # decoding released the pixel bytes: parse again
            self.groups[uid] = [
                _ParsedFile(e.path, load_dataset(e.path, defer_size=DEFER_BYTES)) for e in self.groups[uid]
            ]
        self._decoded.add(uid)
        entries = self.groups[uid]
        if len(entries) == 1:
            return dataset_to_scan(entries[0].ds, entries[0].path)
        return _assemble(entries, self.folder)


def _modules_and_transforms(
    entries: list[_ParsedFile], folder: str
) -> tuple[list[Any], list[Any], list[str]]:
    """Validated pixel module and modality transform of every file, checked for consistency.

    Files with byte-identical pixel-module and rescale attributes (the usual
    case) share the result of parsing the first one, which keeps large
    series fast.
    """
    parsed: dict[tuple, tuple[Any, Any, list[str]]] = {}
    modules, transforms, warnings = [], [], []
    for entry in entries:
        key = _signature(entry.ds)
        if key not in parsed:
            module = read_pixel_module(entry.ds, entry.path)
            frame_transforms, frame_warnings = modality_transforms(entry.ds, 1)
            parsed[key] = (module, frame_transforms[0], frame_warnings)
            warnings.extend(w for w in frame_warnings if w not in warnings)
        module, transform, _ = parsed[key]
        modules.append(module)
        transforms.append(transform)
    multi = [e.path for e, m in zip(entries, modules) if m.n_frames > 1]
    if multi:
        raise ScanReadError(
            folder,
            f"series holds {len(multi)} multi-frame files among {len(entries)}; "
            f"open them one by one (e.g. {multi[0]})",
        )
    layouts: dict[tuple, int] = {}
    for m in modules:
        key = (m.rows, m.columns, m.samples, m.bits_allocated, m.pixel_representation, m.photometric)
        layouts[key] = layouts.get(key, 0) + 1
    if len(layouts) > 1:
        kinds = "; ".join(
            f"{k[0]}x{k[1]} {k[5]} {k[3]}-bit ({n} files)" for k, n in layouts.items()
        )
        raise ScanReadError(folder, f"series mixes images of different kinds: {kinds}")
    return modules, transforms, warnings


def _assemble(entries: list[_ParsedFile], folder: str) -> Scan:
    """Stack the single-frame images of one series into a (z, y, x[, 3]) volume."""
    order, layout = _slice_order(entries)
    if isinstance(layout, str):
        raise ScanReadError(folder, f"cannot stack the series as one volume: {layout}")
    modules, all_transforms, warnings = _modules_and_transforms(entries, folder)
    first = entries[order[0]]
    module = modules[order[0]]
    volume: np.ndarray | None = None
    photometric = module.photometric
    for z, index in enumerate(order):
        entry = entries[index]
        stored, photometric, _ = decode_stored_pixels(entry.ds, modules[index], entry.path)
        if volume is None:
            volume = np.empty((len(order),) + stored.shape[1:], dtype=stored.dtype)
        elif stored.shape[1:] != volume.shape[1:]:
            raise ScanReadError(entry.path, "decoded slice differs in size from the rest of the series")
        volume[z] = stored[0]
        entry.ds.pop(0x7FE00010, None)  # release the slice's encoded bytes
    assert volume is not None

    transforms = [all_transforms[i] for i in order]
    values = modality_values(volume, photometric, module, first.ds, transforms)

    metadata = header_summary(first.ds)
    metadata["dicom"] = dicom_tags(first.ds)
    (sx, sy), spacing_source = geometry.pixel_spacing(first.ds)
    orientation = geometry.orientation_from(first.ds)
    if layout is None:
        warnings.append(
            "slices have no Image Position/Orientation (Patient): ordered by Instance Number"
        )
        dz = geometry.slice_thickness(first.ds) or 1.0
        position = geometry.position_from(first.ds)
        origin = tuple(position) if position is not None else (0.0, 0.0, 0.0)
    else:
        warnings.extend(layout.warnings)
        dz, origin = layout.spacing, tuple(layout.origin)
    direction = geometry.direction_matrix(*orientation) if orientation else geometry.IDENTITY_3D
    metadata.update(
        photometric_out="RGB" if values.is_color else "MONOCHROME2",
        pixel_spacing_source=spacing_source,
        n_frames=len(order),
        windows=values.windows,
        warnings=warnings + values.warnings,
        files=[entries[i].path for i in order],
        folder=folder,
    )
    if layout is not None:
        metadata["slice_positions"] = [float(v) for v in layout.projections]
    if values.transform is not None:
        metadata["modality_lut"] = values.transform
    for key in ("instance_number", "image_position_patient"):
        metadata.pop(key, None)
    return Scan(
        path=folder,
        kind="dicom-series",
        pixels=values.pixels,
        spacing=(float(sx), float(sy), float(dz)),
        origin=tuple(float(v) for v in origin),
        direction=tuple(float(v) for v in direction),
        modality=_text(first.ds, "Modality") or None,
        is_color=values.is_color,
        n_frames=len(order),
        window=values.window,
        metadata=metadata,
        patient_id=_text(first.ds, "PatientID") or None,
        study_uid=_text(first.ds, "StudyInstanceUID") or None,
        series_uid=_text(first.ds, "SeriesInstanceUID") or None,
        sop_uids=[_raw_text(entries[i].ds, _TAG_SOP_INSTANCE_UID) for i in order],
    )


def find_series(folder: str | os.PathLike, recursive: bool = True) -> SeriesListing:
    """DICOM series under ``folder`` from header-only reads (``stop_before_pixels``).

    Returns a list of :class:`SeriesInfo` (most files first) whose
    ``skipped`` attribute lists ``(path, reason)`` for every file that is
    not part of an image series (not DICOM, unreadable, no pixel data).
    """
    return DicomFolder(folder, recursive=recursive, with_pixels=False).listing()


def read_dicom_folder(folder: str | os.PathLike, series_uid: str | None = None) -> Scan:
    """Read the only series in ``folder`` (or ``series_uid``) into a :class:`Scan`."""
    return DicomFolder(folder, recursive=True, with_pixels=True).read(series_uid)
