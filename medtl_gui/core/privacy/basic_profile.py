"""The DICOM PS3.15 Annex E *Basic Application Level Confidentiality Profile*, as a table.

:data:`BASIC_PROFILE` maps attribute keywords to the profile's action
(PS3.15 Table E.1-1, "Basic Prof." column):

- ``D`` replace with a non-empty dummy value of the same VR
- ``Z`` replace with an empty (zero-length) value
- ``X`` remove
- ``U`` replace the UID with another, consistently within the data set
- compound actions (``X/Z``, ``X/D``, ``Z/D``, ``X/Z/D``, ``X/Z/U*``) leave
  the choice to the implementation; :func:`resolved_action` takes the one
  that keeps the least: remove (X) where removing is allowed, else empty (Z).

Besides the listed attributes the profile removes every private attribute,
curve data (groups 50xx) and overlay data and comments (60xx,3000 /
60xx,4000); :mod:`.deidentify` does that by tag group. Attributes not listed
(geometry, pixel module, acquisition parameters) are kept.
"""

from __future__ import annotations


def _table(action: str, keywords: str) -> dict[str, str]:
    return {keyword: action for keyword in keywords.split()}


BASIC_PROFILE: dict[str, str] = {
    # -- Z: emptied (Type 2 attributes a valid object keeps) -----------------------------------
    **_table("Z", """
        AccessionNumber ContentCreatorName FillerOrderNumberImagingServiceRequest PatientBirthDate PatientID
        PatientName PatientSex PlacerOrderNumberImagingServiceRequest ReferringPhysicianName StudyDate StudyID
        StudyTime VerifyingObserverIdentificationCodeSequence ClinicalTrialCoordinatingCenterName
        ClinicalTrialProtocolEthicsCommitteeApprovalNumber ClinicalTrialSiteID ClinicalTrialTimePointID
    """),
    **_table("Z/D", "ContentDate ContentTime ContrastBolusAgent"),
    # -- D: replaced by a dummy value ----------------------------------------------------------
    **_table("D", """
        GraphicAnnotationSequence PersonIdentificationCodeSequence PersonName VerifyingObserverName
        VerifyingObserverSequence ClinicalTrialSponsorName ClinicalTrialProtocolID ClinicalTrialSubjectID
        ClinicalTrialSubjectReadingID ClinicalTrialProtocolEthicsCommitteeName
    """),
    # -- U: UIDs replaced consistently ------------------------------------------------------------
    **_table("U", """
        ConcatenationUID ContextGroupExtensionCreatorUID CreatorVersionUID DeviceUID DimensionOrganizationUID
        DoseReferenceUID FailedSOPInstanceUIDList FiducialUID FrameOfReferenceUID InstanceCreatorUID
        IrradiationEventUID LargePaletteColorLookupTableUID MediaStorageSOPInstanceUID
        ReferencedFrameOfReferenceUID ReferencedGeneralPurposeScheduledProcedureStepTransactionUID
        ReferencedSOPInstanceUID ReferencedSOPInstanceUIDInFile RelatedFrameOfReferenceUID SeriesInstanceUID
        SOPInstanceUID StorageMediaFileSetUID StudyInstanceUID SynchronizationFrameOfReferenceUID TargetUID
        TransactionUID UID
    """),
    # -- compound actions: resolved to X (remove) by resolved_action ------------------------------
    **_table("X/Z", """
        AcquisitionDate AcquisitionTime ReferencedStudySequence RequestedProcedureDescription ReviewerName
        PatientSexNeutered
    """),
    **_table("X/D", """
        AcquisitionDeviceProcessingDescription DetectorID EndAcquisitionDateTime StartAcquisitionDateTime
        OperatorIdentificationSequence ProtocolName SeriesDate SeriesTime ObservationDateTime
    """),
    **_table("X/Z/D", """
        AcquisitionDateTime DeviceSerialNumber InstitutionCodeSequence InstitutionName OperatorsName StationName
        ReferencedPerformedProcedureStepSequence
    """),
    **_table("X/Z/U*", "ReferencedImageSequence SourceImageSequence"),
    # -- X: removed --------------------------------------------------------------------------------
    **_table("X", """
        AcquisitionComments AcquisitionContextSequence AcquisitionProtocolDescription ActualHumanPerformersSequence
        AdditionalPatientHistory AdmissionID AdmittingDate AdmittingDiagnosesCodeSequence
        AdmittingDiagnosesDescription AdmittingTime Allergies Arbitrary AuthorObserverSequence BranchOfService
        CassetteID CommentsOnThePerformedProcedureStep ConfidentialityConstraintOnPatientDataDescription
        ConsultingPhysicianName ConsultingPhysicianIdentificationSequence ContentCreatorIdentificationCodeSequence
        ContentSequence ContributionDescription CountryOfResidence CurrentPatientLocation CurveDate CurveTime
        CustodialOrganizationSequence DataSetTrailingPadding DerivationDescription DigitalSignatureUID
        DigitalSignaturesSequence DischargeDiagnosisDescription DistributionAddress DistributionName EthnicGroup
        ExpectedCompletionDateTime FrameComments GantryID GeneratorID HumanPerformerName
        HumanPerformerOrganization IconImageSequence IdentifyingComments ImageComments ImagePresentationComments
        ImagingServiceRequestComments Impressions InstitutionAddress InstitutionalDepartmentName
        InsurancePlanIdentification IntendedRecipientsOfResultsIdentificationSequence
        InterpretationApproverSequence InterpretationAuthor InterpretationDiagnosisDescription
        InterpretationIDIssuer InterpretationRecorder InterpretationText InterpretationTranscriber
        IssuerOfAdmissionID IssuerOfPatientID IssuerOfServiceEpisodeID LastMenstrualDate MAC MedicalAlerts
        MedicalRecordLocator MilitaryRank ModifiedAttributesSequence ModifiedImageDescription ModifyingDeviceID
        ModifyingDeviceManufacturer NameOfPhysiciansReadingStudy NamesOfIntendedRecipientsOfResults Occupation
        OrderCallbackPhoneNumber OrderEnteredBy OrderEntererLocation OriginalAttributesSequence OtherPatientIDs
        OtherPatientIDsSequence OtherPatientNames ParticipantSequence PatientAddress PatientAge PatientBirthName
        PatientBirthTime PatientComments PatientInstitutionResidence PatientInsurancePlanCodeSequence
        PatientMotherBirthName PatientPrimaryLanguageCodeSequence PatientPrimaryLanguageModifierCodeSequence
        PatientReligiousPreference PatientSize PatientState PatientTelephoneNumbers PatientTelecomInformation
        PatientTransportArrangements PatientWeight PerformedLocation PerformedProcedureStepDescription
        PerformedProcedureStepEndDate PerformedProcedureStepEndTime PerformedProcedureStepID
        PerformedProcedureStepStartDate PerformedProcedureStepStartTime PerformedStationAETitle
        PerformedStationGeographicLocationCodeSequence PerformedStationName PerformedStationNameCodeSequence
        PerformingPhysicianIdentificationSequence PerformingPhysicianName PersonAddress PersonTelephoneNumbers
        PersonTelecomInformation PhysicianApprovingInterpretation PhysiciansOfRecord
        PhysiciansOfRecordIdentificationSequence PhysiciansReadingStudyIdentificationSequence PlateID
        PreMedication PregnancyStatus ReasonForStudy ReasonForTheImagingServiceRequest
        ReferencedDigitalSignatureSequence ReferencedPatientAliasSequence ReferencedPatientPhotoSequence
        ReferencedPatientSequence ReferencedSOPInstanceMACSequence ReferringPhysicianAddress
        ReferringPhysicianIdentificationSequence ReferringPhysicianTelephoneNumbers RegionOfResidence
        RequestAttributesSequence RequestedContrastAgent RequestedProcedureComments RequestedProcedureID
        RequestedProcedureLocation RequestingPhysician RequestingService ResponsibleOrganization
        ResponsiblePerson ResultsComments ResultsDistributionListSequence ResultsIDIssuer
        ScheduledHumanPerformersSequence ScheduledPatientInstitutionResidence
        ScheduledPerformingPhysicianIdentificationSequence ScheduledPerformingPhysicianName
        ScheduledProcedureStepDescription ScheduledProcedureStepEndDate ScheduledProcedureStepEndTime
        ScheduledProcedureStepLocation ScheduledProcedureStepStartDate ScheduledProcedureStepStartTime
        ScheduledStationAETitle ScheduledStationGeographicLocationCodeSequence ScheduledStationName
        ScheduledStationNameCodeSequence ScheduledStudyLocation ScheduledStudyLocationAETitle SeriesDescription
        ServiceEpisodeDescription ServiceEpisodeID SmokingStatus SourceApplicationEntityTitle SpecialNeeds
        StudyComments StudyDescription StudyIDIssuer TextComments TextString TimezoneOffsetFromUTC TopicAuthor
        TopicKeywords TopicSubject TopicTitle VerifyingOrganization VisitComments
    """),
}

#: tag groups removed whole (curves), and overlay elements removed in every 60xx group
CURVE_GROUPS = range(0x5000, 0x5100, 2)
OVERLAY_GROUPS = range(0x6000, 0x6100, 2)
OVERLAY_REMOVED_ELEMENTS = (0x3000, 0x4000)  # Overlay Data, Overlay Comments


def resolved_action(action: str) -> str:
    """The action taken for a profile entry: compound entries remove (X) when allowed, else empty (Z)."""
    if "/" not in action:
        return action
    options = action.replace("*", "").split("/")
    return "X" if "X" in options else "Z"
