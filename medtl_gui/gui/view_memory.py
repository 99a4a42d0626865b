"""Per-image window/level and slice, remembered for the session and across restarts (QSettings).

Coming back to an image shows the window and slice the user left it with.
Entries are keyed by the project folder (hashed: the key stays short and
says nothing about the path) and the image id, and carry a time stamp;
beyond :data:`VIEW_MEMORY_LIMIT` entries the oldest are dropped. The main
window remembers the view when it leaves an image (another image, another
project, closing), not on every drag step.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from PySide6.QtCore import QSettings

#: entries kept in all (every project together); the oldest go first
VIEW_MEMORY_LIMIT = 300
_GROUP = "image_views"


def project_key(folder: str | Path) -> str:
    """A short, stable key of a project folder (its resolved path, hashed)."""
    resolved = str(Path(folder).expanduser().resolve())
    return hashlib.sha1(resolved.encode("utf-8")).hexdigest()[:16]


class ViewMemory:
    """Remembers ``(window centre, width, slice)`` per (project, image) in a ``QSettings`` store."""

    def __init__(self, store: QSettings, limit: int = VIEW_MEMORY_LIMIT):
        self.store = store
        self.limit = limit

    def remember(self, folder: str | Path, image_id: int, center: float, width: float, slice_index: int) -> None:
        """Keep the view of an image (replacing what was kept), dropping the oldest entries beyond the limit."""
        self.store.beginGroup(_GROUP)
        try:
            self.store.setValue(f"{project_key(folder)}-{int(image_id)}",
                                f"{float(center)!r};{float(width)!r};{int(slice_index)};{time.time()!r}")
            keys = self.store.childKeys()
            if len(keys) > self.limit:
                stamps = sorted((self._stamp(self.store.value(k)), k) for k in keys)
                for _stamp, key in stamps[:len(keys) - self.limit]:
                    self.store.remove(key)
        finally:
            self.store.endGroup()

    def recall(self, folder: str | Path, image_id: int) -> tuple[float, float, int] | None:
        """The kept ``(centre, width, slice)`` of an image, or None (never seen, or an unreadable entry)."""
        raw = self.store.value(f"{_GROUP}/{project_key(folder)}-{int(image_id)}")
        try:
            center, width, slice_index, _stamp = str(raw).split(";")
            return float(center), float(width), int(slice_index)
        except (TypeError, ValueError):
            return None

    def __len__(self) -> int:
        self.store.beginGroup(_GROUP)
        try:
            return len(self.store.childKeys())
        finally:
            self.store.endGroup()

    @staticmethod
    def _stamp(raw: object) -> float:
        try:
            return float(str(raw).rsplit(";", 1)[1])
        except (IndexError, ValueError):
            return 0.0
