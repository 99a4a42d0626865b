"""PS3.15 basic-profile de-identification: no identifying value survives, pixels and geometry do."""

from __future__ import annotations

import copy
import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.datadict import dictionary_VR, keyword_dict
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from medtl_gui.core.privacy import (
    BASIC_PROFILE,
    deidentify_dataset,
    deidentify_record,
    hashed_uid,
    pseudonym,
    resolved_action,
)

SALT = "project-secret-salt"
TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
GEOMETRY = ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "Rows", "Columns",
            "BitsAllocated", "BitsStored", "PixelRepresentation", "RescaleSlope", "RescaleIntercept")


def secret_value(keyword: str, index: int):  # noqa: ANN201 - a value of the attribute's VR
    """A recognisable value for ``keyword`` (found later by searching the written bytes)."""
    vr = dictionary_VR(keyword_dict[keyword]).split(" or ")[0]
    marker = f"SECRET{index:03d}"
    if vr == "SQ":
        item = Dataset()
        item.CodeMeaning = f"{marker}-in-sequence"
        return Sequence([item])
    return {
        "DA": f"19{index % 100:02d}0203", "TM": f"1{index % 10}2233", "DT": f"19{index % 100:02d}0203112233",
        "AS": f"{index % 1000:03d}Y", "IS": str(700000 + index), "DS": f"{700000 + index}.5",
        "UI": f"1.2.826.0.1.3680043.99.{700000 + index}", "US": 4242, "UL": 424242, "SS": -4242, "SL": -424242,
        "FD": 4242.5, "FL": 42.5, "CS": marker, "AE": marker, "SH": marker, "PN": f"{marker}^Patient",
        "OB": marker.encode() + b"\x00\x00", "OW": marker.encode() + b"\x00\x00", "UN": marker.encode() + b"\x00\x00",
        "AT": 0x00100010, "OF": b"\x00" * 4, "UR": f"http://{marker}.example",
    }.get(vr, f"{marker}-{keyword}")


@pytest.fixture
def identified() -> tuple[Dataset, list[str]]:
    """CT_small.dcm with every basic-profile attribute set to a known value, plus private, curve and overlay data."""
    ds = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
    secrets = []
    for index, keyword in enumerate(sorted(BASIC_PROFILE)):
        if keyword in ("MediaStorageSOPInstanceUID", "SourceApplicationEntityTitle"):
            continue  # file meta, set below
        value = secret_value(keyword, index)
        setattr(ds, keyword, value)
        if isinstance(value, str) and BASIC_PROFILE[keyword] != "U":
            secrets.append(value.split("^")[0])
    ds.file_meta.SourceApplicationEntityTitle = "SECRETAE"
    secrets.append("SECRETAE")
    block = ds.private_block(0x0009, "HOSPITAL PRIVATE", create=True)
    block.add_new(0x01, "LO", "SECRETPRIVATE")
    secrets.append("SECRETPRIVATE")
    ds.add_new(0x50003000, "OW", b"SECRETCURVE\x00")
    ds.add_new(0x60003000, "OW", b"\xff" * 8)  # overlay data
    ds.add_new(0x60004000, "LT", "SECRETOVERLAYCOMMENT")
    secrets += ["SECRETCURVE", "SECRETOVERLAYCOMMENT"]
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "MRN-0042-SECRET"
    secrets += ["Doe", "MRN-0042-SECRET"]
    return ds, secrets


def written(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_every_profile_keyword_is_a_dicom_attribute() -> None:
    unknown = [k for k in BASIC_PROFILE if k not in keyword_dict]
    assert unknown == []
    assert {resolved_action(a) for a in BASIC_PROFILE.values()} == {"X", "Z", "D", "U"}
    assert len(BASIC_PROFILE) > 200


def test_no_identifying_value_survives(identified) -> None:
    source, secrets = identified
    source_uids = {k: str(source[k].value) for k in BASIC_PROFILE if BASIC_PROFILE[k] == "U" and k in source}
    clean = deidentify_dataset(source, salt=SALT)
    data = written(clean)
    for secret in secrets:
        assert secret.encode() not in data, f"{secret!r} is still in the de-identified file"
    for keyword, uid in source_uids.items():
        assert uid.encode() not in data, f"{keyword} kept its UID"
    for keyword, action in BASIC_PROFILE.items():
        where = clean.file_meta if keyword in ("MediaStorageSOPInstanceUID", "SourceApplicationEntityTitle") else clean
        taken = resolved_action(action)
        if keyword in ("PatientID", "PatientName"):
            assert str(where[keyword].value).startswith("ANON-")
        elif taken == "X":
            assert keyword not in where, keyword
        elif taken == "Z":
            assert keyword in where and not where[keyword].value, keyword
        elif taken == "D":
            assert keyword in where and "SECRET" not in str(where[keyword].value), keyword
        elif taken == "U" and keyword in source_uids:
            assert str(where[keyword].value) == hashed_uid(source_uids[keyword], SALT), keyword
    assert not any(elem.tag.is_private for elem in clean)
    assert 0x50003000 not in clean and 0x60003000 not in clean and 0x60004000 not in clean


def test_pixels_geometry_and_classes_are_kept(identified, tmp_path: Path) -> None:
    from medtl_gui.core.imaging import read_scan

    source, _ = identified
    clean = deidentify_dataset(source, salt=SALT)
    assert clean.PixelData == source.PixelData
    for keyword in GEOMETRY:
        assert clean.get(keyword) == source.get(keyword), keyword
    assert clean.SOPClassUID == source.SOPClassUID
    assert clean.file_meta.TransferSyntaxUID == source.file_meta.TransferSyntaxUID
    assert clean.file_meta.MediaStorageSOPInstanceUID == clean.SOPInstanceUID != source.SOPInstanceUID
    (tmp_path / "a").mkdir()
    source.save_as(tmp_path / "a" / "before.dcm", enforce_file_format=True)
    clean.save_as(tmp_path / "after.dcm", enforce_file_format=True)
    before, after = read_scan(tmp_path / "a" / "before.dcm"), read_scan(tmp_path / "after.dcm")
    np.testing.assert_array_equal(before.pixels, after.pixels)
    assert (before.spacing, before.origin, before.direction) == (after.spacing, after.origin, after.direction)


def test_the_source_is_not_changed_and_the_method_is_recorded(identified) -> None:
    source, _ = identified
    clean = deidentify_dataset(source, salt=SALT)
    assert source.PatientName == "Doe^Jane" and "PatientIdentityRemoved" not in source
    assert clean.PatientIdentityRemoved == "YES"
    assert "PS3.15" in clean.DeidentificationMethod
    assert [c.CodeValue for c in clean.DeidentificationMethodCodeSequence] == ["113100"]


def test_uids_are_replaced_consistently_across_a_series() -> None:
    first = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
    second = copy.deepcopy(first)
    second.SOPInstanceUID = first.SOPInstanceUID + ".2"
    a, b = deidentify_dataset(first, salt=SALT), deidentify_dataset(second, salt=SALT)
    assert a.SeriesInstanceUID == b.SeriesInstanceUID != first.SeriesInstanceUID
    assert a.StudyInstanceUID == b.StudyInstanceUID and a.FrameOfReferenceUID == b.FrameOfReferenceUID
    assert a.SOPInstanceUID != b.SOPInstanceUID
    assert a.PatientID == b.PatientID == pseudonym(str(first.PatientID), SALT)
    other_salt = deidentify_dataset(first, salt="another project")
    assert other_salt.SeriesInstanceUID != a.SeriesInstanceUID and other_salt.PatientID != a.PatientID


def test_retain_uids_option() -> None:
    source = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
    clean = deidentify_dataset(source, salt=SALT, keep_uids=True)
    assert clean.SOPInstanceUID == source.SOPInstanceUID and clean.SeriesInstanceUID == source.SeriesInstanceUID
    assert [c.CodeValue for c in clean.DeidentificationMethodCodeSequence] == ["113100", "113110"]


def test_an_empty_salt_is_refused() -> None:
    with pytest.raises(ValueError, match="salt"):
        deidentify_dataset(pydicom.dcmread(TEST_FILES / "CT_small.dcm"), salt="")


def test_records_are_pseudonymised_like_the_dicom_files() -> None:
    record = {"id": 7, "path": "/data/Smith_John/ct/slice1.dcm", "patient_id": "MRN-0042", "label": "nodule",
              "split": "train", "series_uid": "1.2.3.4", "PatientBirthDate": "19700101", "study_description": "CT of Smith",
              "patient_age": "054Y", "score": 0.9}
    clean = deidentify_record(record, salt=SALT)
    assert clean["patient_id"] == pseudonym("MRN-0042", SALT)
    assert clean["series_uid"] == hashed_uid("1.2.3.4", SALT)
    assert clean["path"].endswith(".dcm") and "Smith" not in clean["path"]
    assert {"PatientBirthDate", "study_description", "patient_age"}.isdisjoint(clean)
    assert (clean["label"], clean["split"], clean["score"], clean["id"]) == ("nodule", "train", 0.9, 7)
    assert "MRN-0042" not in repr(clean) and "Smith" not in repr(clean)


def test_the_ui_hides_identifying_attributes_by_default() -> None:
    from medtl_gui.core.imaging.privacy import is_identifying, visible_metadata

    metadata = {"PatientName": "Doe^Jane", "StudyDate": "20240101", "InstitutionName": "General",
                "series_description": "CT of Jane", "OperatorsName": "Tech", "Modality": "CT", "Rows": 512,
                "SeriesInstanceUID": "1.2.3", "transfer_syntax": "JPEG 2000"}
    shown = visible_metadata(metadata)
    assert {k for k, v in shown.items() if v == "(hidden)"} == {
        "PatientName", "StudyDate", "InstitutionName", "series_description", "OperatorsName"}
    assert visible_metadata(metadata, reveal=True) == metadata
    assert is_identifying("PatientID") and not is_identifying("PixelSpacing")
