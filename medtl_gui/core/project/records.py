"""Plain dataclasses the project store hands out (snapshots of database rows).

They are immutable copies: changing one does not change the project; call the
matching ``Project`` method (``set_label``, ``set_mask`` ...) instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: the three dataset splits, in display order
SPLITS: tuple[str, ...] = ("train", "val", "test")

#: label statuses a clinician can give an image
LABEL_STATUSES: tuple[str, ...] = ("labelled", "uncertain", "skipped")

#: where an annotation came from
ORIGINS: tuple[str, ...] = ("human", "model", "import", "model-confirmed")


@dataclass(frozen=True)
class ImageRecord:
    """One image (2D picture, multi-frame file or volume) in a project.

    ``path`` is as stored: relative to the project folder when ``copied`` (the
    file lives under ``images/``), absolute otherwise; use
    ``Project.image_path(id)`` for an absolute path. DICOM series are stored
    as their folder plus ``series_uid``.
    """

    id: int
    path: str
    copied: bool
    sha256: str
    kind: str  # "dicom-file" | "dicom-series" | "volume" | "raster"
    modality: str | None
    patient_id: str | None
    study_uid: str | None
    series_uid: str | None
    shape: tuple[int, ...]
    n_frames: int
    is_color: bool
    added_at: str
    source: str | None
    import_batch: int | None
    domain: str | None
    split: str | None  # "train" | "val" | "test" | None (unassigned)
    split_origin: str | None  # "import" | "human" | "auto" | None
    label: str | None  # class name of the final label, None when unlabelled
    label_status: str | None
    has_mask: bool
    note: str | None

    @property
    def plane_shape(self) -> tuple[int, int]:
        """(rows, columns) of one frame/slice: the shape a mask must have."""
        if self.n_frames > 1:
            return (self.shape[1], self.shape[2])
        return (self.shape[0], self.shape[1])


@dataclass(frozen=True)
class LabelClass:
    """One classification class: name, display colour, keyboard shortcut, index.

    ``index`` is the class's position for training (0, 1, ...); it never
    changes when the class is renamed.
    """

    name: str
    color: str  # "#rrggbb"
    shortcut: str | None
    index: int


@dataclass(frozen=True)
class SegLabel:
    """A segmentation label: the pixel ``value`` (1..255) it has in masks."""

    name: str
    color: str
    value: int


@dataclass(frozen=True)
class LabelRecord:
    """The clinician's final label for one image."""

    image_id: int
    class_name: str | None  # None for e.g. status "skipped" without a class
    status: str  # one of LABEL_STATUSES
    origin: str  # one of ORIGINS
    user: str | None
    note: str | None
    updated_at: str


@dataclass(frozen=True)
class ProposalRecord:
    """A model's proposed class for one image, kept apart from the final label."""

    image_id: int
    class_name: str
    probabilities: dict[str, float]
    run_id: str | None
    created_at: str


@dataclass(frozen=True)
class MaskRecord:
    """One stored mask file (label mask, model proposal or field of view)."""

    image_id: int
    kind: str  # "label" | "proposal" | "fov"
    slice_index: int | None
    path: str  # relative to the project folder
    sha256: str
    origin: str
    user: str | None
    run_id: str | None
    updated_at: str


@dataclass(frozen=True)
class HistoryEntry:
    """One row of the append-only annotation history.

    ``old_value``/``new_value`` are the decoded JSON values (a class name, a
    split, ``{"class": ..., "status": ...}``, ``{"sha256": ...}`` ...).
    """

    id: int
    timestamp: str  # UTC, ISO 8601
    user: str
    image_id: int | None
    action: str
    old_value: Any
    new_value: Any
    origin: str



@dataclass(frozen=True)
class ExportRecord:
    """One entry of the append-only export audit log: who exported what, when, where, and how."""

    id: int
    timestamp: str
    user: str
    what: str  # kind of export, e.g. "labels-csv", "masks", "report", "dicom-seg", "model"
    destination: str
    deidentified: bool
    n_items: int | None
    details: dict[str, Any]
