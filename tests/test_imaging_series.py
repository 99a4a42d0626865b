"""DICOM series folders: discovery, ordering by position, spacing, several series."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from medtl_gui.core.imaging import ScanReadError, SeriesInfo, find_series, read_scan
from medtl_gui.core.imaging.dicom_writer import dicom_dataset, write_dicom_series

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MR_SERIES = DATA / "dicom" / "mr_series"

needs_mr_series = pytest.mark.skipif(
    not MR_SERIES.is_dir(), reason=f"reference MR series not found at {MR_SERIES}"
)


@pytest.fixture(scope="module")
def mr_scan():
    return read_scan(MR_SERIES)


def sitk_series(folder: Path):
    import SimpleITK as sitk

    sitk.ProcessObject_SetGlobalWarningDisplay(False)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


@needs_mr_series
def test_mr_series_shape_order_and_spacing(mr_scan):
    assert mr_scan.kind == "dicom-series"
    assert mr_scan.shape == (128, 128, 128)
    assert mr_scan.n_frames == 128
    assert mr_scan.spacing == (1.0, 1.0, 1.0)
    positions = np.array(mr_scan.metadata["slice_positions"])
    assert np.all(np.diff(positions) > 0)  # sorted along the normal
    assert np.allclose(np.diff(positions), 1.0)
    names = [Path(f).name for f in mr_scan.metadata["files"]]
    assert names != sorted(names)  # file names are deliberately shuffled
    assert mr_scan.metadata["warnings"] == []


@needs_mr_series
def test_mr_series_equals_simpleitk(mr_scan):
    import SimpleITK as sitk

    image = sitk_series(MR_SERIES)
    np.testing.assert_array_equal(mr_scan.pixels, sitk.GetArrayFromImage(image))
    assert mr_scan.spacing == pytest.approx(image.GetSpacing())
    assert mr_scan.origin == pytest.approx(image.GetOrigin())
    assert mr_scan.direction == pytest.approx(image.GetDirection())


@needs_mr_series
def test_find_series_lists_the_mr_series():
    listing = find_series(MR_SERIES)
    assert len(listing) == 1
    info = listing[0]
    assert isinstance(info, SeriesInfo)
    assert info.n_files == 128 and info.modality == "MR"
    assert info.description == "pacsman_testing_dicom"
    assert info.patient_id == "PACSMAN1"
    assert info.study_uid and info.uid
    assert listing.skipped == []


@needs_mr_series
def test_two_series_in_one_folder(tmp_path):
    import pydicom
    from pydicom.uid import generate_uid

    files = sorted(MR_SERIES.glob("*.dcm"))[:12]
    new_uid = generate_uid()
    for index, source in enumerate(files):
        target = tmp_path / "nested" / source.name if index % 2 else tmp_path / source.name
        target.parent.mkdir(exist_ok=True)
        if index < 5:
            ds = pydicom.dcmread(source)
            ds.SeriesInstanceUID = new_uid
            ds.SeriesDescription = "copy"
            ds.save_as(target)
        else:
            shutil.copy(source, target)
    (tmp_path / "notes.txt").write_text("not an image")

    listing = find_series(tmp_path)
    assert [s.n_files for s in listing] == [7, 5]
    assert {s.description for s in listing} == {"pacsman_testing_dicom", "copy"}
    assert [Path(p).name for p, _ in listing.skipped] == ["notes.txt"]
    assert find_series(tmp_path, recursive=False)[0].n_files < 7

    with pytest.raises(ScanReadError) as info:
        read_scan(tmp_path)
    assert str(tmp_path) in str(info.value)
    assert new_uid in info.value.reason and "copy" in info.value.reason
    assert "2 DICOM series" in info.value.reason

    scan = read_scan(tmp_path, series_uid=new_uid)
    assert scan.shape[0] == 5 and scan.series_uid == new_uid
    with pytest.raises(ScanReadError, match="no series 1.2.3"):
        read_scan(tmp_path, series_uid="1.2.3")


def test_synthetic_ct_series_sorted_by_position_not_name(tmp_path):
    volume = (np.arange(6, dtype=np.uint16)[:, None, None] * 100 + np.zeros((6, 8, 10), np.uint16))
    # sagittal-ish orientation and a negative step: order must come from positions
    orientation = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    write_dicom_series(
        tmp_path, volume, spacing=(0.5, 0.7, 2.5), origin=(10.0, -5.0, 3.0), orientation=orientation,
        rescale=(1.0, -1024.0), window=(40.0, 400.0), shuffle_names=True,
    )
    scan = read_scan(tmp_path)
    assert scan.shape == (6, 8, 10)
    assert scan.pixels.dtype == np.int16
    np.testing.assert_array_equal(scan.pixels[:, 0, 0], np.arange(6) * 100 - 1024)
    assert scan.spacing == pytest.approx((0.5, 0.7, 2.5))
    assert scan.origin == pytest.approx((10.0, -5.0, 3.0))
    # columns of the direction matrix: row direction, column direction, normal
    direction = np.array(scan.direction).reshape(3, 3)
    assert direction[:, 0] == pytest.approx([0, 1, 0])
    assert direction[:, 1] == pytest.approx([0, 0, -1])
    assert direction[:, 2] == pytest.approx(np.cross([0, 1, 0], [0, 0, -1]))
    assert scan.window == (40.0, 400.0)
    assert scan.modality == "CT"


def test_uneven_spacing_is_reported(tmp_path):
    volume = np.zeros((6, 4, 4), np.int16)
    paths = write_dicom_series(tmp_path, volume, spacing=(1.0, 1.0, 2.0))
    paths[2].unlink()  # a missing slice: steps 2, 4, 2, 2 mm
    scan = read_scan(tmp_path)
    assert scan.shape == (5, 4, 4)
    assert scan.spacing[2] == pytest.approx(2.0)
    assert any("uneven slice spacing" in w for w in scan.metadata["warnings"])


def test_duplicate_positions_are_not_stacked(tmp_path):
    volume = np.zeros((3, 4, 4), np.int16)
    uid = "1.2.826.0.1.3680043.8.498.1"
    write_dicom_series(tmp_path / "a", volume, series_uid=uid)
    write_dicom_series(tmp_path / "b", volume, series_uid=uid)  # same positions again
    with pytest.raises(ScanReadError, match="distinct slice positions"):
        read_scan(tmp_path)


def test_series_with_per_slice_rescale_becomes_float(tmp_path):
    uid = "1.2.826.0.1.3680043.8.498.2"
    for k, slope in enumerate((1.0, 2.0, 0.5)):
        ds = dicom_dataset(
            np.full((4, 4), 10, np.uint16), modality="CT", rescale=(slope, 0.0),
            position=(0, 0, k), series_uid=uid, instance_number=k + 1,
        )
        ds.save_as(tmp_path / f"{k}.dcm", enforce_file_format=True)
    scan = read_scan(tmp_path)
    assert scan.pixels.dtype == np.float32
    np.testing.assert_allclose(scan.pixels[:, 0, 0], [10.0, 20.0, 5.0])


def test_slices_without_positions_fall_back_to_instance_number(tmp_path):
    uid = "1.2.826.0.1.3680043.8.498.3"
    for k in (2, 0, 1):
        ds = dicom_dataset(np.full((4, 4), k, np.uint8), series_uid=uid, instance_number=k + 1)
        ds.save_as(tmp_path / f"file{2 - k}.dcm", enforce_file_format=True)
    scan = read_scan(tmp_path)
    np.testing.assert_array_equal(scan.pixels[:, 0, 0], [0, 1, 2])
    assert any("Instance Number" in w for w in scan.metadata["warnings"])


def test_mixed_image_sizes_in_one_series_are_refused(tmp_path):
    uid = "1.2.826.0.1.3680043.8.498.4"
    for k, size in enumerate((4, 4, 6)):
        ds = dicom_dataset(np.zeros((size, size), np.uint8), series_uid=uid, position=(0, 0, k))
        ds.save_as(tmp_path / f"{k}.dcm", enforce_file_format=True)
    with pytest.raises(ScanReadError, match="different kinds"):
        read_scan(tmp_path)


def test_folder_with_single_multiframe_file_reads_it(tmp_path):
    ds = dicom_dataset(np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5), modality="OT")
    ds.save_as(tmp_path / "multi.dcm", enforce_file_format=True)
    scan = read_scan(tmp_path)
    assert scan.shape == (3, 4, 5) and scan.kind == "dicom-file"


def test_empty_folder_and_folder_without_dicom(tmp_path):
    with pytest.raises(ScanReadError) as info:
        read_scan(tmp_path)
    assert str(tmp_path) in str(info.value) and "no DICOM images" in info.value.reason
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "b.dcm").write_text("hello")
    listing = find_series(tmp_path)
    assert list(listing) == []
    reasons = dict((Path(p).name, r) for p, r in listing.skipped)
    assert "not a DICOM file" in reasons["a.png"] and "not a DICOM file" in reasons["b.dcm"]
    with pytest.raises(ScanReadError, match="2 files skipped"):
        read_scan(tmp_path)
