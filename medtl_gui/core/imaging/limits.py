"""Size limits that keep hostile or corrupt files from exhausting memory.

Every reader asks :func:`check_expansion` before it allocates the decoded
pixels: a header may announce any size, so the announced size is compared
with an absolute ceiling and with the bytes actually stored. A small file
that claims to hold gigabytes (a decompression bomb, or a lying Rows x
Columns x Frames) is refused before any allocation, with a message that says
what was claimed and why it was refused.

Real data stays far below these limits: compressed medical images expand
about 2-30 times (a blank region may reach a few hundred), and anything that
decodes to less than :data:`BOMB_FLOOR_BYTES` is always allowed.
"""

from __future__ import annotations

import io
import os

from medtl_gui.core.imaging.errors import ScanReadError

#: never decode more than this for one scan, whatever the file holds
MAX_DECODED_BYTES = 16 * 2**30
#: decoded sizes up to this are always allowed (whatever the compression ratio)
BOMB_FLOOR_BYTES = 256 * 2**20
#: above the floor, refuse data that would expand more than this many times
MAX_EXPANSION_RATIO = 200


def _gib(n_bytes: float) -> str:
    if n_bytes >= 2**30:
        return f"{n_bytes / 2**30:.1f} GiB"
    return f"{n_bytes / 2**20:.1f} MiB"


def expansion_problem(decoded_bytes: int, stored_bytes: int, what: str) -> str | None:
    """Why decoding ``decoded_bytes`` from ``stored_bytes`` is refused, or None when it is fine."""
    if decoded_bytes > MAX_DECODED_BYTES:
        return f"{what} would take {_gib(decoded_bytes)} (limit {_gib(MAX_DECODED_BYTES)}); refusing to decode"
    if decoded_bytes > BOMB_FLOOR_BYTES and decoded_bytes > MAX_EXPANSION_RATIO * max(1, stored_bytes):
        return (
            f"{what} would expand {stored_bytes} stored bytes into {_gib(decoded_bytes)} "
            f"(more than {MAX_EXPANSION_RATIO} times); refused as a possible decompression bomb"
        )
    return None


def check_expansion(path: str | os.PathLike, *, decoded_bytes: int, stored_bytes: int, what: str) -> None:
    """Raise ``ScanReadError`` when ``decoded_bytes`` is implausible for ``stored_bytes`` (see module doc)."""
    problem = expansion_problem(int(decoded_bytes), int(stored_bytes), what)
    if problem is not None:
        raise ScanReadError(path, problem)


class BoundedFile(io.BufferedReader):
    """A binary file whose ``read(n)`` never asks for more than the bytes left in the file.

    Parsers read an element by calling ``read(declared_length)``; with a
    lying length of 0xFFFFFFF0 a plain file object allocates 4 GiB before
    noticing the file is short. Reading through this class, the parser gets
    the short read (and reports the truncation) without the allocation.
    Opened like ``open(path, "rb")``, so pydicom can re-open it by name to
    read deferred values.
    """

    #: reads of at most this many bytes at the very end of the file are the parser probing for EOF
    _PROBE_BYTES = 16

    def __init__(self, path: str | os.PathLike, mode: str = "rb"):
        if mode != "rb":
            raise ValueError(f"BoundedFile is read-only binary, not {mode!r}")
        super().__init__(io.FileIO(os.fspath(path), "rb"))
        self._size = os.fstat(self.fileno()).st_size
        #: ``(offset, bytes asked for, bytes there were)`` of every read that ran past the end of the file
        self.short_reads: list[tuple[int, int, int]] = []

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size > 0:
            offset = self.tell()
            available = max(0, self._size - offset)
            if size > available:
                if available > 0 or size > self._PROBE_BYTES:
                    self.short_reads.append((offset, size, available))
                size = available
            if size == 0:
                return b""
        return super().read(size)
