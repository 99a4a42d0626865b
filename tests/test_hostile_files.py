"""Hostile files: each is refused with a clear message, runs nothing, writes nothing, stays within memory.

Readers run in the sandboxed fuzz worker under a 2 GiB address-space limit:
a reader that tried to allocate what the file claims would fail there with
a memory finding instead of a clean refusal.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the fuzz worker needs POSIX resource limits")

READ = "medtl_gui.core.imaging.fuzzing.campaigns:target_read_scan"
MEMORY_LIMIT = 2 * 2**30


@pytest.fixture(scope="module")
def worker():
    from medtl_gui.core.imaging.fuzzing.runner import WorkerProcess

    process = WorkerProcess(memory_limit=MEMORY_LIMIT)
    process.start()
    yield process
    process.stop()


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and modification time."""
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*")}


def assert_refused(worker, path: Path, *words: str) -> str:
    """Read ``path`` in the worker; assert a clean refusal whose reason names the file's problem."""
    from medtl_gui.core.imaging.fuzzing.runner import finding_from_reply

    before = tree(path.parent)
    reply = worker.call(READ, str(path), timeout_s=60)
    assert finding_from_reply(reply, path.name, 0) is None, reply
    assert reply["status"] == "rejected", reply
    for word in words:
        assert word in reply["detail"], reply["detail"]
    assert tree(path.parent) == before, "reading wrote next to the file"
    return reply["detail"]


def deflated_zeros(n_bytes: int, *, zlib_wrapper: bool = False) -> bytes:
    """A deflate stream of ``n_bytes`` zeros, built in milliseconds.

    After a full flush the compressor forgets its history, so the compressed
    form of each further MiB of zeros is the same block: it is made once and
    repeated. With ``zlib_wrapper`` the stream gets the zlib header and its
    Adler-32 (for zeros: a = 1, b = n mod 65521).
    """
    mib = 2**20
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = compressor.compress(bytes(mib)) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(bytes(mib)) + compressor.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(n_bytes, mib)
    assert count >= 2
    body = first + block * (count - 1) + compressor.compress(bytes(rest)) + compressor.flush()
    if not zlib_wrapper:
        return body
    return b"\x78\xda" + body + struct.pack(">I", ((n_bytes % 65521) << 16) | 1)


def pydicom_file(name: str) -> bytes:
    import pydicom

    return (Path(pydicom.__file__).parent / "data" / "test_files" / name).read_bytes()


# -- DICOM ---------------------------------------------------------------------------------------
def test_dicom_element_with_a_gigantic_declared_length(worker, tmp_path: Path) -> None:
    data = bytearray(pydicom_file("CT_small.dcm"))
    pos = data.find(b"\xe0\x7f\x10\x00OW\x00\x00")
    assert pos > 0
    data[pos + 8 : pos + 12] = struct.pack("<I", 0xFFFFFFF0)  # 4 GiB of pixels in a 39 KB file
    path = tmp_path / "huge_length.dcm"
    path.write_bytes(bytes(data))
    assert_refused(worker, path, "truncated or corrupt", "PixelData declares 4294967280 bytes")


def test_dicom_announcing_500_frames_of_65535_squared(worker, tmp_path: Path) -> None:
    import pydicom

    for syntax, name in (("1.2.840.10008.1.2.1", "native.dcm"), ("1.2.840.10008.1.2.4.70", "jpeg.dcm")):
        ds = pydicom.dcmread(io.BytesIO(pydicom_file("CT_small.dcm")))
        ds.Rows = ds.Columns = 65535
        ds.NumberOfFrames = 500
        if syntax != "1.2.840.10008.1.2.1":
            from pydicom.encaps import encapsulate

            ds.file_meta.TransferSyntaxUID = syntax
            ds.PixelData = encapsulate([b"\xff\xd8\xff\xd9"] * 500)
        ds.save_as(tmp_path / name, enforce_file_format=True)
        reason = assert_refused(worker, tmp_path / name, "500 frame(s) of 65535 x 65535", "refusing to decode")
        assert "GiB" in reason


def test_zip_bomb_deflated_dicom(worker, tmp_path: Path) -> None:
    """A Deflated Explicit VR data set: 300 MB of zeros in a few hundred KB (pydicom would inflate all of it)."""
    import pydicom
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    ds = pydicom.dcmread(io.BytesIO(pydicom_file("CT_small.dcm")))
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    head = buffer.getvalue()
    assert head[132:138] == b"\x02\x00\x00\x00UL"  # (0002,0000) File Meta Information Group Length
    meta_end = 144 + struct.unpack("<I", head[140:144])[0]
    # the inflated data set: an OB element of 300 MiB of zeros; its 12-byte header deflates to a stored block
    element = struct.pack("<HH", 0x0009, 0x0010) + b"OB\x00\x00" + struct.pack("<I", 300 * 2**20)
    header_block = b"\x00" + struct.pack("<HH", len(element), 0xFFFF ^ len(element)) + element
    path = tmp_path / "bomb.dcm"
    path.write_bytes(head[:meta_end] + header_block + deflated_zeros(300 * 2**20))
    assert zlib.decompressobj(-zlib.MAX_WBITS).decompress(path.read_bytes()[meta_end:], 64) == element + bytes(52)
    assert path.stat().st_size < 1_000_000
    assert_refused(worker, path, "decompression bomb")


# -- rasters -------------------------------------------------------------------------------------
def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bomb_png(width: int, height: int, colour_type: int, rows_written: int) -> bytes:
    """A PNG header for ``width`` x ``height`` and ``rows_written`` rows of zeros (deflated)."""
    channels = {0: 1, 2: 3, 6: 4}[colour_type]
    n_bytes = rows_written * (1 + width * channels)
    data = deflated_zeros(n_bytes, zlib_wrapper=True) if n_bytes > 2**21 else zlib.compress(bytes(n_bytes))
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def test_decompression_bomb_png_with_absurd_dimensions(worker, tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png(100_000, 100_000, 0, rows_written=1))
    assert path.stat().st_size < 1000
    assert_refused(worker, path, "10000000000 pixels", "decompression bomb")


def test_decompression_bomb_png_below_pillows_pixel_limit(worker, tmp_path: Path) -> None:
    """81 million RGBA pixels (324 MB) from a third of a megabyte: refused by the expansion ratio."""
    path = tmp_path / "bomb_rgba.png"
    path.write_bytes(bomb_png(9_000, 9_000, 6, rows_written=9_000))
    assert path.stat().st_size < 1_000_000
    assert_refused(worker, path, "decompression bomb")


# -- volumes -------------------------------------------------------------------------------------
def nifti_header(dims: tuple[int, ...], datatype: int = 16, bitpix: int = 32) -> bytes:
    header = bytearray(352)
    struct.pack_into("<i", header, 0, 348)
    struct.pack_into("<8h", header, 40, len(dims), *dims, *([1] * (7 - len(dims))))
    struct.pack_into("<hh", header, 70, datatype, bitpix)
    struct.pack_into("<8f", header, 76, 1, 1, 1, 1, 1, 1, 1, 1)
    struct.pack_into("<f", header, 108, 352.0)
    struct.pack_into("<f", header, 112, 1.0)
    header[344:348] = b"n+1\x00"
    return bytes(header)


def test_nifti_header_declaring_a_huge_volume(worker, tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "huge.nii"
    path.write_bytes(nifti_header((30000, 30000, 30000)) + bytes(64))
    assert_refused(worker, path, "truncated", "30000 x 30000 x 30000")
    packed = tmp_path / "huge.nii.gz"
    packed.write_bytes(gzip.compress(nifti_header((2000, 2000, 2000), datatype=64, bitpix=64) + bytes(4096)))
    assert_refused(worker, packed, "GiB")


def test_detached_volume_data_pointing_at_a_device_is_refused(worker, tmp_path: Path) -> None:
    header = (b"ObjectType = Image\nNDims = 3\nDimSize = 4096 4096 4096\nElementType = MET_UCHAR\n"
              b"ElementDataFile = /dev/zero\n")
    path = tmp_path / "device.mhd"
    path.write_bytes(header)
    assert_refused(worker, path, "/dev/zero", "not a regular file")
    nrrd = tmp_path / "list.nhdr"
    nrrd.write_bytes(b"NRRD0004\ntype: uint8\ndimension: 2\nsizes: 4 4\nencoding: raw\ndata file: LIST\n\nx.raw\n")
    assert_refused(worker, nrrd, "multi-file data")


# -- importers -----------------------------------------------------------------------------------
def make_png(path: Path) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(path)
    return path


def test_path_traversal_in_an_imported_csv(tmp_path: Path) -> None:
    from medtl_gui.core.project import Project, import_sources

    secret = make_png(tmp_path / "outside" / "secret.png")
    data = tmp_path / "list" / "data"
    make_png(data / "ok.png")
    os.symlink(secret, data / "link.png")
    os.symlink(secret.parent, data / "linkdir")
    csv_path = tmp_path / "list" / "labels.csv"
    rows = ["path,label", "data/ok.png,normal", "../outside/secret.png,leak", "../../../etc/passwd,leak",
            f"{secret},leak", "/etc/passwd,leak", "data/link.png,leak", "data/linkdir/secret.png,leak",
            "data/../../outside/secret.png,leak", "data/ok.png\x00../../x,leak", "data/" + "a" * 5000 + ",leak"]
    csv_path.write_text("\n".join(rows))
    before = {k: v for k, v in tree(tmp_path).items() if not k.startswith("proj")}
    with Project.create(tmp_path / "proj") as project:
        report = import_sources(project, [csv_path], copy=True)
        assert report.imported == 1 and [r.label for r in project.images()] == ["normal"]
        assert project.classes() and [c.name for c in project.classes()] == ["normal"], "no class from a refused row"
        reasons = dict(report.skipped)
        assert len(report.skipped) == 9
        assert sum("escapes the CSV's folder" in r for r in reasons.values()) == 7
        assert any("unusable path" in r for r in reasons.values())
        assert project.check().problems == []
    after = {k: v for k, v in tree(tmp_path).items() if not k.startswith("proj")}
    assert after == before, "the import wrote (or changed) files outside the project"


def test_csv_field_beyond_the_csv_modules_limit_is_skipped_not_fatal(tmp_path: Path) -> None:
    from medtl_gui.core.project import Project, import_sources

    make_png(tmp_path / "data" / "ok.png")
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("data/ok.png,normal\n" + "x" * 200_000 + ",normal\n")
    with Project.create(tmp_path / "proj") as project:
        report = import_sources(project, [csv_path])
    assert report.imported == 1 and any("not valid CSV" in reason for _, reason in report.skipped)


def test_npz_with_pickled_objects_runs_nothing(tmp_path: Path) -> None:
    from medtl_gui.core.project import Project, import_sources

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):  # what an attacker's pickle would do on load
            return (Path.touch, (marker,))

    images = np.empty(2, dtype=object)
    images[:] = [Payload(), Payload()]
    path = tmp_path / "evil.npz"
    np.savez(path, train_images=images, train_labels=np.array([0, 1]))
    with Project.create(tmp_path / "proj") as project:
        report = import_sources(project, [path])
        assert report.imported == 0
        assert any("Python objects" in reason and "pickle" in reason for _, reason in report.skipped)
    assert not marker.exists(), "the pickle was executed"


def test_npz_member_declaring_a_terabyte_array(worker, tmp_path: Path) -> None:
    """Fuzz finding: numpy allocated what a lying .npy header declared before reading any data."""
    import zipfile

    from medtl_gui.core.project.npz_checks import npz_problem

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "|u1", "fortran_order": False,
                                                  "shape": (1_000_000, 1_000_000)})
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("train_images.npy", buffer.getvalue() + bytes(64))
    problem = npz_problem(path)
    assert problem is not None and "declares an array of shape (1000000, 1000000)" in problem
    reply = worker.call("medtl_gui.core.project.import_fuzzing:target_import_npz", str(path), timeout_s=60)
    assert reply["status"] == "rejected" and "declares an array" in reply["detail"], reply
