"""De-identification of DICOM data sets and of exported records (PS3.15 basic profile).

- :func:`deidentify_dataset` applies :data:`.basic_profile.BASIC_PROFILE` to a
  copy of a pydicom data set: listed attributes removed, emptied or given
  dummy values; every private attribute, curve and overlay data removed;
  instance UIDs replaced by hashed ``2.25.`` UIDs (:func:`hashed_uid`), so
  the same source UID always maps to the same new UID for one salt (series
  stay series, references stay valid);
  the patient ID and name replaced by a salted pseudonym (the same patient
  keeps the same pseudonym, so patient-level splits survive); Patient
  Identity Removed = YES and De-identification Method (plus its code
  sequence) set. Pixel data and geometry (positions, orientation, spacing)
  are kept. Identifying text burned into the pixels is *not* removed:
  :func:`has_burned_in_annotation` tells the caller to warn about it.
- :func:`deidentify_record` does the same for one row of a CSV/JSON export.

The salt is the secret that makes pseudonyms unguessable: keep one per
project (or per export destination) and never export it.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from medtl_gui.core.privacy.basic_profile import (
    BASIC_PROFILE,
    CURVE_GROUPS,
    OVERLAY_GROUPS,
    OVERLAY_REMOVED_ELEMENTS,
    resolved_action,
)

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

#: what De-identification Method (0012,0063) says
DEIDENTIFICATION_METHOD = "MedTL: DICOM PS3.15 Basic Application Level Confidentiality Profile"
#: CID 7050 code of the basic profile (DCM 113100)
BASIC_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")
#: attributes replaced by the patient pseudonym rather than emptied
PSEUDONYMISED_KEYWORDS = ("PatientID", "PatientName")
_DUMMY_BY_VR = {
    "PN": "ANONYMOUS", "LO": "ANONYMOUS", "SH": "ANONYMOUS", "CS": "ANONYMOUS", "LT": "ANONYMOUS",
    "ST": "ANONYMOUS", "UT": "ANONYMOUS", "UC": "ANONYMOUS", "AE": "ANONYMOUS", "DA": "19000101",
    "TM": "000000.00", "DT": "19000101000000", "AS": "000Y", "IS": "0", "DS": "0",
}


def pseudonym(value: str, salt: str) -> str:
    """A stable pseudonym of an identifier, e.g. ``ANON-3F2A9C...`` (16 hex digits of a salted SHA-256)."""
    digest = hashlib.sha256(f"{salt}\x00{value}".encode("utf-8")).hexdigest()
    return f"ANON-{digest[:16].upper()}"


def hashed_uid(uid: str, salt: str) -> str:
    """The UID that replaces ``uid``: ``2.25.`` + a 128-bit number from a salted SHA-256 of it.

    Deterministic (the same salt and UID give the same result, so series
    and references stay consistent across files and exports). pydicom's
    ``generate_uid(prefix=None, entropy_srcs=...)`` is not: with no prefix it
    ignores the entropy sources and returns a random UUID-based UID.
    """
    digest = hashlib.sha256(f"{salt}\x00uid\x00{uid}".encode("utf-8")).digest()[:16]
    return f"2.25.{int.from_bytes(digest, 'big')}"


def _is_well_known_uid(uid: str) -> bool:
    """True for UIDs defined by the standard (SOP classes, transfer syntaxes, coding schemes): never replaced."""
    from pydicom.uid import UID_dictionary

    return str(uid) in UID_dictionary


def has_burned_in_annotation(ds: Dataset) -> bool:
    """True unless the data set says its pixels carry no burned-in text (Burned In Annotation = NO)."""
    return str(ds.get("BurnedInAnnotation", "")).strip().upper() != "NO"


def deidentify_dataset(ds: Dataset, *, keep_uids: bool = False, salt: str) -> Dataset:
    """A de-identified copy of ``ds`` (see the module doc); ``ds`` itself is not changed.

    ``keep_uids``: keep Study/Series/SOP Instance and other UIDs (the
    profile's *Retain UIDs Option*); ``salt``: secret for pseudonyms and UIDs.
    """
    if not salt:
        raise ValueError("a non-empty salt is needed (it keeps pseudonyms and UIDs unguessable)")
    out = copy.deepcopy(ds)
    _apply_profile(out, salt=salt, keep_uids=keep_uids)
    meta = getattr(out, "file_meta", None)
    if meta is not None:
        _apply_profile(meta, salt=salt, keep_uids=keep_uids)
        if "SOPInstanceUID" in out:
            meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    _mark_deidentified(out, keep_uids=keep_uids)
    return out


def _apply_profile(ds: Dataset, *, salt: str, keep_uids: bool) -> None:
    """Apply the basic profile to ``ds`` in place, recursing into sequence items."""
    for element in list(ds):
        tag = element.tag
        if tag.is_private or _is_curve_or_overlay(tag):
            del ds[tag]
            continue
        keyword = element.keyword
        if keyword in PSEUDONYMISED_KEYWORDS:
            text = str(element.value or "").strip()
            element.value = pseudonym(text, salt) if text else ""
            continue
        action = resolved_action(BASIC_PROFILE[keyword]) if keyword in BASIC_PROFILE else None
        if action == "X":
            del ds[tag]
        elif action == "Z":
            element.value = [] if element.VR == "SQ" else ("" if element.VR not in ("US", "SS", "UL", "SL") else None)
        elif action == "D":
            element.value = [] if element.VR == "SQ" else _DUMMY_BY_VR.get(element.VR, "")
        elif element.VR == "UI":
            if not keep_uids:
                element.value = _replaced_uids(element.value, salt)
        elif element.VR == "SQ":
            for item in element.value:
                _apply_profile(item, salt=salt, keep_uids=keep_uids)


def _replaced_uids(value: Any, salt: str) -> Any:
    """Instance UIDs hashed; standard UIDs (classes, syntaxes) kept; multi-valued UIDs element-wise."""
    if value is None or value == "":
        return value
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [uid if _is_well_known_uid(uid) else hashed_uid(uid, salt) for uid in value]
    return value if _is_well_known_uid(value) else hashed_uid(value, salt)


def _is_curve_or_overlay(tag: Any) -> bool:
    group, element = tag.group, tag.element
    return group in CURVE_GROUPS or (group in OVERLAY_GROUPS and element in OVERLAY_REMOVED_ELEMENTS)


def _mark_deidentified(ds: Dataset, *, keep_uids: bool) -> None:
    from pydicom.dataset import Dataset as PydicomDataset
    from pydicom.sequence import Sequence

    ds.PatientIdentityRemoved = "YES"
    method = DEIDENTIFICATION_METHOD + ("; Retain UIDs Option" if keep_uids else "")
    ds.DeidentificationMethod = method[:64]
    codes = []
    for value, scheme, meaning in (BASIC_PROFILE_CODE,) + ((("113110", "DCM", "Retain UIDs Option"),)
                                                           if keep_uids else ()):
        item = PydicomDataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
        codes.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(codes)
    ds.LongitudinalTemporalInformationModified = "REMOVED"


# -- records (CSV / JSON exports) ---------------------------------------------------------------
#: record keys holding a patient identifier: replaced by the pseudonym
PATIENT_ID_KEYS = frozenset({"patient_id", "patientid", "patient", "PatientID", "PatientName", "patient_name",
                             "mrn", "accession_number", "AccessionNumber"})
#: record keys holding instance UIDs: replaced by hashed UIDs
UID_KEYS = frozenset({"study_uid", "series_uid", "sop_uid", "sop_instance_uid", "frame_of_reference_uid",
                      "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"})
#: record keys holding file paths (folder names often carry patient names): only a pseudonymous name is kept
PATH_KEYS = frozenset({"path", "source", "file", "filename", "image_path", "mask_path"})


def deidentify_record(record: Mapping[str, Any], *, salt: str, keep_uids: bool = False) -> dict[str, Any]:
    """A de-identified copy of one export row.

    Patient identifiers become pseudonyms (the same as in de-identified DICOM
    files with the same salt), instance UIDs hashed UIDs, file paths a
    pseudonymous file name with the original extension; other keys that the
    basic profile lists (DICOM keywords, or ``snake_case`` spellings of them)
    are dropped; everything else (labels, splits, scores, sizes) is kept.
    """
    from medtl_gui.core.imaging.privacy import keyword_of

    if not salt:
        raise ValueError("a non-empty salt is needed (it keeps pseudonyms unguessable)")
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in PATIENT_ID_KEYS:
            out[key] = pseudonym(str(value), salt) if value not in (None, "") else value
        elif key in UID_KEYS:
            out[key] = value if keep_uids or value in (None, "") else hashed_uid(str(value), salt)
        elif key in PATH_KEYS:
            out[key] = _pseudonymous_path(value, salt) if value not in (None, "") else value
        elif keyword_of(key) in BASIC_PROFILE or keyword_of(key).startswith("Patient"):
            continue
        else:
            out[key] = value
    return out


def _pseudonymous_path(value: Any, salt: str) -> str:
    name = os.path.basename(str(value).rstrip("/\\"))
    suffix = ".nii.gz" if name.lower().endswith(".nii.gz") else os.path.splitext(name)[1]
    return pseudonym(str(value), salt).lower() + suffix
