"""Checks a weights file passes before a byte of it is read or inflated.

- :func:`check_regular_file`: the path is a plain file. A device
  (``/dev/zero``), a FIFO or a folder is refused with what it is, without
  opening it (opening a FIFO for reading would wait for a writer forever).
- :func:`check_archive_bounds`: a PyTorch ``.pth`` is a zip archive whose
  records ``torch.load`` inflates whole into memory. Each record's declared
  uncompressed size is compared with its compressed size (ratio) and the
  total with the file's size and an absolute limit, from the zip directory
  alone, so a 4 MB file declaring a 4 GiB record is refused before any
  memory is spent on it. ``torch.save`` writes records uncompressed, so real
  weights are nowhere near these limits.
"""

from __future__ import annotations

import os
import stat
import struct
import zipfile

from medtl_gui.core.models.weights.errors import WeightsError

#: a deflated record may declare at most this many times its compressed size ...
MAX_COMPRESSION_RATIO = 100
#: ... once it is larger than this (small records of zeros compress very well, harmlessly)
RATIO_FREE_BYTES = 1 << 20
#: the most a weights archive may declare in all (the largest torchvision files are ~2.7 GB)
MAX_UNCOMPRESSED_BYTES = 16 << 30

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words (``stat`` mode)."""
    return next((words for test, words in _KINDS if test(mode)), "not a plain file")


def not_regular(path: str | os.PathLike, mode: int) -> WeightsError:
    """The error for a path that exists but is not a regular file."""
    return WeightsError(path, f"not a regular file ({file_kind(mode)}); give the path of a weights file "
                              "(.pth, .pt, .bin or .safetensors)")


def check_regular_file(path: str | os.PathLike) -> os.stat_result:
    """``os.stat(path)`` if it is a regular file; else :class:`WeightsError` saying what it is."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise WeightsError(path, "no such file") from None
    except PermissionError:
        raise WeightsError(path, "permission denied") from None
    except OSError as exc:
        raise WeightsError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if not stat.S_ISREG(info.st_mode):
        raise not_regular(path, info.st_mode)
    return info


def open_regular_file(path: str | os.PathLike):
    """Open a regular file for binary reading; never blocks on a FIFO (opened non-blocking, then checked)."""
    check_regular_file(path)
    handle = open(path, "rb", opener=lambda p, flags: os.open(p, flags | os.O_NONBLOCK))  # noqa: SIM115
    info = os.fstat(handle.fileno())
    if not stat.S_ISREG(info.st_mode):  # swapped for something else since the check
        handle.close()
        raise not_regular(path, info.st_mode)
    return handle


def _gib(n: int) -> str:
    if n < 2**20:
        return f"{n} bytes"
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def check_archive_bounds(path: str | os.PathLike) -> None:
    """Refuse a zip weights archive whose declared sizes are out of proportion, before inflating anything.

    Files that are not zip archives (safetensors, legacy PyTorch files) pass
    unchanged. Raises :class:`WeightsError` naming the file and the record.
    """
    size = check_regular_file(path).st_size
    with open_regular_file(path) as stream:
        try:
            if not zipfile.is_zipfile(stream):
                return
            stream.seek(0)
            with zipfile.ZipFile(stream) as archive:
                records = archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, OSError, EOFError,
                struct.error) as exc:
            raise WeightsError(path, f"not a readable PyTorch weights file (damaged zip archive: {exc})") from exc
    total = 0
    for record in records:
        declared, stored = record.file_size, record.compress_size
        if record.compress_type == zipfile.ZIP_STORED and declared != stored:
            raise WeightsError(path, f"record {record.filename!r} declares {declared} uncompressed bytes but stores "
                                     f"{stored}: a damaged or forged archive; refused before reading it")
        if declared > RATIO_FREE_BYTES and declared > MAX_COMPRESSION_RATIO * max(stored, 1):
            raise WeightsError(path, f"record {record.filename!r} would inflate {_gib(stored)} to {_gib(declared)} "
                                     f"uncompressed (over {MAX_COMPRESSION_RATIO}x): a decompression bomb; "
                                     "refused before inflating anything")
        total += declared
    if total > MAX_UNCOMPRESSED_BYTES or total > MAX_COMPRESSION_RATIO * size + RATIO_FREE_BYTES:
        raise WeightsError(path, f"the archive declares {_gib(total)} uncompressed in {len(records)} records for a "
                                 f"{_gib(size)} file (limit {MAX_COMPRESSION_RATIO}x the file and "
                                 f"{_gib(MAX_UNCOMPRESSED_BYTES)}); refused before inflating anything")
