"""The error every mask reader and writer raises for bad input."""

from __future__ import annotations

import os


class MaskFormatError(ValueError):
    """A mask file that cannot be read or written, or does not fit its scan; names the file and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
