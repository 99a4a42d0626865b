"""The error data sources raise for input they cannot use."""

from __future__ import annotations

import os


class DataError(Exception):
    """A data file or project that cannot be used for training; names it and says why."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
