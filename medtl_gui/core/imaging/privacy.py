"""Which metadata identify a patient (hidden in the UI unless the user reveals them).

The keywords follow the DICOM PS3.15 Annex E basic application-level
confidentiality profile (attributes about the patient, the people involved
and the institution). Export de-identification builds on the same list.
"""

from __future__ import annotations

from typing import Any, Mapping

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


def is_identifying(keyword: str) -> bool:
    """True for attributes that identify the patient, staff or institution."""
    return keyword in PATIENT_IDENTIFYING_KEYWORDS or keyword.startswith("Patient")


def visible_metadata(metadata: Mapping[str, Any], reveal: bool = False) -> dict[str, Any]:
    """Metadata with identifying values masked as '(hidden)' unless ``reveal``."""
    if reveal:
        return dict(metadata)
    return {k: ("(hidden)" if is_identifying(k) else v) for k, v in metadata.items()}
