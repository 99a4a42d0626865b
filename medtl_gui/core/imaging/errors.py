"""The one error every scan reader raises for input it cannot read."""

from __future__ import annotations

import os

#: longest reason kept (a corrupt header can put kilobytes of binary junk into a message)
MAX_REASON_CHARS = 1000


def printable_reason(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """``text`` on one line, control and other unprintable characters as ``?``, at most ``limit`` characters."""
    one_line = " ".join(str(text).split())
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in one_line)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


class ScanReadError(Exception):
    """A file or folder could not be read as a scan.

    Always names the file and says why, e.g.
    ``ScanReadError("a.dcm", "JPEG 2000 stream is truncated")``. The reason
    is kept to one printable line of at most :data:`MAX_REASON_CHARS`
    characters, whatever a corrupt file put into it.
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = printable_reason(reason)
        super().__init__(f"{self.path}: {self.reason}")
