"""Decode scans off the GUI thread and deliver them by signal, with a small LRU cache."""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _LoadSignals(QObject):
    finished = Signal(object, object)  # key, Scan
    failed = Signal(object, str)  # key, message


class _LoadTask(QRunnable):
    def __init__(self, key: object, load: Callable[[], object], signals: _LoadSignals):
        super().__init__()
        self.key, self.load, self.signals = key, load, signals
        self.setAutoDelete(True)

    def run(self) -> None:  # worker thread
        try:
            scan = self.load()
        except Exception as exc:  # reported to the GUI, never raised in a pool thread
            self.signals.failed.emit(self.key, str(exc))
        else:
            self.signals.finished.emit(self.key, scan)


class ScanLoader(QObject):
    """Asynchronous, cached scan decoding.

    ``request(key, load)`` returns at once; ``loaded(key, scan)`` or
    ``failed(key, message)`` arrives later on the GUI thread. Repeated requests
    for a key in flight are merged; recently used scans are served from the
    cache synchronously (still through the signal, so callers have one path).
    ``prefetch`` warms the cache for keys the user is likely to open next.
    """

    loaded = Signal(object, object)
    failed = Signal(object, str)

    def __init__(self, parent: QObject | None = None, cache_size: int = 32, threads: int = 2):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, threads))
        self._cache: OrderedDict[object, object] = OrderedDict()
        self._cache_size = cache_size
        self._in_flight: set[object] = set()
        self._signals = _LoadSignals()
        self._signals.finished.connect(self._on_finished)
        self._signals.failed.connect(self._on_failed)
        self._wanted: set[object] = set()

    def cached(self, key: object) -> object | None:
        scan = self._cache.get(key)
        if scan is not None:
            self._cache.move_to_end(key)
        return scan

    def request(self, key: object, load: Callable[[], object]) -> None:
        self._wanted.add(key)
        scan = self.cached(key)
        if scan is not None:
            self._wanted.discard(key)
            self.loaded.emit(key, scan)
            return
        self._start(key, load)

    def prefetch(self, key: object, load: Callable[[], object]) -> None:
        if key not in self._cache:
            self._start(key, load)

    def clear(self) -> None:
        self._cache.clear()
        self._wanted.clear()

    def wait(self, msecs: int = 30000) -> bool:
        return self._pool.waitForDone(msecs)

    def _start(self, key: object, load: Callable[[], object]) -> None:
        if key in self._in_flight:
            return
        self._in_flight.add(key)
        self._pool.start(_LoadTask(key, load, self._signals))

    def _on_finished(self, key: object, scan: object) -> None:
        self._in_flight.discard(key)
        self._cache[key] = scan
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        if key in self._wanted:
            self._wanted.discard(key)
            self.loaded.emit(key, scan)

    def _on_failed(self, key: object, message: str) -> None:
        self._in_flight.discard(key)
        if key in self._wanted:
            self._wanted.discard(key)
            self.failed.emit(key, message)
