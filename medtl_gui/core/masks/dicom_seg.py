"""DICOM Segmentation objects (SEG) through highdicom, referencing the source series.

:func:`write_dicom_seg` turns a label mask of a DICOM image or series into
a SEG instance that references every source instance (so PACS viewers
overlay it on the right slices) and carries one segment per label, named
after the project's segmentation labels; binary, or fractional from
probabilities. :func:`read_dicom_seg` reads a SEG back onto its source
series (matched by SOP Instance UID), mapping segments to label values by
their names.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medtl_gui.core.masks.errors import MaskFormatError
from medtl_gui.core.masks.png_masks import check_label_mask

MANUFACTURER = "MedTL"


def _read_sources(files: Sequence[str | os.PathLike], sop_order: Sequence[str] | None) -> list[Any]:
    """The source data sets in the mask's slice order (the scan's SOP order, else along the slice normal)."""
    import pydicom

    datasets = []
    for file in files:
        try:
            datasets.append(pydicom.dcmread(file))
        except Exception as exc:  # noqa: BLE001 - any unreadable source is the same user error
            raise MaskFormatError(file, f"not a readable DICOM source image ({exc})") from exc
    if not datasets:
        raise MaskFormatError("(no files)", "a DICOM SEG needs the source DICOM images")
    if sop_order:
        by_uid = {str(ds.SOPInstanceUID): ds for ds in datasets}
        missing = [uid for uid in sop_order if uid not in by_uid]
        if missing:
            raise MaskFormatError(files[0], f"{len(missing)} instances of the scan are not among the source files")
        return [by_uid[uid] for uid in sop_order]
    if len(datasets) > 1:
        datasets.sort(key=_slice_position)
    return datasets


#: Patient/Study attributes a SEG copies from its sources (type 2: present, may be empty)
_TYPE2_COPIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                 "ReferringPhysicianName", "AccessionNumber", "StudyID")


def _complete_type2(datasets: list[Any]) -> None:
    """Add empty values for type-2 attributes the sources lack (in memory only; the files are not touched)."""
    for ds in datasets:
        for keyword in _TYPE2_COPIED:
            if keyword not in ds:
                setattr(ds, keyword, "")


def _slice_position(ds: Any) -> float:
    orientation = np.asarray(ds.ImageOrientationPatient, float)
    return float(np.dot(np.cross(orientation[:3], orientation[3:]), np.asarray(ds.ImagePositionPatient, float)))


def _complete_slice_thickness(datasets: list[Any]) -> None:
    """Sources without a Slice Thickness get the spacing of their slices (in memory; the SEG needs one)."""
    if all(str(ds.get("SliceThickness", "") or "") for ds in datasets):
        return
    thickness = 1.0
    if len(datasets) > 1 and all("ImagePositionPatient" in ds and "ImageOrientationPatient" in ds
                                 for ds in datasets[:2]):
        thickness = abs(_slice_position(datasets[1]) - _slice_position(datasets[0])) or 1.0
    for ds in datasets:
        if not str(ds.get("SliceThickness", "") or ""):
            ds.SliceThickness = round(thickness, 6)


def _frames(datasets: list[Any]) -> int:
    return sum(int(getattr(ds, "NumberOfFrames", 1) or 1) for ds in datasets)


def write_dicom_seg(
    path: str | os.PathLike,
    mask: np.ndarray,
    source_files: Sequence[str | os.PathLike],
    labels: Sequence[tuple[int, str]],
    *,
    sop_order: Sequence[str] | None = None,
    fractional: np.ndarray | None = None,
    algorithm: str | None = None,
) -> Path:
    """Write a DICOM SEG of ``mask`` over its source images; returns the path.

    ``mask``: label values, (y, x) for one image or (z, y, x) in slice
    order (``sop_order``: the scan's SOP Instance UIDs in that order, e.g.
    ``Scan.sop_uids``; without it the sources are sorted along the slice
    normal). ``labels``: (value, name) of each segment, in segment order.
    ``fractional``: optional probabilities (segments, z, y, x) or
    (segments, y, x) in [0, 1] written as a FRACTIONAL SEG instead.
    ``algorithm``: name of the model for an automatic segmentation (None:
    a manual one).
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    from medtl_gui import __version__

    path = Path(path)
    datasets = _read_sources(source_files, sop_order)
    _complete_type2(datasets)
    _complete_slice_thickness(datasets)
    array = check_label_mask(mask, path, ndim=(2, 3))
    if array.ndim == 2:
        array = array[None]
    rows, columns = int(datasets[0].Rows), int(datasets[0].Columns)
    if array.shape != (_frames(datasets), rows, columns):
        raise MaskFormatError(path, f"mask shape {array.shape} does not match the source images "
                                    f"({_frames(datasets)} frames of {rows} x {columns})")
    if not labels:
        raise MaskFormatError(path, "name at least one segmentation label")
    values = [int(v) for v, _ in labels]
    unknown = sorted(set(np.unique(array).tolist()) - {0, *values})
    if unknown:
        raise MaskFormatError(path, f"mask values {unknown} are not among the labels {values}")
    algorithm_type = hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC if algorithm else \
        hd.seg.SegmentAlgorithmTypeValues.MANUAL
    identification = hd.AlgorithmIdentificationSequence(
        name=algorithm, version=__version__, family=codes.cid7162.ArtificialIntelligence) if algorithm else None
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number, segment_label=name, segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue, algorithm_type=algorithm_type,
            algorithm_identification=identification)
        for number, (_, name) in enumerate(labels, start=1)
    ]
    if fractional is not None:
        probabilities = np.asarray(fractional, dtype=np.float32)
        if probabilities.ndim == 3:
            probabilities = probabilities[:, None]
        if probabilities.shape != (len(labels), *array.shape):
            raise MaskFormatError(path, f"fractional shape {probabilities.shape} does not match "
                                        f"{(len(labels), *array.shape)}")
        pixel_array = np.moveaxis(np.clip(probabilities, 0.0, 1.0), 0, -1)
        seg_type = hd.seg.SegmentationTypeValues.FRACTIONAL
    else:
        pixel_array = np.stack([array == value for value in values], axis=-1).astype(np.uint8)
        seg_type = hd.seg.SegmentationTypeValues.BINARY
    try:
        with warnings.catch_warnings():  # the sources' own patient names are not ours to judge
            warnings.filterwarnings("ignore", message=".*person name.*", category=UserWarning)
            seg = hd.seg.Segmentation(
                source_images=datasets, pixel_array=pixel_array, segmentation_type=seg_type,
                segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=900,
                sop_instance_uid=hd.UID(), instance_number=1, manufacturer=MANUFACTURER,
                manufacturer_model_name="MedTL", software_versions=__version__, device_serial_number="0",
                omit_empty_frames=False,
            )
        temp = path.with_name(f".{path.name}.partial")
        seg.save_as(temp, enforce_file_format=True)
        os.replace(temp, path)
    except (ValueError, TypeError, AttributeError) as exc:
        raise MaskFormatError(path, f"cannot build a DICOM SEG from these sources ({exc})") from exc
    except OSError as exc:
        raise MaskFormatError(path, f"cannot write ({exc.strerror or exc})") from exc
    return path


def read_dicom_seg(
    path: str | os.PathLike,
    sop_order: Sequence[str],
    label_values: Mapping[str, int],
    threshold: float = 0.5,
) -> np.ndarray:
    """A SEG's segments as one uint8 label mask over the source scan, (z, y, x) in ``sop_order``.

    ``sop_order``: the scan's SOP Instance UIDs in slice order; every one
    the SEG references must be among them and slices it does not cover
    stay 0. ``label_values``: project label name -> mask value; a segment
    whose label is not named there is refused. Fractional segments count
    where their probability is >= ``threshold``; later segments win where
    segments overlap.
    """
    import highdicom as hd

    path = Path(path)
    if not path.is_file():
        raise MaskFormatError(path, "no such file")
    try:
        seg = hd.seg.segread(path)
    except Exception as exc:  # noqa: BLE001 - highdicom/pydicom raise many kinds for a non-SEG file
        raise MaskFormatError(path, f"not a readable DICOM SEG ({exc})") from exc
    referenced = [uid for _, _, uid in seg.get_source_image_uids()]
    order = [str(uid) for uid in sop_order]
    outside = [uid for uid in referenced if uid not in order]
    if outside:
        raise MaskFormatError(path, f"the SEG references {len(outside)} instances that are not in this scan "
                                    "(it belongs to another series)")
    numbers = list(seg.segment_numbers)
    values = []
    for number in numbers:
        name = seg.get_segment_description(number).segment_label
        if name not in label_values:
            raise MaskFormatError(path, f"segment {number} is labelled {name!r}, which is not a segmentation "
                                        f"label of the project ({', '.join(label_values) or 'none'})")
        values.append(int(label_values[name]))
    covered = [uid for uid in order if uid in set(referenced)]
    try:
        pixels = seg.get_pixels_by_source_instance(covered, segment_numbers=numbers, combine_segments=False,
                                                   skip_overlap_checks=True)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise MaskFormatError(path, f"cannot map the SEG frames onto the scan ({exc})") from exc
    rows, columns = pixels.shape[1:3]
    mask = np.zeros((len(order), rows, columns), dtype=np.uint8)
    position = {uid: index for index, uid in enumerate(order)}
    for frame, uid in enumerate(covered):
        for k, value in enumerate(values):
            mask[position[uid]][np.asarray(pixels[frame, ..., k], dtype=np.float32) >= threshold] = value
    return mask
