"""The one error every scan reader raises for input it cannot read."""

from __future__ import annotations

import os


class ScanReadError(Exception):
    """A file or folder could not be read as a scan.

    Always names the file and says why, e.g.
    ``ScanReadError("a.dcm", "JPEG 2000 stream is truncated")``.
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
