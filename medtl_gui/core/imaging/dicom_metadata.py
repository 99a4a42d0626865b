"""What MedTL keeps from a DICOM header: display windows and a JSON-friendly summary.

Only technical and descriptive attributes go into ``Scan.metadata`` (no
patient name or birth date); the patient ID and UIDs have their own
``Scan`` fields.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from medtl_gui.core.imaging.dicom_codecs import transfer_syntax_name

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

_UID_PATTERN = re.compile(r"[0-9]+(\.[0-9]+)*")


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return list(value)
    return [value]


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _windows_in(item: Any, source: str) -> list[dict[str, Any]]:
    """Windows (center, width >= 1) from Window Center/Width of one data set or item."""
    centers = _as_list(item.get("WindowCenter"))
    widths = _as_list(item.get("WindowWidth"))
    explanations = _as_list(item.get("WindowCenterWidthExplanation"))
    out = []
    for index, (center, width) in enumerate(zip(centers, widths)):
        c, w = _finite(center), _finite(width)
        if c is None or w is None or w < 1:
            continue
        window: dict[str, Any] = {"center": c, "width": w, "source": source}
        if index < len(explanations) and str(explanations[index]).strip():
            window["explanation"] = str(explanations[index]).strip()
        out.append(window)
    return out


def _voi_lut_window(ds: Any) -> dict[str, Any] | None:
    """The input range of a VOI LUT Sequence as an equivalent linear window."""
    seq = ds.get("VOILUTSequence")
    if not seq:
        return None
    descriptor = _as_list(seq[0].get("LUTDescriptor"))
    if len(descriptor) != 3:
        return None
    n_entries = int(descriptor[0]) or 2**16
    first = float(descriptor[1])
    explanation = seq[0].get("LUTExplanation")
    window: dict[str, Any] = {
        "center": first + n_entries / 2.0,
        "width": float(n_entries),
        "source": "VOI LUT Sequence (input range)",
    }
    if explanation:
        window["explanation"] = str(explanation)
    return window


def file_windows(ds: Dataset) -> list[dict[str, Any]]:
    """Every display window the file suggests, the preferred one first.

    Order: Window Center/Width (top level), Frame VOI LUT functional group
    (enhanced multi-frame, shared or first frame), then a VOI LUT Sequence
    expressed as the window covering its input range. Values are in
    modality units (the VOI stage follows the modality LUT).
    """
    windows = _windows_in(ds, "Window Center/Width")
    for group, label in (
        ("SharedFunctionalGroupsSequence", "Frame VOI LUT (shared)"),
        ("PerFrameFunctionalGroupsSequence", "Frame VOI LUT (first frame)"),
    ):
        seq = ds.get(group)
        voi = seq[0].get("FrameVOILUTSequence") if seq else None
        if voi:
            windows += _windows_in(voi[0], label)
    lut_window = _voi_lut_window(ds)
    if lut_window is not None:
        windows.append(lut_window)
    return windows


def _text(ds: Any, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number_list(value: Any) -> list[float] | None:
    numbers = [_finite(v) for v in _as_list(value)]
    return [n for n in numbers if n is not None] or None


def header_summary(ds: Dataset) -> dict[str, Any]:
    """JSON-friendly technical summary of a data set (strings, numbers, lists)."""
    file_meta = getattr(ds, "file_meta", None)
    tsyntax = str(file_meta.get("TransferSyntaxUID") or "") if file_meta is not None else ""
    sop_class = ds.get("SOPClassUID") or (file_meta.get("MediaStorageSOPClassUID") if file_meta else None)
    summary: dict[str, Any] = {
        "transfer_syntax_uid": tsyntax or None,
        "transfer_syntax": transfer_syntax_name(tsyntax) if tsyntax else None,
        "sop_class_uid": str(sop_class) if sop_class else None,
        "sop_class": sop_class_name(sop_class) if sop_class else None,
    }
    for key, keyword in (
        ("photometric_interpretation", "PhotometricInterpretation"),
        ("series_description", "SeriesDescription"),
        ("study_description", "StudyDescription"),
        ("body_part", "BodyPartExamined"),
        ("manufacturer", "Manufacturer"),
        ("image_type", "ImageType"),
        ("frame_of_reference_uid", "FrameOfReferenceUID"),
    ):
        text = _text(ds, keyword)
        if text is not None:
            summary[key] = text
    for key, keyword in (
        ("rows", "Rows"),
        ("columns", "Columns"),
        ("samples_per_pixel", "SamplesPerPixel"),
        ("bits_allocated", "BitsAllocated"),
        ("bits_stored", "BitsStored"),
        ("pixel_representation", "PixelRepresentation"),
        ("series_number", "SeriesNumber"),
        ("instance_number", "InstanceNumber"),
    ):
        value = _finite(ds.get(keyword))
        if value is not None:
            summary[key] = int(value)
    for key, keyword in (
        ("image_position_patient", "ImagePositionPatient"),
        ("image_orientation_patient", "ImageOrientationPatient"),
        ("slice_thickness", "SliceThickness"),
        ("frame_time_ms", "FrameTime"),
    ):
        numbers = _number_list(ds.get(keyword))
        if numbers is not None:
            summary[key] = numbers if len(numbers) > 1 else numbers[0]
    return {k: v for k, v in summary.items() if v is not None}


def sop_class_name(uid: Any) -> str:
    """Name of a SOP Class UID (e.g. "RT Structure Set Storage"), the UID when unknown.

    A value that is not a UID at all (binary junk in a corrupt header) is
    named "(invalid SOP Class UID)" instead of being repeated.
    """
    from pydicom.uid import UID

    text = str(uid)
    if len(text) > 64 or not _UID_PATTERN.fullmatch(text):
        return "(invalid SOP Class UID)"
    return UID(text).name or text


#: value representations that hold bulk binary data rather than text or numbers
_BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})


def dicom_tags(ds: Any, max_chars: int = 256) -> dict[str, str]:
    """Every top-level attribute with a keyword, as display text, for the metadata panel.

    Pixel data, overlays' bulk data and other binary values are summarised by
    size; sequences by their item count. Patient-identifying attributes are
    included here: the UI hides them by default (:mod:`.privacy`).
    """
    tags: dict[str, str] = {}
    for element in ds:
        keyword = element.keyword
        if not keyword or element.tag.group == 0x7FE0:
            continue
        try:
            if element.VR == "SQ":
                text = f"(sequence of {len(element.value)} item(s))"
            elif element.VR in _BINARY_VRS:
                size = len(element.value) if element.value is not None else 0
                text = f"({size} bytes of binary data)"
            else:
                value = element.value
                text = "\\".join(str(v) for v in value) if type(value).__name__ == "MultiValue" else str(value)
        except Exception as exc:  # a malformed element must not hide the rest
            text = f"(unreadable: {type(exc).__name__})"
        tags[keyword] = text if len(text) <= max_chars else text[: max_chars - 1] + "…"
    return tags
