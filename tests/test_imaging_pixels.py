"""Synthetic DICOM files: modality LUT, MONOCHROME1, multi-frame geometry, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from medtl_gui.core.imaging import ScanReadError, read_scan
from medtl_gui.core.imaging.dicom_codecs import decode_packbits, inflate_frame
from medtl_gui.core.imaging.dicom_writer import dicom_dataset


def save(ds, path):
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize(
    "stored, rescale, bits_stored, expected_dtype, expected_values",
    [
        (np.array([[0, 100, 4095]], np.uint16), (1.0, -1024.0), 12, np.int16, [-1024, -924, 3071]),
        (np.array([[0, 65535, 7]], np.uint16), (1.0, -1024.0), 16, np.int32, [-1024, 64511, -1017]),
        (np.array([[0, 255, 3]], np.uint8), (1.0, 10.0), 8, np.int16, [10, 265, 13]),
        (np.array([[-5, 5, 0]], np.int16), (0.5, 1.0), 16, np.float32, [-1.5, 3.5, 1.0]),
        (np.array([[-5, 5, 0]], np.int16), (1.0, 0.0), 16, np.int16, [-5, 5, 0]),
        (np.array([[1, 2, 3]], np.uint16), None, 16, np.uint16, [1, 2, 3]),
    ],
)
def test_modality_lut_values_and_dtype(
    tmp_path, stored, rescale, bits_stored, expected_dtype, expected_values
):
    ds = dicom_dataset(stored, modality="CT", rescale=rescale, bits_stored=bits_stored)
    scan = read_scan(save(ds, tmp_path / "ct.dcm"))
    assert scan.pixels.dtype == expected_dtype
    np.testing.assert_allclose(scan.pixels[0], expected_values)


def test_monochrome1_is_inverted_once_with_its_window(tmp_path):
    stored = np.array([[0, 100, 4095]], np.uint16)
    ds = dicom_dataset(
        stored, modality="CR", photometric="MONOCHROME1", bits_stored=12, window=(1000.0, 500.0)
    )
    scan = read_scan(save(ds, tmp_path / "cr.dcm"))
    # higher = brighter: stored 0 (white in MONOCHROME1) becomes the largest value
    np.testing.assert_array_equal(scan.pixels[0], [4095, 3995, 0])
    assert scan.pixels.dtype == np.uint16
    assert scan.window == (3095.0, 500.0)
    assert scan.metadata["photometric_interpretation"] == "MONOCHROME1"
    assert scan.metadata["photometric_out"] == "MONOCHROME2"


def test_monochrome1_with_rescale_stays_in_range(tmp_path):
    ds = dicom_dataset(
        np.array([[0, 4095]], np.uint16), modality="CR", photometric="MONOCHROME1",
        bits_stored=12, rescale=(1.0, -1024.0),
    )
    scan = read_scan(save(ds, tmp_path / "cr.dcm"))
    np.testing.assert_array_equal(scan.pixels[0], [3071, -1024])


def test_modality_lut_sequence(tmp_path):
    from pydicom.dataset import Dataset

    item = Dataset()
    item.add_new(0x00283002, "US", [4, 10, 16])  # LUT Descriptor: entries, first input, bits
    item.add_new(0x00283006, "US", [100, 200, 300, 400])  # LUT Data
    item.ModalityLUTType = "OD"
    ds = dicom_dataset(np.array([[9, 10, 12, 13, 50]], np.uint16), extra={"ModalityLUTSequence": [item]})
    scan = read_scan(save(ds, tmp_path / "lut.dcm"))
    np.testing.assert_array_equal(scan.pixels[0], [100, 100, 300, 400, 400])
    assert scan.metadata["modality_lut"]["source"] == "Modality LUT Sequence"


def test_voi_lut_sequence_becomes_window(tmp_path):
    from pydicom.dataset import Dataset

    item = Dataset()
    item.add_new(0x00283002, "US", [256, 100, 8])
    item.add_new(0x00283006, "US", list(range(256)))
    ds = dicom_dataset(np.zeros((2, 2), np.uint16), extra={"VOILUTSequence": [item]})
    scan = read_scan(save(ds, tmp_path / "voi.dcm"))
    assert scan.window == (228.0, 256.0)


def enhanced_frames(tmp_path, slopes, z_positions):
    from pydicom.dataset import Dataset

    per_frame = []
    for slope, z in zip(slopes, z_positions):
        item = Dataset()
        pvt = Dataset()
        pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = slope, 0, "US"
        item.PixelValueTransformationSequence = [pvt]
        position = Dataset()
        position.ImagePositionPatient = [0.0, 0.0, float(z)]
        item.PlanePositionSequence = [position]
        per_frame.append(item)
    shared = Dataset()
    orientation = Dataset()
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    measures = Dataset()
    measures.PixelSpacing = [0.5, 0.25]
    shared.PlaneOrientationSequence = [orientation]
    shared.PixelMeasuresSequence = [measures]
    stored = np.stack([np.full((3, 4), 10 * (i + 1), np.uint16) for i in range(len(slopes))])
    ds = dicom_dataset(
        stored,
        extra={"PerFrameFunctionalGroupsSequence": per_frame, "SharedFunctionalGroupsSequence": [shared]},
    )
    return read_scan(save(ds, tmp_path / "enhanced.dcm"))


def test_enhanced_multiframe_per_frame_rescale_and_position_order(tmp_path):
    scan = enhanced_frames(tmp_path, slopes=[1.0, 2.0, 3.0], z_positions=[4.0, 2.0, 0.0])
    assert scan.pixels.dtype == np.float32
    # frames are stored at z = 4, 2, 0 and come back sorted by position: 0, 2, 4
    np.testing.assert_allclose(scan.pixels[:, 0, 0], [90.0, 40.0, 10.0])
    assert scan.metadata["frames_reordered_by_position"] is True
    assert scan.spacing == pytest.approx((0.25, 0.5, 2.0))
    assert scan.origin == pytest.approx((0.0, 0.0, 0.0))


def test_multiframe_without_positions_keeps_file_order(tmp_path):
    stored = np.arange(3 * 2 * 2, dtype=np.uint8).reshape(3, 2, 2)
    scan = read_scan(save(dicom_dataset(stored), tmp_path / "cine.dcm"))
    np.testing.assert_array_equal(scan.pixels, stored)
    assert scan.n_frames == 3 and scan.spacing == (1.0, 1.0, 1.0)


def test_native_fast_path_equals_pydicom(tmp_path):
    import pydicom

    stored = np.random.default_rng(0).integers(-2048, 2047, (3, 16, 8)).astype(np.int16)
    path = save(dicom_dataset(stored, bits_stored=12), tmp_path / "mf.dcm")
    scan = read_scan(path)
    assert scan.metadata["decoder"] == "numpy (native)"
    np.testing.assert_array_equal(scan.pixels, pydicom.dcmread(path).pixel_array)
    assert scan.pixels.flags.writeable


def test_dicom_without_preamble_is_read(tmp_path):
    from pydicom.dataset import FileMetaDataset

    ds = dicom_dataset(np.arange(12, dtype=np.uint16).reshape(3, 4))
    ds.preamble = None
    ds.file_meta = FileMetaDataset()
    path = tmp_path / "IM0001"  # no extension, no preamble, no 'DICM', no file meta
    ds.save_as(path, enforce_file_format=False, implicit_vr=True, little_endian=True)
    assert b"DICM" not in path.read_bytes()[:140]
    np.testing.assert_array_equal(read_scan(path).pixels, np.arange(12).reshape(3, 4))


def test_dicom_without_pixel_data(tmp_path):
    ds = dicom_dataset(np.zeros((2, 2), np.uint8))
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.481.3"
    del ds.PixelData
    for keyword in ("Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit",
                    "PixelRepresentation", "SamplesPerPixel", "PhotometricInterpretation"):
        delattr(ds, keyword)
    path = save(ds, tmp_path / "struct.dcm")
    with pytest.raises(ScanReadError) as info:
        read_scan(path)
    assert str(path) in str(info.value)
    assert "no pixel data" in info.value.reason and "RT Structure Set Storage" in info.value.reason


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty file"),
        (b"this is a text file, not DICOM\n" * 20, "not a DICOM file"),
        (bytes(np.random.default_rng(4).integers(0, 255, 3000, dtype=np.uint8)), "not a DICOM file"),
    ],
)
def test_non_dicom_files_named_dcm(tmp_path, content, reason):
    path = tmp_path / "bad.dcm"
    path.write_bytes(content)
    with pytest.raises(ScanReadError) as info:
        read_scan(path)
    assert str(path) in str(info.value) and reason in info.value.reason


def test_truncated_native_pixel_data(tmp_path):
    path = save(dicom_dataset(np.zeros((64, 64), np.uint16)), tmp_path / "full.dcm")
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(ScanReadError, match="truncated"):
        read_scan(cut)


def test_absurd_header_size_is_refused(tmp_path):
    ds = dicom_dataset(np.zeros((4, 4), np.uint16))
    ds.Rows = ds.Columns = 65535
    ds.NumberOfFrames = 5000
    with pytest.raises(ScanReadError, match="refusing"):
        read_scan(save(ds, tmp_path / "huge.dcm"))


def test_packbits_and_bounded_inflate():
    import zlib

    # literal run of 3, replicate 'x' 4 times, no-op -128, literal of 1
    segment = bytes([2]) + b"abc" + bytes([253]) + b"x" + bytes([128]) + bytes([0]) + b"z"
    assert decode_packbits(segment, 8) == b"abcxxxxz"
    with pytest.raises(ValueError):
        decode_packbits(bytes([5]) + b"ab", 6)  # literal run past the end
    compressor = zlib.compressobj(wbits=-15)
    stream = compressor.compress(b"\1" * 10_000) + compressor.flush()
    assert inflate_frame(stream, 100) == b"\1" * 100  # never inflates beyond the frame
    with pytest.raises(ValueError):
        inflate_frame(stream, 20_000)


@pytest.mark.parametrize(
    "transfer_syntax, words",
    [
        ("1.2.840.10008.1.2.4.100", ("MPEG2", "1.2.840.10008.1.2.4.100", "video")),
        ("1.2.840.10008.1.2.4.51", ("JPEG Extended", "pylibjpeg-libjpeg", "GDCM")),
        ("1.2.3.4.5", ("1.2.3.4.5",)),
    ],
)
def test_undecodable_transfer_syntax_is_named(tmp_path, transfer_syntax, words):
    from pydicom.encaps import encapsulate

    ds = dicom_dataset(np.zeros((8, 8), np.uint16), bits_stored=12)
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    ds.PixelData = encapsulate([b"\0" * 10])  # not a valid stream for any codec
    ds["PixelData"].VR = "OB"
    path = tmp_path / "coded.dcm"
    ds.save_as(path, enforce_file_format=True, implicit_vr=False, little_endian=True)
    with pytest.raises(ScanReadError) as info:
        read_scan(path)
    assert str(path) in str(info.value)
    for word in words:
        assert word in info.value.reason
