"""`medtl read`: summaries, JSON, exit codes, and no traceback on any odd file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medtl_gui.cli import main
from medtl_gui.core.imaging.dicom_writer import dicom_dataset, write_dicom_series

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
CODECS = DATA / "dicom" / "codecs"


def pydicom_test_files() -> Path:
    import pydicom

    return Path(pydicom.__file__).parent / "data" / "test_files"


def run_read(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["read", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def ct_file(tmp_path) -> Path:
    ds = dicom_dataset(
        np.array([[0, 1000], [2000, 3000]], np.uint16), modality="CT", rescale=(1.0, -1024.0),
        window=(40.0, 400.0), bits_stored=12,
    )
    path = tmp_path / "ct.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def test_human_summary(capsys, ct_file):
    code, out, err = run_read(capsys, ct_file)
    assert code == 0
    assert "dicom-file (CT)" in out
    assert "2 x 2  int16" in out
    assert "-1024 .. 1976" in out
    assert "center 40, width 400 (from the file)" in out
    assert "Explicit VR Little Endian" in out
    assert err == ""


def test_json_summary_is_plain_json(capsys, ct_file):
    code, out, _ = run_read(capsys, "--json", ct_file)
    assert code == 0
    info = json.loads(out)
    assert info["kind"] == "dicom-file" and info["modality"] == "CT"
    assert info["shape"] == [2, 2] and info["dtype"] == "int16"
    assert info["min"] == -1024 and info["max"] == 1976
    assert info["spacing"] == [1.0, 1.0]
    assert info["window"] == [40.0, 400.0]
    assert info["transfer_syntax_uid"] == "1.2.840.10008.1.2.1"
    assert info["photometric_interpretation"] == "MONOCHROME2"


def test_folder_with_several_series_lists_them_then_reads_one(capsys, tmp_path):
    volume = np.zeros((3, 4, 5), np.int16)
    first, second = "1.2.826.0.1.3680043.8.498.10", "1.2.826.0.1.3680043.8.498.11"
    write_dicom_series(tmp_path / "a", volume, series_uid=first, series_description="first")
    write_dicom_series(tmp_path / "b", volume[:2], series_uid=second, series_description="second")
    code, out, _ = run_read(capsys, "--json", tmp_path)
    info = json.loads(out)
    assert code == 0 and info["kind"] == "dicom-folder" and "shape" not in info
    assert [(s["description"], s["n_files"]) for s in info["series"]] == [("first", 3), ("second", 2)]

    code, out, _ = run_read(capsys, "--json", "--series", second, tmp_path)
    info = json.loads(out)
    assert code == 0 and info["kind"] == "dicom-series" and info["shape"] == [2, 4, 5]

    code, out, _ = run_read(capsys, tmp_path / "a")
    assert code == 0 and "3 x 4 x 5  int16" in out and "first" in out


def test_bad_file_exit_code_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(os.urandom(2000))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "medtl_gui.cli", "read", str(bad)],
        capture_output=True, text=True, timeout=120, env=env, cwd=REPO,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "not a DICOM file" in lines[0]


def check_no_crash(capsys, path: Path) -> int:
    code, _, err = run_read(capsys, path)
    assert code in (0, 2), path
    assert "Traceback" not in err, path
    if code == 2:
        assert str(path) in err, path
    return code


@pytest.mark.timeout(300)
@pytest.mark.skipif(not CODECS.is_dir(), reason=f"reference DICOM codec files not found at {CODECS}")
def test_every_codec_file(capsys):
    codes = {p.name: check_no_crash(capsys, p) for p in sorted(CODECS.glob("*.dcm"))}
    assert codes["emri_small_jpeg_2k_lossless_too_short.dcm"] == 2
    assert sum(code == 0 for code in codes.values()) == len(codes) - 1


@pytest.mark.timeout(300)
def test_every_pydicom_test_file(capsys):
    files = sorted(pydicom_test_files().glob("*.dcm"))
    assert len(files) > 50
    codes = {p.name: check_no_crash(capsys, p) for p in files}
    assert codes["rtstruct.dcm"] == 2 and codes["CT_small.dcm"] == 0


@pytest.mark.timeout(120)
def test_folder_of_odd_files(capsys, tmp_path):
    (tmp_path / "random.dcm").write_bytes(os.urandom(5000))
    (tmp_path / "empty.dcm").write_bytes(b"")
    (tmp_path / "text.dcm").write_text("patient,label\n1,0\n")
    if CODECS.is_dir():
        shutil.copy(CODECS / "bad_sequence.dcm", tmp_path / "bad_sequence.dcm")
    # a DICOM whose sequence item length runs past the end of the file, and one
    # whose Pixel Data length does
    from pydicom.dataset import Dataset

    item = Dataset()
    item.ReferencedSOPInstanceUID = "1.2.3"
    ds = dicom_dataset(np.zeros((4, 4), np.uint8), extra={"ReferencedImageSequence": [item]})
    good = tmp_path / "tmp_good.dcm"
    ds.save_as(good, enforce_file_format=True)
    data = bytearray(good.read_bytes())
    good.unlink()
    item_start = data.index(b"\xfe\xff\x00\xe0")  # (FFFE,E000) item tag
    broken_item = bytearray(data)
    broken_item[item_start + 4 : item_start + 8] = b"\x00\x00\x00\x7f"
    (tmp_path / "broken_sequence.dcm").write_bytes(bytes(broken_item))
    data[-20:-16] = b"\xff\xff\xff\x7f"  # Pixel Data value length
    (tmp_path / "broken_length.dcm").write_bytes(bytes(data))
    for path in sorted(tmp_path.iterdir()):
        check_no_crash(capsys, path)
    assert check_no_crash(capsys, tmp_path) in (0, 2)
