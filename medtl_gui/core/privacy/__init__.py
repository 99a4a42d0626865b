"""Patient privacy: de-identification of exports (DICOM PS3.15 basic profile) and its rule table.

- :func:`deidentify_dataset` - a de-identified copy of a pydicom data set.
- :func:`deidentify_record` - a de-identified copy of one CSV/JSON export row.
- :data:`BASIC_PROFILE` - keyword -> action of PS3.15 Table E.1-1.
- :func:`pseudonym`, :func:`hashed_uid` - the salted replacements both use.
- :func:`export_labels_csv`, :func:`export_masks` - project exports, de-identified
  unless the user opts out, each recorded in the project's export log.

What the UI hides by default is decided from the same table
(:mod:`medtl_gui.core.imaging.privacy`); who exported what is recorded in
the project's append-only export log (``Project.record_export``). Never
imports Qt or torch.
"""

from medtl_gui.core.privacy.basic_profile import BASIC_PROFILE, resolved_action
from medtl_gui.core.privacy.project_export import export_labels_csv, export_masks, project_salt
from medtl_gui.core.privacy.deidentify import (
    DEIDENTIFICATION_METHOD,
    deidentify_dataset,
    deidentify_record,
    has_burned_in_annotation,
    hashed_uid,
    pseudonym,
)

__all__ = [
    "BASIC_PROFILE",
    "DEIDENTIFICATION_METHOD",
    "deidentify_dataset",
    "deidentify_record",
    "export_labels_csv",
    "export_masks",
    "has_burned_in_annotation",
    "hashed_uid",
    "project_salt",
    "pseudonym",
    "resolved_action",
]
