"""NIfTI, MetaImage (MHA/MHD) and NRRD volumes through SimpleITK, orientation kept.

Pixels come from ``GetArrayFromImage`` in (z, y, x[, c]) order; spacing,
origin and direction are the image's own (ITK/LPS conventions, the same as
:class:`Scan`'s). SimpleITK applies NIfTI's ``scl_slope``/``scl_inter``.
A 3-D image with a single slice becomes a 2-D scan; its 3-D geometry is kept
in ``metadata["geometry_3d"]``.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

import numpy as np

from medtl_gui.core.imaging.errors import ScanReadError
from medtl_gui.core.imaging.scan import Scan
from medtl_gui.core.imaging.volume_headers import check_volume_header

#: refuse volumes larger than this (bytes of decoded pixels)
MAX_VOLUME_BYTES = 16 * 2**30


def itk_error_reason(exc: BaseException) -> str:
    """The useful line of a SimpleITK/ITK exception message."""
    text = str(exc)
    match = re.search(r"ITK ERROR: [^:]*: (.+)", text)
    if match:
        reason = match.group(1)
    else:
        reason = text.strip().splitlines()[-1] if text.strip() else type(exc).__name__
    return " ".join(reason.split())[:300]


def _metadata_from(reader: Any, image: Any, path: str) -> dict[str, Any]:
    try:
        image_io = reader.GetImageIO() or reader.GetImageIOFromFileName(path)
    except RuntimeError:
        image_io = None
    metadata: dict[str, Any] = {
        "image_io": image_io or None,
        "pixel_type": image.GetPixelIDTypeAsString(),
        "components_per_pixel": image.GetNumberOfComponentsPerPixel(),
        "size_xyz": list(image.GetSize()),
        "warnings": [],
    }
    keep = ("descrip", "qform_code_name", "sform_code_name", "intent_name", "scl_slope", "scl_inter",
            "ITK_FileNotes", "modality", "Modality")
    for key in reader.GetMetaDataKeys():
        if key in keep:
            value = reader.GetMetaData(key).strip()
            if value:
                metadata[key] = value
    return {k: v for k, v in metadata.items() if v is not None}


def read_volume(path: str | os.PathLike) -> Scan:
    """Read a NIfTI/MHA/MHD/NRRD file (or any image SimpleITK reads) into a :class:`Scan`."""
    import SimpleITK as sitk

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ScanReadError(path, "no such file")
    check_volume_header(path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(path)
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise ScanReadError(path, f"not a readable image volume ({itk_error_reason(exc)})") from None
    size = reader.GetSize()
    components = reader.GetNumberOfComponents()
    if not size or min(size) < 1:
        raise ScanReadError(path, f"image of size {' x '.join(map(str, size))} holds no voxels")
    n_bytes = math.prod(size) * components * 8
    if n_bytes > MAX_VOLUME_BYTES:
        raise ScanReadError(path, f"volume of {' x '.join(map(str, size))} voxels is too large to load")
    try:
        image = reader.Execute()
    except RuntimeError as exc:
        raise ScanReadError(path, f"cannot read the image data ({itk_error_reason(exc)})") from None
    return image_to_scan(image, path, metadata=_metadata_from(reader, image, path))


def image_to_scan(image: Any, path: str, *, metadata: dict[str, Any], kind: str = "volume") -> Scan:
    """Turn a SimpleITK image into a :class:`Scan` (shared with the TIFF fallback)."""
    import SimpleITK as sitk

    if "complex" in image.GetPixelIDTypeAsString():
        raise ScanReadError(path, "complex-valued images are not supported")
    dimension = image.GetDimension()
    if dimension == 4 and image.GetSize()[3] == 1:
        image = image[:, :, :, 0]
        dimension = 3
    if dimension not in (2, 3):
        raise ScanReadError(
            path, f"{dimension}-D images (e.g. time series) are not supported; size {image.GetSize()}"
        )
    components = image.GetNumberOfComponentsPerPixel()
    if components not in (1, 3, 4):
        raise ScanReadError(path, f"unsupported image with {components} components per pixel")
    pixels = sitk.GetArrayFromImage(image)
    if components == 4:
        pixels = pixels[..., :3]
        metadata.setdefault("warnings", []).append("alpha channel dropped")
    if pixels.size == 0:
        raise ScanReadError(path, f"image of size {image.GetSize()} holds no voxels")
    spacing, origin, direction = checked_geometry(image, metadata.setdefault("warnings", []))
    n_frames = 1
    if dimension == 3 and image.GetSize()[2] == 1:
        metadata["geometry_3d"] = {
            "spacing": list(spacing), "origin": list(origin), "direction": list(direction)
        }
        pixels = pixels[0]
        spacing, origin = spacing[:2], origin[:2]
        direction = (direction[0], direction[1], direction[3], direction[4])
    elif dimension == 3:
        n_frames = int(pixels.shape[0])
    pixels = np.ascontiguousarray(pixels)
    if not pixels.dtype.isnative:
        pixels = pixels.astype(pixels.dtype.newbyteorder("="))
    modality = metadata.get("modality") or metadata.get("Modality")
    return Scan(
        path=path,
        kind=kind,
        pixels=pixels,
        spacing=spacing,
        origin=origin,
        direction=direction,
        modality=str(modality) if modality else None,
        is_color=components in (3, 4),
        n_frames=n_frames,
        metadata=metadata,
    )


def checked_geometry(image: Any, warnings: list[str]) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """(spacing, origin, direction) of a SimpleITK image, with unusable values replaced and a warning.

    Spacing must be finite and positive (else 1 mm), the origin finite (else
    0) and the direction matrix finite and invertible (else the identity).
    """
    dimension = image.GetDimension()
    spacing = tuple(float(v) for v in image.GetSpacing())
    origin = tuple(float(v) for v in image.GetOrigin())
    direction = tuple(float(v) for v in image.GetDirection())
    if not all(math.isfinite(v) and v > 0 for v in spacing):
        warnings.append(f"invalid spacing {spacing} in the file; 1 mm assumed")
        spacing = (1.0,) * dimension
    if not all(math.isfinite(v) for v in origin):
        warnings.append(f"invalid origin {origin} in the file; 0 assumed")
        origin = (0.0,) * dimension
    matrix = np.array(direction, dtype=float).reshape(dimension, dimension)
    if not np.all(np.isfinite(matrix)) or abs(np.linalg.det(matrix)) < 1e-6:
        warnings.append("invalid direction cosines in the file; identity assumed")
        direction = tuple(float(v) for v in np.eye(dimension).ravel())
    return spacing, origin, direction
