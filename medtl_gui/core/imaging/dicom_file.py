"""Read one DICOM file (single- or multi-frame) into a :class:`Scan`.

Steps, each in its own module: parse the header robustly
(:func:`load_dataset`), decode stored values (:mod:`.dicom_pixels`), map
them to modality values (:func:`modality_values`: rescale/LUT, MONOCHROME1,
palette), and attach geometry (:mod:`.dicom_geometry`) and metadata
(:mod:`.dicom_metadata`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from medtl_gui.core.imaging import dicom_geometry as geometry
from medtl_gui.core.imaging.dicom_codecs import transfer_syntax_label
from medtl_gui.core.imaging.dicom_preflight import check_deflated_dataset
from medtl_gui.core.imaging.dicom_metadata import dicom_tags, file_windows, header_summary, sop_class_name
from medtl_gui.core.imaging.dicom_pixels import PixelModule, decode_stored_pixels, read_pixel_module
from medtl_gui.core.imaging.errors import ScanReadError
from medtl_gui.core.imaging.limits import BoundedFile
from medtl_gui.core.imaging.modality_lut import (
    ModalityTransform,
    apply_modality_transforms,
    modality_transforms,
    modality_value_range,
)
from medtl_gui.core.imaging.photometric import apply_palette, invert_monochrome1, mirror_window
from medtl_gui.core.imaging.scan import Scan

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
#: words in SOP class names of objects that should carry pixels
_IMAGE_CLASS_WORDS = ("Image", "Segmentation", "RT Dose", "Photograph")
_IDENTIFYING_KEYWORDS = ("SOPClassUID", "SOPInstanceUID", "Modality", "Rows", "StudyInstanceUID")


def _set_guessed_transfer_syntax(ds: Dataset) -> None:
    """Give a file without file meta the transfer syntax pydicom detected while parsing."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    if getattr(ds, "file_meta", None) is None:
        ds.file_meta = FileMetaDataset()
    if ds.file_meta.get("TransferSyntaxUID"):
        return
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None or little is None:
        return
    if implicit:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    else:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def load_dataset(
    path: str | os.PathLike, *, header_only: bool = False, defer_size: int | None = None
) -> Dataset:
    """Parse a DICOM file; any failure becomes ``ScanReadError`` with the reason.

    Files without the Part 10 preamble/``DICM`` marker (old ACR-NEMA style
    exports) are parsed with ``force=True`` and accepted only if they hold
    identifying DICOM elements, so random bytes are never taken for DICOM.
    ``defer_size`` leaves larger values (the pixels) on disk until accessed.
    """
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise ScanReadError(path, f"cannot open file ({exc.strerror or exc})") from None
    if size == 0:
        raise ScanReadError(path, "empty file (0 bytes)")
    try:
        check_deflated_dataset(path)
        with BoundedFile(path) as fp:
            ds = dcmread(fp, stop_before_pixels=header_only, defer_size=defer_size)
            _refuse_short_reads(ds, fp, path)
            return _finish(ds, path)
    except ScanReadError:
        raise
    except InvalidDicomError:
        pass  # no DICM marker: try the raw data set below
    except MemoryError:
        raise ScanReadError(path, "not enough memory to parse the DICOM header") from None
    except Exception as exc:
        raise ScanReadError(path, f"not a readable DICOM file ({_describe_exception(exc)})") from None
    try:
        with BoundedFile(path) as fp:
            ds = _finish(dcmread(fp, stop_before_pixels=header_only, defer_size=defer_size, force=True), path)
        is_dicom = any(keyword in ds for keyword in _IDENTIFYING_KEYWORDS)
    except Exception:
        is_dicom = False
    if not is_dicom:
        raise ScanReadError(
            path, "not a DICOM file (no 'DICM' marker at byte 128 and no DICOM elements at the start)"
        )
    _set_guessed_transfer_syntax(ds)
    return ds


def _refuse_short_reads(ds: Dataset, fp: BoundedFile, path: str) -> None:
    """Raise when an element's declared length runs past the end of the file (truncated, or a lying length).

    pydicom keeps the bytes that are there and says nothing. Reads inside
    encapsulated Pixel Data are left to the pixel decoder, which names the
    transfer syntax in its message.
    """
    if not fp.short_reads:
        return
    from pydicom.datadict import keyword_for_tag
    from pydicom.tag import Tag

    offsets = {offset: (requested, available) for offset, requested, available in fp.short_reads}
    for elem in ds.elements():  # top level, raw: no value conversion (a malformed value must not raise here)
        tell = getattr(elem, "value_tell", None)
        if tell in offsets:
            requested, available = offsets[tell]
            name = f"{Tag(elem.tag)} {keyword_for_tag(elem.tag)}".strip()
            raise ScanReadError(
                path,
                f"file is truncated or corrupt: element {name} declares {requested} bytes, "
                f"but the file ends {available} bytes later",
            )


def _finish(ds: Dataset, path: str) -> Dataset:
    """Make a data set read through :class:`BoundedFile` re-open the file the same way.

    Deferred values (pixels left on disk) are read later by re-opening the
    file with ``fileobj_type``; a lying element length must not make that
    read allocate gigabytes either.
    """
    ds.filename = path
    ds.fileobj_type = BoundedFile
    return ds


def _describe_exception(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def has_pixel_data(ds: Dataset) -> bool:
    """True when the data set holds a Pixel Data (or float Pixel Data) element."""
    return any(tag in ds for tag in _PIXEL_TAGS)


def missing_pixels_error(ds: Dataset, path: str) -> ScanReadError:
    """The error for a data set without pixels: truncated file, or a non-image object.

    pydicom drops every element it parsed when the file ends inside an
    undefined-length element (a truncated encapsulated Pixel Data): the
    data set then looks empty although the header (read again, stopping
    before the pixels) describes an image.
    """
    header = ds
    if "Rows" not in ds:
        try:
            header = load_dataset(path, header_only=True)
        except ScanReadError:
            header = ds
    file_meta = getattr(ds, "file_meta", None)
    sop_class = header.get("SOPClassUID") or (
        file_meta.get("MediaStorageSOPClassUID") if file_meta is not None else None
    )
    what = sop_class_name(sop_class) if sop_class else "unknown object"
    if "Rows" in header and "Columns" in header:
        tsyntax = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
        label = transfer_syntax_label(tsyntax) if tsyntax else "unknown transfer syntax"
        size = os.path.getsize(path)
        return ScanReadError(
            path,
            f"file is truncated: it ends inside the Pixel Data of this {what} "
            f"({label}; {size} bytes on disk, the pixel data's end delimiter is missing)",
        )
    modality = header.get("Modality")
    suffix = f" (modality {modality})" if modality else ""
    if any(word in what for word in _IMAGE_CLASS_WORDS):
        return ScanReadError(
            path,
            f"no pixel data found although this is a {what} object{suffix}: "
            "the file is incomplete or its data set could not be parsed",
        )
    if sop_class is None:
        return ScanReadError(path, f"no pixel data: not an image{suffix}")
    return ScanReadError(path, f"no pixel data: a {what} object{suffix}, not an image")


@dataclass
class ModalityValues:
    """Pixels in modality units plus what the conversion decided."""

    pixels: np.ndarray
    is_color: bool
    window: tuple[float, float] | None
    windows: list[dict[str, Any]] = field(default_factory=list)
    transform: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)


def modality_values(
    stored: np.ndarray,
    photometric: str,
    module: PixelModule,
    ds: Dataset,
    transforms: list[ModalityTransform] | None = None,
) -> ModalityValues:
    """Stored values -> modality values; the only place MONOCHROME1 is inverted.

    ``stored`` has the frame axis first; ``transforms`` (one per frame)
    default to those of ``ds``. The file's preferred window is mirrored
    together with MONOCHROME1 data so that it still shows the same thing.
    """
    windows = file_windows(ds)
    if photometric == "PALETTE COLOR":
        return ModalityValues(apply_palette(stored, ds), True, None, windows, {"source": "Palette Color LUT"})
    if photometric == "RGB" or stored.ndim == 4:
        return ModalityValues(stored, True, None, windows)
    warnings: list[str] = []
    if transforms is None:
        transforms, warnings = modality_transforms(ds, stored.shape[0])
    values = apply_modality_transforms(stored, transforms)
    window = (windows[0]["center"], windows[0]["width"]) if windows else None
    if photometric == "MONOCHROME1":
        low, high = modality_value_range(transforms, module.bits_stored, module.pixel_representation)
        if values.size:
            low, high = min(low, float(values.min())), max(high, float(values.max()))
        values = invert_monochrome1(values, low, high)
        if window is not None:
            window = mirror_window(window, low, high)
        for item in windows:
            item["center"], item["width"] = mirror_window((item["center"], item["width"]), low, high)
            item["mirrored_for_monochrome1"] = True
    transform_info = transforms[0].describe() if transforms else None
    if transforms and len({t.key() for t in transforms}) > 1 and transform_info is not None:
        transform_info["per_frame"] = True
    return ModalityValues(values, False, window, windows, transform_info, warnings)


def _frame_geometry(
    ds: Dataset, n_frames: int, metadata: dict[str, Any]
) -> tuple[tuple, tuple, tuple, np.ndarray | None]:
    """(spacing, origin, direction, frame order or None) for a multi-frame file."""
    (sx, sy), _ = geometry.pixel_spacing(ds)
    orientation = geometry.frame_orientation(ds)
    positions = geometry.frame_positions(ds, n_frames, orientation)
    thickness = geometry.slice_thickness(ds)
    direction = geometry.direction_matrix(*orientation) if orientation else geometry.IDENTITY_3D
    if positions is not None and orientation is not None:
        layout = geometry.stack_layout(positions, orientation)
        if isinstance(layout, geometry.StackLayout):
            metadata["warnings"].extend(layout.warnings)
            order = None if np.array_equal(layout.order, np.arange(n_frames)) else layout.order
            if order is not None:
                metadata["frames_reordered_by_position"] = True
            return (sx, sy, layout.spacing), tuple(float(v) for v in layout.origin), direction, order
        metadata["warnings"].append(f"frames kept in file order: {layout}")
        origin = tuple(float(v) for v in positions[0])
    else:
        position = geometry.position_from(ds)
        origin = tuple(float(v) for v in position) if position is not None else (0.0, 0.0, 0.0)
        if orientation is None:
            metadata["frame_axis"] = "frames (no slice positions: time or views)"
    return (sx, sy, thickness or 1.0), origin, direction, None


def dataset_to_scan(ds: Dataset, path: str) -> Scan:
    """Decode a parsed data set (with pixels) into a :class:`Scan`."""
    if not has_pixel_data(ds):
        raise missing_pixels_error(ds, path)
    module = read_pixel_module(ds, path)
    stored, photometric, decoder = decode_stored_pixels(ds, module, path)
    values = modality_values(stored, photometric, module, ds)
    metadata = header_summary(ds)
    (sx, sy), spacing_source = geometry.pixel_spacing(ds)
    metadata.update(
        photometric_out="RGB" if values.is_color else "MONOCHROME2",
        decoder=decoder,
        pixel_spacing_source=spacing_source,
        n_frames=module.n_frames,
        windows=values.windows,
        warnings=list(values.warnings),
        dicom=dicom_tags(ds),
    )
    if values.transform is not None:
        metadata["modality_lut"] = values.transform

    pixels = values.pixels
    if module.n_frames == 1:
        pixels = pixels[0]
        spacing: tuple = (sx, sy)
        origin: tuple = (0.0, 0.0)
        direction: tuple = (1.0, 0.0, 0.0, 1.0)
    else:
        spacing, origin, direction, order = _frame_geometry(ds, module.n_frames, metadata)
        if order is not None:
            pixels = pixels[order]
    if not pixels.flags.writeable or not pixels.flags.c_contiguous:
        pixels = np.array(pixels)  # own the memory (not a view on the file's bytes)
    return Scan(
        path=path,
        kind="dicom-file",
        pixels=pixels,
        spacing=tuple(float(v) for v in spacing),
        origin=tuple(float(v) for v in origin),
        direction=tuple(float(v) for v in direction),
        modality=str(ds.get("Modality")) if ds.get("Modality") else None,
        is_color=values.is_color,
        n_frames=module.n_frames,
        window=values.window,
        metadata=metadata,
        patient_id=str(ds.get("PatientID")) if ds.get("PatientID") else None,
        study_uid=str(ds.get("StudyInstanceUID")) if ds.get("StudyInstanceUID") else None,
        series_uid=str(ds.get("SeriesInstanceUID")) if ds.get("SeriesInstanceUID") else None,
        sop_uids=[str(ds.SOPInstanceUID)] if ds.get("SOPInstanceUID") else [],
    )


def read_dicom_file(path: str | os.PathLike) -> Scan:
    """Read one DICOM file into a :class:`Scan`; ``ScanReadError`` says why when it cannot."""
    path = os.fspath(path)
    ds = load_dataset(path)
    try:
        return dataset_to_scan(ds, path)
    except ScanReadError:
        raise
    except MemoryError:
        raise ScanReadError(path, "not enough memory to hold the image") from None
    except Exception as exc:  # malformed header values in an otherwise readable file
        raise ScanReadError(path, f"unreadable DICOM image ({_describe_exception(exc)})") from None
