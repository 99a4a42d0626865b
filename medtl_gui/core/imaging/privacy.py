"""Which metadata identify a patient (hidden in the UI unless the user reveals them).

The list follows the DICOM PS3.15 Annex E basic application-level
confidentiality profile (:data:`medtl_gui.core.privacy.BASIC_PROFILE`):
attributes about the patient, the people involved, the institution and
devices, dates and times, and free text that may name any of them. Export
de-identification (:mod:`medtl_gui.core.privacy`) uses the same table.
UIDs are not hidden: they are random numbers to a reader (exports replace
them).
"""

from __future__ import annotations

from typing import Any, Mapping

from medtl_gui.core.privacy.basic_profile import BASIC_PROFILE

#: the attributes that were hidden before the full profile table was used; kept for callers that import it
PATIENT_IDENTIFYING_KEYWORDS: frozenset[str] = frozenset(
    {
        "PatientName", "PatientID", "PatientBirthDate", "PatientBirthTime", "PatientAddress",
        "PatientTelephoneNumbers", "PatientMotherBirthName", "OtherPatientIDs",
        "OtherPatientIDsSequence", "OtherPatientNames", "PatientBirthName", "MilitaryRank",
        "MedicalRecordLocator", "EthnicGroup", "PatientComments", "PatientInsurancePlanCodeSequence",
        "CountryOfResidence", "RegionOfResidence", "IssuerOfPatientID", "AccessionNumber",
        "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName",
        "ReferringPhysicianName", "ReferringPhysicianAddress", "ReferringPhysicianTelephoneNumbers",
        "PerformingPhysicianName", "NameOfPhysiciansReadingStudy", "OperatorsName",
        "PhysiciansOfRecord", "RequestingPhysician", "StationName", "DeviceSerialNumber",
        "StudyID", "RequestAttributesSequence", "AdmissionID", "PatientAge", "PatientSex",
        "PatientSize", "PatientWeight", "Occupation", "AdditionalPatientHistory",
    }
)

#: every attribute hidden by default: the basic profile's, except UIDs (action U)
HIDDEN_KEYWORDS: frozenset[str] = frozenset(
    {keyword for keyword, action in BASIC_PROFILE.items() if action != "U"} | PATIENT_IDENTIFYING_KEYWORDS
)


def keyword_of(key: str) -> str:
    """A DICOM keyword from MedTL's ``snake_case`` summary keys (``series_description`` -> ``SeriesDescription``).

    Keys that already look like keywords are returned unchanged.
    """
    if "_" not in key and key[:1].isupper():
        return key
    return "".join(part[:1].upper() + part[1:] for part in key.split("_"))


def is_identifying(keyword: str) -> bool:
    """True for attributes that may identify the patient, staff, institution or device (or carry such text).

    Accepts DICOM keywords and MedTL's ``snake_case`` summary keys
    (``series_description``).
    """
    name = keyword_of(keyword)
    return name in HIDDEN_KEYWORDS or name.startswith("Patient")


def visible_metadata(metadata: Mapping[str, Any], reveal: bool = False) -> dict[str, Any]:
    """Metadata with identifying values masked as '(hidden)' unless ``reveal``."""
    if reveal:
        return dict(metadata)
    return {k: ("(hidden)" if is_identifying(k) else v) for k, v in metadata.items()}
