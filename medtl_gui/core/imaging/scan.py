"""The in-memory form of any scan MedTL reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Scan:
    """Pixels plus geometry plus metadata, whatever the file format.

    Conventions (the same as SimpleITK's):
    - ``pixels`` is a numpy array in (z, y, x) order for volumes and
      multi-frame files, (y, x) for single images; colour images carry a
      trailing channel axis of 3 (RGB). Grey values are *modality values*
      (e.g. Hounsfield units for CT), MONOCHROME1 already inverted so that
      higher always means brighter.
    - ``spacing``, ``origin`` are in physical (x, y[, z]) order in mm;
      ``direction`` is the row-major direction-cosine matrix (3x3 or 2x2).
    """

    path: str
    kind: str  # "dicom-file" | "dicom-series" | "volume" | "raster"
    pixels: np.ndarray
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: tuple[float, ...]
    modality: str | None = None
    is_color: bool = False
    n_frames: int = 1  # slices or frames along the first axis (1 for 2D)
    window: tuple[float, float] | None = None  # (center, width) from the file
    metadata: dict[str, Any] = field(default_factory=dict)
    patient_id: str | None = None
    study_uid: str | None = None
    series_uid: str | None = None
    sop_uids: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.pixels.shape)

    @property
    def is_volume(self) -> bool:
        return self.n_frames > 1
