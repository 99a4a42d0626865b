"""Every file in ../shared/data/dicom/codecs and the odd files that ship with pydicom.

Each file either decodes to the right pixels (checked against its
uncompressed twin where one exists) or raises ScanReadError with a reason.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from medtl_gui.core.imaging import ScanReadError, read_scan

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CODECS = DATA / "dicom" / "codecs"

needs_codecs = pytest.mark.skipif(
    not CODECS.is_dir(), reason=f"reference DICOM codec files not found at {CODECS}"
)


def pydicom_test_files() -> Path:
    import pydicom

    return Path(pydicom.__file__).parent / "data" / "test_files"


def read(name: str, folder: Path | None = None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_scan((folder or CODECS) / name)


# name -> (shape, dtype, min, max, is_color) as decoded by this venv
EXPECTED = {
    "693_J2KR.dcm": ((512, 512), "int16", -3024, 1468, False),
    "693_UNCI.dcm": ((512, 512), "int16", -3995, 1812, False),
    "JLSL_16_15_1_1F.dcm": ((128, 128), "int16", -16384, 16383, False),
    "JPEG-LL.dcm": ((1024, 256), "int16", 0, 278, False),
    "JPEG2000_UNC.dcm": ((1024, 256), "int16", -30, 245, False),
    "JPGLosslessP14SV1_1s_1f_8b.dcm": ((768, 1024), "uint8", 0, 255, False),
    "MR-SIEMENS-DICOM-WithOverlays.dcm": ((484, 484), "uint16", 0, 1123, False),
    "OBXXXX1A_rle.dcm": ((600, 800, 3), "uint8", 0, 255, True),
    "SC_rgb.dcm": ((100, 100, 3), "uint8", 0, 255, True),
    "US1_J2KR.dcm": ((480, 640, 3), "uint8", 0, 255, True),
    "bad_sequence.dcm": ((512, 512), "int16", -1011, 1243, False),
    "color-pl.dcm": ((120, 256, 3), "uint8", 16, 248, True),
    "emri_small.dcm": ((10, 64, 64), "uint16", 0, 467, False),
    "emri_small_RLE.dcm": ((10, 64, 64), "uint16", 0, 467, False),
    "emri_small_big_endian.dcm": ((10, 64, 64), "uint16", 0, 467, False),
    "emri_small_jpeg_2k_lossless.dcm": ((10, 64, 64), "uint16", 0, 467, False),
    "explicit_VR-UN.dcm": ((512, 512), "int16", -1024, 1186, False),
    "liver.dcm": ((3, 512, 512), "uint8", 0, 1, False),
    "liver_deflate.dcm": ((3, 512, 512), "uint8", 0, 1, False),
    "liver_rle.dcm": ((3, 512, 512), "uint8", 0, 1, False),
}


@needs_codecs
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_codec_file_decodes(name):
    shape, dtype, low, high, is_color = EXPECTED[name]
    scan = read(name)
    assert scan.shape == shape
    assert str(scan.pixels.dtype) == dtype
    assert scan.pixels.dtype.isnative
    assert (scan.pixels.min(), scan.pixels.max()) == (low, high)
    assert scan.is_color is is_color
    assert scan.kind == "dicom-file"


@needs_codecs
def test_every_codec_file_is_covered():
    names = {p.name for p in CODECS.glob("*.dcm")}
    assert names == set(EXPECTED) | {"MR2_J2KI.dcm", "emri_small_jpeg_2k_lossless_too_short.dcm"}


@needs_codecs
def test_lossless_encodings_of_emri_small_are_identical():
    reference = read("emri_small.dcm").pixels
    for name in ("emri_small_RLE.dcm", "emri_small_big_endian.dcm", "emri_small_jpeg_2k_lossless.dcm"):
        np.testing.assert_array_equal(read(name).pixels, reference, err_msg=name)


@needs_codecs
def test_segmentation_deflate_and_1bit_rle_equal_the_uncompressed_seg():
    reference = read("liver.dcm")
    assert reference.modality == "SEG"
    assert reference.pixels.sum() > 100_000  # real masks, not empty frames
    for name in ("liver_deflate.dcm", "liver_rle.dcm"):
        scan = read(name)
        np.testing.assert_array_equal(scan.pixels, reference.pixels, err_msg=name)
        assert scan.spacing == reference.spacing
    assert read("liver_deflate.dcm").metadata["transfer_syntax"] == "Deflated Image Frame Compression"


@needs_codecs
def test_seg_frame_geometry_from_functional_groups():
    scan = read("liver.dcm")
    assert scan.spacing == pytest.approx((0.810547, 0.810547, 1.0))
    assert scan.origin == pytest.approx((-235.2, -226.8, -128.69))
    assert scan.direction == pytest.approx((1, 0, 0, 0, 1, 0, 0, 0, 1))


@needs_codecs
def test_pairs_of_different_images_have_matching_shapes():
    # these pairs are different acquisitions, so only the geometry matches
    assert read("693_UNCI.dcm").shape == read("693_J2KR.dcm").shape
    assert read("JPEG2000_UNC.dcm").shape == read("JPEG-LL.dcm").shape


@needs_codecs
def test_ct_rescale_gives_hounsfield_units_and_file_window():
    scan = read("693_UNCI.dcm")
    assert scan.modality == "CT"
    assert scan.window == (40.0, 100.0)
    assert scan.metadata["modality_lut"] == {
        "source": "Rescale Slope/Intercept", "slope": 1.0, "intercept": -1024.0, "rescale_type": "HU"
    }


@needs_codecs
def test_non_integer_rescale_gives_float32():
    scan = read("MR2_J2KI.dcm")  # slope 3.774114, intercept 0.000061
    assert scan.pixels.dtype == np.float32
    assert scan.shape == (1024, 1024)
    assert scan.pixels.min() >= 0 and 2000 < scan.pixels.max() < 2300


@needs_codecs
def test_truncated_jpeg2000_names_the_truncation():
    with pytest.raises(ScanReadError) as info:
        read("emri_small_jpeg_2k_lossless_too_short.dcm")
    message = str(info.value)
    assert "emri_small_jpeg_2k_lossless_too_short.dcm" in message
    assert "truncated" in info.value.reason
    assert "1.2.840.10008.1.2.4.90" in info.value.reason


@needs_codecs
def test_palette_colour_becomes_rgb():
    scan = read("OBXXXX1A_rle.dcm")
    assert scan.metadata["photometric_interpretation"] == "PALETTE COLOR"
    assert scan.metadata["photometric_out"] == "RGB"
    # a real colour image, not three equal grey channels
    assert np.any(scan.pixels[..., 0] != scan.pixels[..., 2])


@needs_codecs
def test_ybr_rct_jpeg2000_becomes_rgb():
    scan = read("US1_J2KR.dcm")
    assert scan.metadata["photometric_interpretation"] == "YBR_RCT"
    assert scan.metadata["photometric_out"] == "RGB"


# --- pydicom's own odd-file corpus ---------------------------------------------------------

def test_ybr_jpeg_matches_rgb_jpeg_of_the_same_picture():
    folder = pydicom_test_files()
    rgb = read("SC_rgb_dcmtk_+eb+cr.dcm", folder).pixels.astype(int)  # JPEG, RGB colour space
    ybr_files = ("SC_rgb_dcmtk_+eb+cy+n1.dcm", "SC_rgb_dcmtk_+eb+cy+np.dcm", "SC_ybr_full_422_uncompressed.dcm")
    for name in ybr_files:
        ybr = read(name, folder)
        assert ybr.metadata["photometric_interpretation"].startswith("YBR_FULL")
        assert ybr.is_color
        assert np.abs(ybr.pixels.astype(int) - rgb).mean() < 8, name


def test_12bit_jpeg_extended_decoded_by_gdcm_matches_lossless_version():
    folder = pydicom_test_files()
    scan = read("JPGExtended.dcm", folder)
    assert scan.metadata["decoder"].startswith("gdcm")
    assert scan.shape == (1024, 256) and scan.pixels.dtype == np.uint16
    lossless = read("JPEG2000.dcm", folder).pixels.astype(float)  # same NM picture, lossless
    correlation = np.corrcoef(scan.pixels.astype(float).ravel(), lossless.ravel())[0, 1]
    assert correlation > 0.95


def test_rt_dose_is_scaled_to_gray():
    folder = pydicom_test_files()
    scan = read("rtdose.dcm", folder)
    assert scan.shape == (15, 10, 10)
    assert scan.pixels.dtype == np.float32
    assert scan.metadata["modality_lut"]["source"] == "Dose Grid Scaling"
    assert 0.7 < scan.pixels.min() < scan.pixels.max() < 1.3
    assert scan.spacing[2] == pytest.approx(5.0)  # Grid Frame Offset Vector steps
    for twin in ("rtdose_expb.dcm", "rtdose_rle.dcm"):
        np.testing.assert_array_equal(read(twin, folder).pixels, scan.pixels)


@pytest.mark.parametrize(
    "name, words",
    [
        ("rtstruct.dcm", ("no pixel data", "RT Structure Set Storage")),
        ("rtplan.dcm", ("no pixel data", "RT Plan Storage")),
        ("reportsi.dcm", ("no pixel data", "SR")),
        ("waveform_ecg.dcm", ("no pixel data", "ECG")),
        ("MR_truncated.dcm", ("truncated", "8130 bytes")),
        ("badVR.dcm", ("NumberOfFrames", "1A")),
        ("meta_missing_tsyntax.dcm", ("Transfer Syntax",)),
        ("no_meta.dcm", ("not a DICOM file",)),
    ],
)
def test_unreadable_pydicom_files_give_reasons(name, words):
    with pytest.raises(ScanReadError) as info:
        read(name, pydicom_test_files())
    assert name in str(info.value)
    for word in words:
        assert word in info.value.reason


def test_file_without_file_meta_is_parsed_and_identified():
    # no preamble and no file meta: parsed with force=True, recognised as an RT Ion Plan
    with pytest.raises(ScanReadError, match="RT Ion Plan"):
        read("ExplVR_LitEndNoMeta.dcm", pydicom_test_files())
