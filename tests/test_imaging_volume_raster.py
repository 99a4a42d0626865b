"""NIfTI/MHA/NRRD volumes (orientation kept) and PNG/JPEG/TIFF/GIF/BMP images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medtl_gui.core.imaging import SUPPORTED_EXTENSIONS, ScanReadError, is_supported_path, read_scan

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NIFTI = DATA / "dicom" / "sub-000001_T1w.nii.gz"
DRIVE = DATA / "drive" / "training"


def rotation_direction() -> tuple[float, ...]:
    """A proper rotation (30 degrees about z, then a flip of y and z) as a row-major 3x3."""
    angle = np.deg2rad(30)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    flip = np.diag([1.0, -1.0, -1.0])
    return tuple((rot @ flip).ravel())


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".mha", ".nrrd"])
def test_volume_keeps_orientation(tmp_path, suffix):
    import SimpleITK as sitk

    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)  # (z, y, x)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.8, 0.9, 2.5))
    image.SetOrigin((-10.0, 20.0, 5.5))
    image.SetDirection(rotation_direction())
    path = tmp_path / f"vol{suffix}"
    sitk.WriteImage(image, str(path))

    scan = read_scan(path)
    assert scan.kind == "volume"
    np.testing.assert_array_equal(scan.pixels, array)
    assert scan.n_frames == 4 and scan.is_volume
    assert scan.spacing == pytest.approx((0.8, 0.9, 2.5))
    assert scan.origin == pytest.approx((-10.0, 20.0, 5.5), abs=1e-4)
    assert scan.direction == pytest.approx(rotation_direction(), abs=1e-5)


def test_mhd_with_missing_raw_file_is_a_read_error(tmp_path):
    import SimpleITK as sitk

    path = tmp_path / "vol.mhd"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((2, 3, 4), np.uint8)), str(path))
    (tmp_path / "vol.raw").unlink()
    with pytest.raises(ScanReadError) as info:
        read_scan(path)
    assert "vol.mhd" in str(info.value)


def test_rgb_and_single_slice_volumes(tmp_path):
    import SimpleITK as sitk

    rgb = np.random.default_rng(0).integers(0, 255, (7, 9, 3), dtype=np.uint8)
    sitk.WriteImage(sitk.GetImageFromArray(rgb, isVector=True), str(tmp_path / "rgb.mha"))
    scan = read_scan(tmp_path / "rgb.mha")
    assert scan.is_color and scan.shape == (7, 9, 3)
    np.testing.assert_array_equal(scan.pixels, rgb)

    one_slice = sitk.GetImageFromArray(np.ones((1, 5, 6), np.float32))
    one_slice.SetSpacing((0.5, 0.6, 3.0))
    sitk.WriteImage(one_slice, str(tmp_path / "slice.nii.gz"))
    scan = read_scan(tmp_path / "slice.nii.gz")
    assert scan.shape == (5, 6) and scan.spacing == pytest.approx((0.5, 0.6))
    assert scan.metadata["geometry_3d"]["spacing"] == pytest.approx([0.5, 0.6, 3.0])


@pytest.mark.skipif(not NIFTI.is_file(), reason=f"reference NIfTI not found at {NIFTI}")
def test_reference_nifti():
    import SimpleITK as sitk

    scan = read_scan(NIFTI)
    image = sitk.ReadImage(str(NIFTI))
    assert scan.shape == (128, 128, 128)
    np.testing.assert_array_equal(scan.pixels, sitk.GetArrayFromImage(image))
    assert scan.spacing == pytest.approx(image.GetSpacing())
    assert scan.origin == pytest.approx(image.GetOrigin())
    assert scan.direction == pytest.approx(image.GetDirection())
    assert scan.metadata["image_io"] == "NiftiImageIO"


# --- raster images -------------------------------------------------------------------------

def test_png_grey_16bit_and_rgb(tmp_path):
    from PIL import Image

    grey16 = (np.arange(30 * 40, dtype=np.uint32).reshape(30, 40) * 50).astype(np.uint16)
    Image.fromarray(grey16).save(tmp_path / "g16.png")
    scan = read_scan(tmp_path / "g16.png")
    assert scan.kind == "raster" and scan.pixels.dtype == np.uint16
    np.testing.assert_array_equal(scan.pixels, grey16)
    assert scan.spacing == (1.0, 1.0) and not scan.is_color

    rgba = np.random.default_rng(1).integers(0, 255, (10, 12, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    scan = read_scan(tmp_path / "rgba.png")
    assert scan.is_color and scan.shape == (10, 12, 3)
    np.testing.assert_array_equal(scan.pixels, rgba[..., :3])
    assert "alpha channel dropped" in scan.metadata["warnings"]


def test_tiff_16bit_grey_multipage_and_16bit_rgb(tmp_path):
    import SimpleITK as sitk
    from PIL import Image

    pages = [np.full((6, 7), 1000 * (i + 1), np.uint16) for i in range(3)]
    images = [Image.fromarray(p) for p in pages]
    images[0].save(tmp_path / "pages.tif", save_all=True, append_images=images[1:])
    scan = read_scan(tmp_path / "pages.tif")
    assert scan.shape == (3, 6, 7) and scan.pixels.dtype == np.uint16
    assert scan.n_frames == 3 and scan.spacing == (1.0, 1.0, 1.0)
    np.testing.assert_array_equal(scan.pixels[:, 0, 0], [1000, 2000, 3000])

    # Pillow would silently cut 16-bit colour to 8 bits: the reader must not
    rgb16 = np.random.default_rng(2).integers(0, 65535, (5, 6, 3), dtype=np.uint16)
    sitk.WriteImage(sitk.GetImageFromArray(rgb16, isVector=True), str(tmp_path / "rgb16.tif"))
    scan = read_scan(tmp_path / "rgb16.tif")
    assert scan.is_color and scan.pixels.dtype == np.uint16
    np.testing.assert_array_equal(scan.pixels, rgb16)


def test_jpeg_bmp_and_grey_palette_gif(tmp_path):
    from PIL import Image

    grey = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (16, 1))
    Image.fromarray(grey).save(tmp_path / "g.jpg", quality=95)
    Image.fromarray(grey).save(tmp_path / "g.bmp")
    Image.fromarray(grey).convert("P").save(tmp_path / "g.gif")
    assert np.abs(read_scan(tmp_path / "g.jpg").pixels.astype(int) - grey).max() < 10
    np.testing.assert_array_equal(read_scan(tmp_path / "g.bmp").pixels, grey)
    gif = read_scan(tmp_path / "g.gif")
    assert not gif.is_color  # grey palette -> grey values, not indices
    np.testing.assert_array_equal(gif.pixels, grey)


@pytest.mark.skipif(not DRIVE.is_dir(), reason=f"DRIVE data not found at {DRIVE}")
def test_drive_fundus_and_vessel_mask():
    image = read_scan(DRIVE / "images" / "21_training.tif")
    assert image.shape == (584, 565, 3) and image.is_color
    mask = read_scan(DRIVE / "1st_manual" / "21_manual1.gif")
    assert mask.shape == (584, 565) and not mask.is_color
    assert set(np.unique(mask.pixels)) == {0, 255}


def test_truncated_png_is_a_read_error(tmp_path):
    from PIL import Image

    noise = np.random.default_rng(3).integers(0, 255, (64, 64), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "a.png")
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ScanReadError) as info:
        read_scan(tmp_path / "cut.png")
    assert "cut.png" in str(info.value) and "truncated" in info.value.reason


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    from PIL import Image

    Image.fromarray(np.zeros((100, 100), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ScanReadError, match="decompression"):
        read_scan(tmp_path / "big.png")


def test_unsupported_and_missing_paths(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ScanReadError, match="unsupported file type"):
        read_scan(tmp_path / "notes.txt")
    with pytest.raises(ScanReadError, match="no such file"):
        read_scan(tmp_path / "missing.png")
    assert not is_supported_path(tmp_path / "notes.txt")


def test_is_supported_path(tmp_path):
    assert ".nii.gz" in SUPPORTED_EXTENSIONS and ".dcm" in SUPPORTED_EXTENSIONS
    assert is_supported_path(tmp_path)  # folders are read as DICOM series
    assert is_supported_path(tmp_path / "x.NII.GZ")
    assert is_supported_path("scan.tiff")
    dicom_without_extension = tmp_path / "IM0001"
    dicom_without_extension.write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 16)
    assert is_supported_path(dicom_without_extension)
    (tmp_path / "random").write_bytes(b"\1" * 200)
    assert not is_supported_path(tmp_path / "random")
