"""Mask formats: PNG, NIfTI and DICOM SEG round trips are exact and keep (or check) the geometry."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from medtl_gui.core.imaging import read_scan
from medtl_gui.core.masks import (
    MaskFormatError,
    read_dicom_seg,
    read_mask_nifti,
    read_mask_png,
    write_dicom_seg,
    write_mask_nifti,
    write_mask_png,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _ct_series(folder: Path, n: int = 5, rows: int = 24, columns: int = 30) -> Path:
    """A small CT series written with pydicom (one frame of reference, file names out of order)."""
    import pydicom

    from medtl_gui.core.imaging.dicom_writer import write_dicom_series

    volume = np.random.default_rng(0).normal(0, 200, (n, rows, columns)).astype(np.int16)
    files = write_dicom_series(folder, volume, spacing=(0.7, 0.8, 2.5), origin=(10.0, -5.0, 3.0),
                               shuffle_names=True)
    assert len({pydicom.dcmread(f, stop_before_pixels=True).FrameOfReferenceUID for f in files}) == 1
    return folder


def _random_labels(shape: tuple[int, ...], values: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice(np.array((0, *values), np.uint8), size=shape, p=[0.7] + [0.3 / len(values)] * len(values))


def test_png_round_trip_is_exact_and_checks_size(tmp_path: Path) -> None:
    mask = _random_labels((33, 47), (1, 2, 255))
    path = write_mask_png(tmp_path / "m.png", mask)
    back = read_mask_png(path, expected_shape=(33, 47))
    assert back.dtype == np.uint8 and np.array_equal(back, mask)
    with pytest.raises(MaskFormatError, match="does not match"):
        read_mask_png(path, expected_shape=(47, 33))
    from PIL import Image

    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "colour.png")
    with pytest.raises(MaskFormatError, match="colour"):
        read_mask_png(tmp_path / "colour.png")
    with pytest.raises(MaskFormatError, match="0..255"):
        write_mask_png(tmp_path / "x.png", np.full((2, 2), 300))


def test_nifti_round_trip_keeps_the_scan_geometry(tmp_path: Path) -> None:
    import SimpleITK as sitk

    scan = read_scan(_ct_series(tmp_path / "ct"))
    mask = _random_labels(scan.pixels.shape, (1, 4))
    path = write_mask_nifti(tmp_path / "mask.nii.gz", mask, scan)
    assert np.array_equal(read_mask_nifti(path, scan), mask)
    image = sitk.ReadImage(str(path))
    assert np.allclose(image.GetSpacing(), scan.spacing) and np.allclose(image.GetOrigin(), scan.origin)
    assert np.allclose(image.GetDirection(), scan.direction)


@pytest.mark.parametrize("change", [{"origin": (0.0, 0.0, 0.0)}, {"spacing": (0.7, 0.8, 3.0)},
                                    {"direction": (0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0)}])
def test_nifti_on_another_grid_is_refused_with_the_reason(tmp_path: Path, change: dict) -> None:
    scan = read_scan(_ct_series(tmp_path / "ct"))
    path = write_mask_nifti(tmp_path / "mask.nii.gz", np.zeros(scan.pixels.shape, np.uint8), scan)
    with pytest.raises(MaskFormatError, match=f"not on the scan's grid: {next(iter(change))}"):
        read_mask_nifti(path, dataclasses.replace(scan, **change))
    smaller = dataclasses.replace(scan, pixels=scan.pixels[:3])
    with pytest.raises(MaskFormatError, match="does not match the scan"):
        read_mask_nifti(path, smaller)


def test_nifti_of_a_2d_image(tmp_path: Path) -> None:
    from PIL import Image

    Image.fromarray(np.zeros((20, 30), np.uint8)).save(tmp_path / "x.png")
    scan = read_scan(tmp_path / "x.png")
    mask = _random_labels((20, 30), (1,))
    assert np.array_equal(read_mask_nifti(write_mask_nifti(tmp_path / "m.nii", mask, scan), scan), mask)


def test_dicom_seg_round_trip_references_the_source_series(tmp_path: Path) -> None:
    import highdicom as hd

    folder = _ct_series(tmp_path / "ct")
    scan = read_scan(folder)
    mask = np.zeros(scan.pixels.shape, np.uint8)
    mask[1:3, 4:12, 6:20] = 1
    mask[2, 15:20, 2:8] = 3
    path = write_dicom_seg(tmp_path / "seg.dcm", mask, sorted(folder.glob("*.dcm")), [(1, "lesion"), (3, "organ")],
                           sop_order=scan.sop_uids)
    seg = hd.seg.segread(path)
    assert seg.SegmentationType == "BINARY"
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == scan.series_uid
    assert {str(uid) for _, _, uid in seg.get_source_image_uids()} == set(scan.sop_uids)
    assert [seg.get_segment_description(n).segment_label for n in seg.segment_numbers] == ["lesion", "organ"]
    by_highdicom = seg.get_pixels_by_source_instance(scan.sop_uids, combine_segments=True, relabel=False)
    assert np.array_equal(by_highdicom, np.select([mask == 1, mask == 3], [1, 2], 0))
    assert np.array_equal(read_dicom_seg(path, scan.sop_uids, {"lesion": 1, "organ": 3}), mask)
    # the project may use other values for the same names
    assert np.array_equal(read_dicom_seg(path, scan.sop_uids, {"lesion": 5, "organ": 9}),
                          np.select([mask == 1, mask == 3], [5, 9], 0))
    with pytest.raises(MaskFormatError, match="'organ'"):
        read_dicom_seg(path, scan.sop_uids, {"lesion": 1})
    with pytest.raises(MaskFormatError, match="another series"):
        read_dicom_seg(path, ["1.2.3"], {"lesion": 1, "organ": 3})


def test_fractional_dicom_seg_from_probabilities(tmp_path: Path) -> None:
    folder = _ct_series(tmp_path / "ct", n=3)
    scan = read_scan(folder)
    mask = np.zeros(scan.pixels.shape, np.uint8)
    mask[1, 5:15, 5:15] = 1
    probabilities = (mask == 1).astype(np.float32)[None] * 0.8
    path = write_dicom_seg(tmp_path / "frac.dcm", mask, sorted(folder.glob("*.dcm")), [(1, "lesion")],
                           sop_order=scan.sop_uids, fractional=probabilities, algorithm="unet_small")
    import highdicom as hd

    seg = hd.seg.segread(path)
    assert seg.SegmentationType == "FRACTIONAL"
    assert np.array_equal(read_dicom_seg(path, scan.sop_uids, {"lesion": 1}), mask)


def test_dicom_seg_of_a_single_image_from_pydicoms_samples(tmp_path: Path) -> None:
    from medtl_gui.core.project.demo import pydicom_sample_folder

    source = pydicom_sample_folder() / "CT_small.dcm"
    if not source.is_file():
        pytest.skip("pydicom's bundled CT_small.dcm is not installed")
    scan = read_scan(source)
    mask = _random_labels(scan.pixels.shape, (2,))
    path = write_dicom_seg(tmp_path / "seg.dcm", mask, [source], [(2, "nodule")], sop_order=scan.sop_uids)
    assert np.array_equal(read_dicom_seg(path, scan.sop_uids, {"nodule": 2})[0], mask)
    with pytest.raises(MaskFormatError, match="does not match the source"):
        write_dicom_seg(tmp_path / "bad.dcm", mask[:10], [source], [(2, "nodule")])
    with pytest.raises(MaskFormatError, match="not among the labels"):
        write_dicom_seg(tmp_path / "bad.dcm", mask, [source], [(1, "other")])


def test_dicom_seg_on_the_real_mr_series(tmp_path: Path) -> None:
    series = SHARED_DATA / "dicom" / "mr_series"
    if not series.is_dir():
        pytest.skip(f"reference data not found at {series}")
    scan = read_scan(series)
    mask = np.zeros(scan.pixels.shape, np.uint8)
    mask[60:64, 40:80, 30:70] = 1
    path = write_dicom_seg(tmp_path / "seg.dcm", mask, sorted(series.glob("*.dcm")), [(1, "lesion")],
                           sop_order=scan.sop_uids)
    assert np.array_equal(read_dicom_seg(path, scan.sop_uids, {"lesion": 1}), mask)


def test_project_mask_export_and_import_by_file_name(tmp_path: Path) -> None:
    from medtl_gui.core.masks.project_masks import export_image_mask, import_image_mask
    from medtl_gui.core.project import Project

    folder = _ct_series(tmp_path / "ct", n=4)
    with Project.create(tmp_path / "project") as project:
        project.add_seg_label("lesion", value=2)
        image_id = project.add_image(folder)
        mask = np.zeros((4, 24, 30), np.uint8)
        mask[1, 3:9, 4:12] = 2
        project.set_mask(image_id, mask[1], 1)
        for name in ("m.nii.gz", "m.dcm"):
            export_image_mask(project, image_id, tmp_path / name)
        project.delete_mask(image_id, 1)
        assert import_image_mask(project, image_id, tmp_path / "m.dcm") == 1
        assert np.array_equal(project.mask(image_id, 1), mask[1])
        assert import_image_mask(project, image_id, tmp_path / "m.nii.gz") == 1
        with pytest.raises(MaskFormatError, match="unknown mask format"):
            export_image_mask(project, image_id, tmp_path / "m.jpg")
