"""The one error the project store raises for a folder it cannot use."""

from __future__ import annotations

import os


class ProjectError(Exception):
    """A project folder could not be opened, created or changed.

    Always names the folder (or file) and says why, e.g.
    ``ProjectError("/data/p1", "not a MedTL project (no project.sqlite)")``.
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
