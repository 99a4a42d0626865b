"""Inputs the fuzzer once broke the readers with: each now reads or is refused with a clear reason.

Each file in ``tests/fuzz_regressions/`` (see its README) runs in the
sandboxed fuzz worker, so a regression shows up as a failed test (crash,
hang, memory) rather than a dead pytest.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the fuzz worker needs POSIX resource limits")

REGRESSIONS = Path(__file__).resolve().parent / "fuzz_regressions"
READ = "medtl_gui.core.imaging.fuzzing.campaigns:target_read_scan"
DESCRIBE = "medtl_gui.core.imaging.fuzzing.campaigns:target_describe"

#: file -> words the refusal must contain (None: reading it is fine too)
EXPECTED_REASONS: dict[str, str | None] = {
    "dicom-jpeg-lossless-32bit-gdcm-abort.dcm": "frame header",
    "dicom-jpeg-baseline-32bit-gdcm-abort.dcm": "frame header",
    "dicom-jpegls-size-mismatch-gdcm-abort.dcm": "100 x 100 pixels but the DICOM header says 100 x 4096",
    "dicom-jpeg-extended-bad-vr-gdcm-abort.dcm": None,
    "dicom-jpeg-lossless-rgb-7bit-gdcm-abort.dcm": "7 bits stored in 8 allocated",
    "dicom-lying-element-length.dcm": None,
    "dicom-lying-length-junk-sop-class.dcm": "declares 4076867329 bytes, but the file ends",
    "nifti-inf-srow-hang.nii": "invalid value inf",
    "nifti-nan-orientation.nii": "invalid value nan",
    "mha-ndims-2pow31-segfault.mha": "NDims",
    "mha-ndims-2pow63-hang.mha": "NDims",
    "mha-zero-size.mha": "DimSize",
    "mha-compressed-size-bad-alloc.mha": "CompressedDataSize",
}


@pytest.fixture(scope="module")
def worker():
    from medtl_gui.core.imaging.fuzzing.runner import WorkerProcess

    process = WorkerProcess(memory_limit=4 * 2**30)
    process.start()
    yield process
    process.stop()


def test_every_regression_file_is_listed() -> None:
    on_disk = {p.name for p in REGRESSIONS.iterdir() if p.name != "README.md"}
    assert on_disk == set(EXPECTED_REASONS)


@pytest.mark.parametrize("name", sorted(EXPECTED_REASONS))
def test_regression_input_keeps_the_contract(worker, name: str) -> None:
    from medtl_gui.core.imaging.fuzzing.runner import finding_from_reply

    path = REGRESSIONS / name
    for call in (DESCRIBE, READ):
        reply = worker.call(call, str(path), timeout_s=60)
        finding = finding_from_reply(reply, name, 0)
        assert finding is None, f"{call} on {name}: {finding}"
    expected = EXPECTED_REASONS[name]
    if expected is not None:
        assert reply["status"] == "rejected" and expected in reply["detail"], reply
        assert len(reply["detail"]) < 1000 and reply["detail"].isprintable()


def test_malformed_instance_number_does_not_break_series_discovery(tmp_path: Path) -> None:
    """Fuzz finding: an Instance Number stored with VR UL made ``find_series`` raise BytesLengthException."""
    import pydicom
    from pydicom.uid import generate_uid

    from medtl_gui.core.imaging import find_series, read_scan

    source = Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm"
    series_uid = generate_uid()
    for z in range(3):
        ds = pydicom.dcmread(source)
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = generate_uid()
        ds.InstanceNumber = z + 1
        ds.ImagePositionPatient = [0, 0, 2.5 * z]
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        data = buffer.getvalue()
        if z == 1:  # (0020,0013) IS "2 " -> VR "UL" with a 2-byte value: invalid length for UL
            marker = b"\x20\x00\x13\x00IS\x02\x00"
            assert marker in data
            data = data.replace(marker, b"\x20\x00\x13\x00UL\x02\x00")
        (tmp_path / f"slice{z}.dcm").write_bytes(data)
    listing = find_series(tmp_path)
    assert len(listing) == 1 and listing[0].n_files == 3
    scan = read_scan(tmp_path)
    assert scan.pixels.shape[0] == 3 and np.isfinite(scan.spacing).all()


def test_truncated_jpeg_ls_frame_is_refused_not_decoded_forever(worker, tmp_path: Path) -> None:
    """Fuzz finding: CharLS never returns on a JPEG-LS stream that stops inside its scan (no EOI marker)."""
    import pydicom
    from pydicom.encaps import encapsulate, generate_frames

    source = Path(pydicom.__file__).parent / "data" / "test_files" / "SC_rgb_jls_lossy_sample.dcm"
    ds = pydicom.dcmread(source)
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate([frame[:98]])  # consistent lengths: only the code stream is cut short
    path = tmp_path / "cut.dcm"
    ds.save_as(path, enforce_file_format=True)
    reply = worker.call(READ, str(path), timeout_s=20)
    assert reply["status"] == "rejected" and "no end-of-image marker" in reply["detail"], reply


def test_junk_sop_class_uid_is_not_repeated_in_messages() -> None:
    from medtl_gui.core.imaging.dicom_metadata import sop_class_name

    assert sop_class_name("1.2.840.10008.5.1.4.1.1.2") == "CT Image Storage"
    assert sop_class_name("1.2.3\x00\x02junk" * 100) == "(invalid SOP Class UID)"


def test_regression_files_are_small() -> None:
    assert sum(os.path.getsize(p) for p in REGRESSIONS.iterdir()) < 200_000
