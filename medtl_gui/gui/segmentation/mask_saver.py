"""Save edited masks to the project store on a worker thread, in order, coalescing repeats.

The GUI thread only hands over a copy of the mask (microseconds); PNG
encoding, fsync and the SQLite transaction of ``Project.set_mask`` run on a
single background thread, so saves of one slice land in the order they
were made. When several saves of the same slice are waiting, only the newest
is written (each written mask is a complete, consistent state, and the store
keeps a history row per write). An all-zero mask removes the stored mask
instead (``Project.delete_mask``), so "has mask" stays truthful.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


@dataclass
class _SaveRequest:
    project: Any  # medtl_gui.core.project.Project
    image_id: int
    slice_index: int | None
    mask: np.ndarray
    origin: str
    user: str | None


class MaskSaver(QObject):
    """Background, ordered, coalescing writer of masks.

    Signals (GUI thread): ``saved(image_id, slice_index)`` after a mask was
    committed (or deleted because it was empty), ``failed(image_id,
    slice_index, message)`` when the store refused it, ``vanished(image_id,
    slice_index)`` instead when the image is no longer in the project (another
    window or process removed it; the saves of other images go on).
    """

    saved = Signal(int, object)
    failed = Signal(int, object, str)
    vanished = Signal(int, object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._lock = threading.Lock()
        self._pending: dict[tuple[int, int, int | None], _SaveRequest] = {}
        self._running = False
        self.last_write_seconds = 0.0
        self.writes = 0

    def save(self, project: Any, image_id: int, slice_index: int | None, mask: np.ndarray, *,
             origin: str = "human", user: str | None = None) -> None:
        """Queue a copy of ``mask`` to be stored as the final mask of the image/slice."""
        request = _SaveRequest(project, int(image_id), slice_index, np.array(mask, dtype=np.uint8, copy=True),
                               origin, user)
        key = (id(project), request.image_id, slice_index)
        with self._lock:
            self._pending.pop(key, None)  # re-insert at the end: keeps the order of the latest edits
            self._pending[key] = request
            if self._running:
                return
            self._running = True
        self._pool.start(_DrainQueue(self))

    @property
    def pending(self) -> int:
        """Saves queued but not yet written (0 when idle)."""
        with self._lock:
            return len(self._pending) + (1 if self._running else 0)

    def flush(self, timeout_ms: int = 30000) -> bool:
        """Block until every queued save is written (e.g. before closing the project)."""
        deadline = time.monotonic() + timeout_ms / 1000.0
        while True:
            remaining = int(max(0.0, deadline - time.monotonic()) * 1000)
            if not self._pool.waitForDone(remaining):
                return False
            with self._lock:
                if not self._pending and not self._running:
                    return True
            if time.monotonic() >= deadline:
                return False

    # -- worker thread ---------------------------------------------------------
    def _next(self) -> _SaveRequest | None:
        with self._lock:
            if not self._pending:
                self._running = False
                return None
            key = next(iter(self._pending))
            return self._pending.pop(key)

    def _write(self, request: _SaveRequest) -> None:
        started = time.perf_counter()
        try:
            if request.mask.any():
                request.project.set_mask(request.image_id, request.mask, request.slice_index,
                                         origin=request.origin, user=request.user)
            else:
                request.project.delete_mask(request.image_id, request.slice_index, user=request.user)
        except Exception as exc:  # reported on the GUI thread; the edit stays in the document
            from medtl_gui.gui.image_loading import image_is_gone

            if image_is_gone(request.project, request.image_id):
                self._emit(self.vanished, request.image_id, request.slice_index)
            else:
                self._emit(self.failed, request.image_id, request.slice_index, str(exc) or type(exc).__name__)
        else:
            self.last_write_seconds = time.perf_counter() - started
            self.writes += 1
            self._emit(self.saved, request.image_id, request.slice_index)

    @staticmethod
    def _emit(signal: Any, *args: Any) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the window is gone (application quitting): the mask is stored all the same
            pass


class _DrainQueue(QRunnable):
    """Writes queued masks until the queue is empty."""

    def __init__(self, saver: MaskSaver):
        super().__init__()
        self._saver = saver

    def run(self) -> None:
        while (request := self._saver._next()) is not None:
            self._saver._write(request)
