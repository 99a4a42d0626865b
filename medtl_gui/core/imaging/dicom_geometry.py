"""Patient-space geometry of DICOM images: orientation, spacing, slice order.

Conventions follow SimpleITK/ITK (LPS patient coordinates, mm):
- Image Orientation (Patient) gives the row direction (towards increasing
  column index, image x) and the column direction (increasing row index,
  image y); the slice normal is their cross product.
- ``direction`` is the row-major 3x3 matrix whose *columns* are the x, y
  and slice-normal directions, so ``physical = origin + D @ (i*sx, j*sy, k*sz)``.
- Slices are ordered by their Image Position (Patient) projected on the
  normal, never by file name or Instance Number; the slice spacing is the
  median step between consecutive projections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: orientations that differ by less than this (direction cosines) are "the same"
ORIENTATION_TOLERANCE = 1e-4
#: direction matrix of an image without orientation attributes
IDENTITY_3D: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
#: slice steps that differ by more than this fraction of the median are "uneven"
UNEVEN_SPACING_FRACTION = 0.01


def _floats(value: Any, count: int) -> list[float] | None:
    """``count`` finite floats from a multi-valued DS, or None."""
    if value is None:
        return None
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    if len(numbers) != count or not all(np.isfinite(numbers)):
        return None
    return numbers


def orientation_from(item: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(row direction, column direction) unit vectors from Image Orientation (Patient), or None."""
    numbers = _floats(item.get("ImageOrientationPatient") if item is not None else None, 6)
    if numbers is None:
        return None
    row, col = np.array(numbers[:3]), np.array(numbers[3:])
    row_norm, col_norm = np.linalg.norm(row), np.linalg.norm(col)
    if row_norm < 1e-6 or col_norm < 1e-6:
        return None
    return row / row_norm, col / col_norm


def position_from(item: Any) -> np.ndarray | None:
    """Image Position (Patient) as a 3-vector, or None."""
    numbers = _floats(item.get("ImagePositionPatient") if item is not None else None, 3)
    return np.array(numbers) if numbers is not None else None


def direction_matrix(row: np.ndarray, col: np.ndarray) -> tuple[float, ...]:
    """Row-major 3x3 direction matrix with columns (row dir, column dir, normal)."""
    normal = np.cross(row, col)
    matrix = np.column_stack([row, col, normal])
    return tuple(float(v) for v in matrix.ravel())


def _first(ds: Any, keyword: str) -> Any:
    seq = ds.get(keyword) if ds is not None else None
    return seq[0] if seq else None


def _functional_item(ds: Any, group_keyword: str, frame: int = 0) -> Any:
    """The first item of ``group_keyword`` for a frame: per-frame first, then shared."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame and frame < len(per_frame):
        item = _first(per_frame[frame], group_keyword)
        if item is not None:
            return item
    shared = _first(ds, "SharedFunctionalGroupsSequence")
    return _first(shared, group_keyword)


def pixel_spacing(ds: Any) -> tuple[tuple[float, float], str]:
    """((x spacing, y spacing) in mm, the attribute it came from).

    Pixel Spacing is (row spacing, column spacing), i.e. (y, x). Falls back
    to Imager Pixel Spacing (projection radiographs, at the detector) and
    finally to 1 mm with source ``"none (assumed 1 mm)"``.
    """
    measures = _functional_item(ds, "PixelMeasuresSequence")
    candidates = (
        (measures, "PixelSpacing", "Pixel Measures (functional groups)"),
        (ds, "PixelSpacing", "Pixel Spacing"),
        (ds, "ImagerPixelSpacing", "Imager Pixel Spacing (detector plane)"),
        (ds, "NominalScannedPixelSpacing", "Nominal Scanned Pixel Spacing"),
    )
    for item, keyword, source in candidates:
        if item is None:
            continue
        numbers = _floats(item.get(keyword), 2)
        if numbers is not None and numbers[0] > 0 and numbers[1] > 0:
            return (numbers[1], numbers[0]), source
    return (1.0, 1.0), "none (assumed 1 mm)"


def slice_thickness(ds: Any) -> float | None:
    """Spacing Between Slices, else Slice Thickness (mm), from functional groups or top level."""
    measures = _functional_item(ds, "PixelMeasuresSequence")
    for item in (measures, ds):
        if item is None:
            continue
        for keyword in ("SpacingBetweenSlices", "SliceThickness"):
            value = item.get(keyword)
            try:
                number = float(value) if value not in (None, "") else None
            except (TypeError, ValueError):
                number = None
            if number is not None and np.isfinite(number) and number > 0:
                return number
    return None


def frame_orientation(ds: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Orientation of a (multi-frame) file: functional groups first, then top level."""
    item = _functional_item(ds, "PlaneOrientationSequence")
    return orientation_from(item) or orientation_from(ds)


def frame_positions(
    ds: Any, n_frames: int, orientation: tuple[np.ndarray, np.ndarray] | None
) -> np.ndarray | None:
    """(n_frames, 3) positions of each frame of a multi-frame file, or None when unknown.

    Enhanced multi-frame: Plane Position (per frame). RT Dose: Image
    Position plus Grid Frame Offset Vector along the normal. A single-frame
    file: its Image Position (Patient).
    """
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame and len(per_frame) == n_frames:
        positions = [position_from(_first(item, "PlanePositionSequence")) for item in per_frame]
        if all(p is not None for p in positions):
            return np.array(positions)
    origin = position_from(ds)
    if origin is None:
        return None
    if n_frames == 1:
        return origin[None, :]
    offsets = _floats(ds.get("GridFrameOffsetVector"), n_frames)
    if offsets is not None and orientation is not None:
        normal = np.cross(*orientation)
        offsets_arr = np.array(offsets)
        if offsets_arr[0] != 0.0:  # absolute positions along the normal (axial dose grids)
            offsets_arr = offsets_arr - float(origin @ normal)
        return origin[None, :] + offsets_arr[:, None] * normal[None, :]
    return None


@dataclass
class StackLayout:
    """How a set of parallel slices forms a volume."""

    order: np.ndarray  # slice indices sorted along the normal
    spacing: float  # mm between consecutive slices (median)
    origin: np.ndarray  # position of the first slice after sorting
    projections: np.ndarray  # sorted positions projected on the normal
    warnings: list[str] = field(default_factory=list)


def stack_layout(positions: np.ndarray, orientation: tuple[np.ndarray, np.ndarray]) -> StackLayout | str:
    """Sort slices along the normal; return the layout, or a reason why they are no stack.

    Duplicate positions (several echoes, time points or segments) are not a
    stack. Uneven steps (missing slices) and slices that are not aligned
    along the normal (gantry tilt) are accepted with a warning.
    """
    normal = np.cross(*orientation)
    projections = positions @ normal
    order = np.argsort(projections, kind="stable")
    sorted_proj = projections[order]
    if len(order) == 1:
        return StackLayout(order, 0.0, positions[0], sorted_proj)
    steps = np.diff(sorted_proj)
    if steps.min() < 1e-4:
        distinct = len(np.unique(np.round(sorted_proj, 3)))
        return (
            f"{len(order)} images at only {distinct} distinct slice positions "
            "(several echoes, time points or stacks in one series?)"
        )
    spacing = float(np.median(steps))
    warnings: list[str] = []
    if steps.max() - steps.min() > max(1e-3, UNEVEN_SPACING_FRACTION * spacing):
        warnings.append(
            f"uneven slice spacing: steps from {steps.min():.4g} to {steps.max():.4g} mm "
            f"(median {spacing:.4g} mm used); slices may be missing"
        )
    sorted_positions = positions[order]
    in_plane = (sorted_positions - sorted_positions[0]) - np.outer(sorted_proj - sorted_proj[0], normal)
    if np.abs(in_plane).max() > max(1e-2, 0.01 * spacing):
        warnings.append(
            "slice positions are not aligned along the slice normal (gantry tilt or sheared "
            "acquisition); the volume is shown unsheared"
        )
    return StackLayout(order, spacing, sorted_positions[0], sorted_proj, warnings)
