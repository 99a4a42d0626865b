"""NIfTI masks that carry their scan's geometry, and are refused when it does not match.

A mask written here gets the source scan's size, spacing, origin and
direction (through SimpleITK, whose conventions ``Scan`` shares), so other
tools (ITK-SNAP, 3D Slicer) overlay it on the scan correctly. Reading
checks the file against the scan and refuses a mask of another size or
placed elsewhere in space, naming what differs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from medtl_gui.core.masks.errors import MaskFormatError
from medtl_gui.core.masks.png_masks import check_label_mask

#: tolerances of the geometry check (mm for spacing/origin, cosine units for direction)
SPACING_TOLERANCE = 1e-3
ORIGIN_TOLERANCE = 1e-2
DIRECTION_TOLERANCE = 1e-4


def _plane_shape(scan: Any) -> tuple[int, ...]:
    shape = tuple(np.asarray(scan.pixels).shape)
    return shape[:-1] if getattr(scan, "is_color", False) else shape


def write_mask_nifti(path: str | os.PathLike, mask: np.ndarray, scan: Any) -> Path:
    """Write ``mask`` ((y, x) or (z, y, x), the scan's pixel order) as NIfTI with the scan's geometry."""
    import SimpleITK as sitk

    path = Path(path)
    array = check_label_mask(mask, path, ndim=(2, 3))
    if array.shape != _plane_shape(scan):
        raise MaskFormatError(path, f"mask shape {array.shape} does not match the scan's {_plane_shape(scan)}")
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    dims = image.GetDimension()
    try:
        image.SetSpacing([float(v) for v in scan.spacing[:dims]])
        image.SetOrigin([float(v) for v in scan.origin[:dims]])
        direction = np.asarray(scan.direction, float)
        if direction.size != dims * dims:
            raise MaskFormatError(path, f"the scan's direction has {direction.size} values, not {dims * dims}")
        image.SetDirection(direction.tolist())
    except RuntimeError as exc:
        raise MaskFormatError(path, f"the scan's geometry cannot be stored ({exc})") from exc
    name = path.name if path.name.endswith((".nii", ".nii.gz")) else path.name + ".nii.gz"
    path = path.with_name(name)
    temp = path.with_name(".partial-" + name)
    try:
        sitk.WriteImage(image, str(temp), True)
        os.replace(temp, path)
    except (RuntimeError, OSError) as exc:
        raise MaskFormatError(path, f"cannot write ({exc})") from exc
    return path


def _differs(name: str, found: np.ndarray, expected: np.ndarray, tolerance: float) -> str | None:
    if found.shape != expected.shape or not np.allclose(found, expected, atol=tolerance, rtol=0):
        return f"{name} {np.round(found, 4).tolist()} differs from the scan's {np.round(expected, 4).tolist()}"
    return None


def read_mask_nifti(path: str | os.PathLike, scan: Any) -> np.ndarray:
    """Read a NIfTI mask as uint8 label values in the scan's pixel order, after checking its geometry.

    Refuses (:class:`MaskFormatError`) a file whose size, spacing, origin or
    direction differ from ``scan``'s, or whose values are not integer
    labels 0..255.
    """
    import SimpleITK as sitk

    path = Path(path)
    if not path.is_file():
        raise MaskFormatError(path, "no such file")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise MaskFormatError(path, f"not a readable NIfTI file ({str(exc).strip().splitlines()[-1]})") from exc
    array = sitk.GetArrayFromImage(image)
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise MaskFormatError(path, "a mask must have one value per pixel, not a vector image")
    expected = _plane_shape(scan)
    if array.ndim == 3 and array.shape[0] == 1 and len(expected) == 2:
        array = array[0]
    if array.shape != expected:
        raise MaskFormatError(path, f"mask size {array.shape} does not match the scan's {expected}")
    dims = len(expected)
    problems = [
        _differs("spacing", np.asarray(image.GetSpacing())[:dims], np.asarray(scan.spacing, float)[:dims],
                 SPACING_TOLERANCE),
        _differs("origin", np.asarray(image.GetOrigin())[:dims], np.asarray(scan.origin, float)[:dims],
                 ORIGIN_TOLERANCE),
        _differs("direction", np.asarray(image.GetDirection()).reshape(-1)[: dims * dims],
                 np.asarray(scan.direction, float).reshape(-1), DIRECTION_TOLERANCE),
    ]
    problems = [p for p in problems if p]
    if problems:
        raise MaskFormatError(path, "the mask is not on the scan's grid: " + "; ".join(problems))
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)) or not np.array_equal(array, np.round(array)):
            raise MaskFormatError(path, "mask values must be whole numbers (label values), found fractions")
        array = array.astype(np.int64)
    return check_label_mask(array, path, ndim=(2, 3))
