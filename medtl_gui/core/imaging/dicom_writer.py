"""Write small synthetic DICOM files and series (demo phantoms, tests, benchmarks).

Uncompressed Explicit VR Little Endian Part 10 files made with pydicom,
with the geometry attributes MedTL reads back (Image Position/Orientation
(Patient), Pixel Spacing), optional rescale and window, and fresh UIDs.
Not a general DICOM writer: it never copies patient data from anywhere.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pydicom.dataset import FileDataset

SOP_CLASS_BY_MODALITY: dict[str, str] = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
    "MR": "1.2.840.10008.5.1.4.1.1.4",  # MR Image Storage
    "CR": "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image Storage
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image Storage - For Presentation
    "OT": "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image Storage
}


def dicom_dataset(
    pixels: np.ndarray,
    *,
    modality: str = "OT",
    photometric: str | None = None,
    rescale: tuple[float, float] | None = None,
    window: tuple[float, float] | None = None,
    position: Sequence[float] | None = None,
    orientation: Sequence[float] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    pixel_spacing: tuple[float, float] = (1.0, 1.0),
    slice_thickness: float | None = None,
    series_uid: str | None = None,
    study_uid: str | None = None,
    instance_number: int = 1,
    series_description: str = "synthetic",
    patient_id: str = "PHANTOM",
    bits_stored: int | None = None,
    extra: dict[str, Any] | None = None,
) -> FileDataset:
    """A Part 10 data set holding ``pixels`` uncompressed.

    ``pixels``: (y, x) or (frames, y, x) of uint8/uint16/int16, or (y, x, 3)
    uint8 RGB. ``pixel_spacing`` is (x, y) in mm (MedTL's order; written as
    DICOM's (row, column) = (y, x)). ``rescale`` is (slope, intercept),
    ``window`` (center, width). ``extra`` sets further attributes by keyword.
    """
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID, generate_uid

    arr = np.ascontiguousarray(pixels)
    is_rgb = arr.ndim == 3 and arr.shape[-1] == 3 and arr.dtype == np.uint8 and photometric in (None, "RGB")
    if arr.dtype not in (np.uint8, np.uint16, np.int16):
        raise ValueError(f"unsupported dtype {arr.dtype} (use uint8, uint16 or int16)")
    n_frames = arr.shape[0] if (arr.ndim == 3 and not is_rgb) else 1

    sop_class = SOP_CLASS_BY_MODALITY.get(modality, SOP_CLASS_BY_MODALITY["OT"])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientID = patient_id
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.SeriesDescription = series_description
    ds.SeriesNumber = 1
    ds.InstanceNumber = instance_number
    ds.Rows, ds.Columns = (arr.shape[-3], arr.shape[-2]) if is_rgb else arr.shape[-2:]
    ds.SamplesPerPixel = 3 if is_rgb else 1
    ds.PhotometricInterpretation = photometric or ("RGB" if is_rgb else "MONOCHROME2")
    if is_rgb:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = arr.dtype.itemsize * 8
    ds.BitsStored = bits_stored or ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if arr.dtype.kind == "i" else 0
    if n_frames > 1:
        ds.NumberOfFrames = n_frames
    ds.PixelSpacing = [float(pixel_spacing[1]), float(pixel_spacing[0])]
    if position is not None:
        ds.ImagePositionPatient = [float(v) for v in position]
        ds.ImageOrientationPatient = [float(v) for v in orientation]
        ds.FrameOfReferenceUID = generate_uid()
    if slice_thickness is not None:
        ds.SliceThickness = float(slice_thickness)
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = float(rescale[0]), float(rescale[1])
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = float(window[0]), float(window[1])
    for keyword, value in (extra or {}).items():
        setattr(ds, keyword, value)
    ds.PixelData = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
    return ds


def write_dicom_series(
    folder: str | os.PathLike,
    volume: np.ndarray,
    *,
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    orientation: Sequence[float] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    modality: str = "CT",
    rescale: tuple[float, float] | None = None,
    window: tuple[float, float] | None = None,
    series_uid: str | None = None,
    study_uid: str | None = None,
    series_description: str = "synthetic",
    shuffle_names: bool = False,
    seed: int = 0,
) -> list[Path]:
    """Write ``volume`` (z, y, x) as one single-frame file per slice; paths in slice order.

    Slice k lies at ``origin + k * spacing[2] * normal``. With
    ``shuffle_names`` the file names (``slice_NNN.dcm``) and Instance
    Numbers are deliberately not in slice order.
    """
    from pydicom.uid import generate_uid

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    row, col = np.array(orientation[:3], float), np.array(orientation[3:], float)
    normal = np.cross(row, col)
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    frame_of_reference_uid = generate_uid()  # one patient coordinate system for the whole series
    labels = list(range(len(volume)))
    if shuffle_names:
        random.Random(seed).shuffle(labels)
    paths = []
    for k, image in enumerate(volume):
        position = np.asarray(origin, float) + k * spacing[2] * normal
        ds = dicom_dataset(
            image,
            modality=modality,
            rescale=rescale,
            window=window,
            position=position,
            orientation=orientation,
            pixel_spacing=(spacing[0], spacing[1]),
            slice_thickness=spacing[2],
            series_uid=series_uid,
            study_uid=study_uid,
            instance_number=labels[k] + 1,
            series_description=series_description,
        )
        ds.FrameOfReferenceUID = frame_of_reference_uid
        path = folder / f"slice_{labels[k]:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
