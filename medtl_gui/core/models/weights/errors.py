"""Errors of the weight store: each names the file and says why."""

from __future__ import annotations

import os


class WeightsError(Exception):
    """Weights that cannot be used; ``str()`` names the file and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class TamperedWeightsError(WeightsError):
    """The file's SHA-256 does not match the one recorded for it (name prefix or manifest)."""

    def __init__(self, path: str | os.PathLike, expected: str, actual: str):
        self.expected = expected
        self.actual = actual
        super().__init__(
            path,
            f"SHA-256 mismatch: expected {expected}..., the file has {actual}; "
            "the file is corrupt or has been altered and will not be loaded",
        )


class UnsafeWeightsError(WeightsError):
    """The file is not plain tensors (e.g. a pickle that would run code); nothing was executed."""


class MissingWeightsError(WeightsError):
    """Pretrained weights that the store does not hold, with how to get them."""

    def __init__(self, store_dir: str | os.PathLike, name: str, reason: str):
        self.name = name
        super().__init__(store_dir, reason)

    def __str__(self) -> str:
        return f"{self.reason} (weight store: {self.path})"
