"""Thumbnail pixmaps for the browser: made in a background pool, cached on disk and in memory.

``pixmap(image_id, sha256)`` returns at once: the thumbnail when it is in
memory, else None after queueing its creation (newest request first, so
the rows the user scrolled to come before the ones scrolled past);
``ready(image_id)`` follows on the GUI thread.

Memory stays bounded however large the project: at most ``memory_limit``
pixmaps and ``memory_bytes`` bytes are kept (least recently used go first;
the disk cache makes them cheap to get back), and a queued request that
more than ``STALE_REQUESTS`` newer requests overtook (rows the user
scrolled past) is dropped unstarted, to be asked again if its row returns.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from medtl_gui.gui.thumbnail_making import THUMBNAIL_SIZE, load_or_make_thumbnail

#: default bytes of thumbnail pixmaps kept in memory (about 1,000 thumbnails of 128 x 128)
DEFAULT_MEMORY_BYTES = 64 * 2**20
#: a queued thumbnail that this many newer requests overtook is dropped before it starts
STALE_REQUESTS = 400


def array_to_qimage(picture: np.ndarray) -> QImage:
    """A QImage that owns a copy of a uint8 grey (h, w) or RGB (h, w, 3) array (safe in any thread)."""
    picture = np.ascontiguousarray(picture, dtype=np.uint8)
    height, width = picture.shape[:2]
    if picture.ndim == 3:
        image = QImage(picture.data, width, height, picture.strides[0], QImage.Format.Format_RGB888)
    else:
        image = QImage(picture.data, width, height, picture.strides[0], QImage.Format.Format_Grayscale8)
    return image.copy()


def _pixmap_bytes(pixmap: QPixmap) -> int:
    """Memory held by a pixmap's pixels."""
    return pixmap.width() * pixmap.height() * max(1, pixmap.depth()) // 8


class _ThumbnailSignals(QObject):
    made = Signal(int, int, QImage)  # generation, image id, picture
    failed = Signal(int, int, str)
    dropped = Signal(int, int)  # generation, image id: overtaken before it started


class _MakeThumbnail(QRunnable):
    def __init__(self, project: Any, image_id: int, sha256: str, size: int, generation: int,
                 signals: _ThumbnailSignals, serial: int = 0, latest: Any = None):
        super().__init__()
        self.args = (project, image_id, sha256, size)
        self.generation = generation
        self.signals = signals
        self.serial = serial  # this request's number
        self.latest = latest  # callable: the newest request's number

    def run(self) -> None:  # pool thread
        project, image_id, sha256, size = self.args
        if self.latest is not None and self.latest() - self.serial > STALE_REQUESTS:
            self.signals.dropped.emit(self.generation, image_id)
            return
        try:
            picture = load_or_make_thumbnail(project, image_id, sha256, size)
            self.signals.made.emit(self.generation, image_id, array_to_qimage(picture))
        except Exception as exc:  # an unreadable image gets no thumbnail, the browser goes on
            self.signals.failed.emit(self.generation, image_id, str(exc))


class ThumbnailCache(QObject):
    """Thumbnails of the current project's images. Signals: ``ready(image_id)``, ``failed(image_id, reason)``."""

    ready = Signal(int)
    failed = Signal(int, str)

    def __init__(self, parent: QObject | None = None, memory_limit: int = 3000, size: int = THUMBNAIL_SIZE,
                 threads: int | None = None, memory_bytes: int = DEFAULT_MEMORY_BYTES):
        super().__init__(parent)
        self.size = size
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads or max(1, QThread.idealThreadCount() // 2))
        self._pool.setThreadPriority(QThread.Priority.LowPriority)
        self._signals = _ThumbnailSignals()
        self._signals.made.connect(self._on_made)
        self._signals.failed.connect(self._on_failed)
        self._signals.dropped.connect(self._on_dropped)
        self._memory: OrderedDict[int, QPixmap] = OrderedDict()
        self._memory_limit = memory_limit
        self._memory_bytes = memory_bytes
        self._bytes = 0
        self._serial = 0  # number of the newest request
        self._requested: set[int] = set()
        self._broken: dict[int, str] = {}
        self._priority = itertools.count(1)
        self._generation = 0
        self.project: Any = None

    def set_project(self, project: Any) -> None:
        """Forget everything and serve this project's thumbnails (None: no project)."""
        self._pool.clear()
        self._generation += 1
        self._memory.clear()
        self._bytes = 0
        self._serial = 0
        self._requested.clear()
        self._broken.clear()
        self.project = project

    def pixmap(self, image_id: int, sha256: str) -> QPixmap | None:
        """The thumbnail if ready; otherwise None, and it is queued."""
        found = self._memory.get(image_id)
        if found is not None:
            self._memory.move_to_end(image_id)
            return found
        if self.project is not None and image_id not in self._requested and image_id not in self._broken:
            self._requested.add(image_id)
            self._serial += 1
            task = _MakeThumbnail(self.project, image_id, sha256, self.size, self._generation, self._signals,
                                  self._serial, self._latest_serial)
            # newest first: the rows on screen now matter more than those scrolled past
            self._pool.start(task, min(next(self._priority), 2**30))
        return None

    def problem(self, image_id: int) -> str | None:
        """Why an image has no thumbnail (unreadable file), or None."""
        return self._broken.get(image_id)

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the queue is empty (tests, closing)."""
        return self._pool.waitForDone(msecs)

    @property
    def cached_count(self) -> int:
        """Thumbnails in memory."""
        return len(self._memory)

    @property
    def cached_bytes(self) -> int:
        """Bytes of the thumbnails in memory."""
        return self._bytes

    @property
    def request_count(self) -> int:
        """Thumbnails requested since the project was set (each a cell painted before its picture was ready)."""
        return self._serial

    def _latest_serial(self) -> int:
        return self._serial

    def _on_made(self, generation: int, image_id: int, picture: QImage) -> None:
        if generation != self._generation:
            return
        self._requested.discard(image_id)
        pixmap = QPixmap.fromImage(picture)
        old = self._memory.pop(image_id, None)
        self._bytes += _pixmap_bytes(pixmap) - (_pixmap_bytes(old) if old is not None else 0)
        self._memory[image_id] = pixmap
        while len(self._memory) > 1 and (len(self._memory) > self._memory_limit or self._bytes > self._memory_bytes):
            self._bytes -= _pixmap_bytes(self._memory.popitem(last=False)[1])
        self.ready.emit(image_id)

    def _on_dropped(self, generation: int, image_id: int) -> None:
        if generation == self._generation:
            self._requested.discard(image_id)  # asked again when its row is painted again

    def _on_failed(self, generation: int, image_id: int, reason: str) -> None:
        if generation != self._generation:
            return
        self._requested.discard(image_id)
        self._broken[image_id] = reason
        self.failed.emit(image_id, reason)
