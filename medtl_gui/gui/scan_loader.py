"""Decode scans off the GUI thread and deliver them by signal, with an LRU cache bounded in count and bytes."""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from medtl_gui.gui.image_loading import ItemGone

#: default memory budget of the cache (decoded volumes can be hundreds of MB each; with the scan on
#: screen and two loads in flight the application stays well under 2 GB)
DEFAULT_CACHE_BYTES = 768_000_000


class _LoadSignals(QObject):
    finished = Signal(object, object)  # key, value
    failed = Signal(object, str)  # key, message
    gone = Signal(object)  # key


class _LoadTask(QRunnable):
    def __init__(self, key: object, load: Callable[[], object], signals: _LoadSignals):
        super().__init__()
        self.key, self.load, self.signals = key, load, signals
        self.setAutoDelete(True)

    def run(self) -> None:  # worker thread
        try:
            value = self.load()
        except ItemGone:
            self.signals.gone.emit(self.key)
        except Exception as exc:  # reported to the GUI, never raised in a pool thread
            self.signals.failed.emit(self.key, str(exc) or type(exc).__name__)
        else:
            self.signals.finished.emit(self.key, value)


def _nbytes(value: object) -> int:
    return int(getattr(value, "nbytes", 0) or 0)


class ScanLoader(QObject):
    """Asynchronous, cached decoding (of ``LoadedImage``s, or anything with an ``nbytes``).

    ``request(key, load)`` returns at once; ``loaded(key, value)`` or
    ``failed(key, message)`` arrives later on the GUI thread, for the newest
    request only (``gone(key)`` instead when the load raised ``ItemGone``, for
    any key, prefetched ones too) (a newer request supersedes older ones still loading; their
    results are cached all the same). Repeated requests for a key in flight
    are merged; cached values are delivered at once (still through the
    signal, so callers have one path). ``prefetch`` warms the cache for keys
    the user is likely to open next. The cache keeps at most ``cache_size``
    values and ``cache_bytes`` bytes; the value just requested is never
    evicted.
    """

    loaded = Signal(object, object)
    failed = Signal(object, str)
    gone = Signal(object)

    def __init__(self, parent: QObject | None = None, cache_size: int = 32, threads: int = 2,
                 cache_bytes: int = DEFAULT_CACHE_BYTES):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, threads))
        self._cache: OrderedDict[object, object] = OrderedDict()
        self._cache_size = cache_size
        self._cache_bytes = cache_bytes
        self._bytes = 0
        self._in_flight: set[object] = set()
        self._signals = _LoadSignals()
        self._signals.finished.connect(self._on_finished)
        self._signals.failed.connect(self._on_failed)
        self._signals.gone.connect(self._on_gone)
        self._wanted: object | None = None

    def cached(self, key: object) -> object | None:
        """The cached value of ``key`` (marked as recently used), or None."""
        value = self._cache.get(key)
        if value is not None:
            self._cache.move_to_end(key)
        return value

    def holds(self, key: object) -> bool:
        """True when ``key``'s value is cached or being loaded (without marking it as used)."""
        return key in self._cache or key in self._in_flight

    def request(self, key: object, load: Callable[[], object]) -> None:
        """Deliver ``key``'s value by ``loaded`` (at once when cached), loading it with ``load()`` if needed."""
        self._wanted = key
        value = self.cached(key)
        if value is not None:
            self._wanted = None
            self.loaded.emit(key, value)
            return
        self._start(key, load)

    def prefetch(self, key: object, load: Callable[[], object]) -> None:
        """Load ``key`` into the cache in the background (nothing is emitted for it)."""
        if key not in self._cache:
            self._start(key, load)

    def clear(self) -> None:
        """Forget cached values and the pending request (loads in flight finish into the void)."""
        self._pool.clear()
        self._cache.clear()
        self._bytes = 0
        self._wanted = None
        self._in_flight.clear()

    def wait(self, msecs: int = 30000) -> bool:
        """Block until running loads end (closing)."""
        return self._pool.waitForDone(msecs)

    @property
    def cached_bytes(self) -> int:
        """Bytes held by the cache."""
        return self._bytes

    def _start(self, key: object, load: Callable[[], object]) -> None:
        if key in self._in_flight:
            return
        self._in_flight.add(key)
        self._pool.start(_LoadTask(key, load, self._signals))

    def _on_finished(self, key: object, value: object) -> None:
        if key not in self._in_flight:
            return  # cleared meanwhile (e.g. another project was opened)
        self._in_flight.discard(key)
        self._cache[key] = value
        self._cache.move_to_end(key)
        self._bytes += _nbytes(value)
        for oldest in list(self._cache):  # least recently used first
            if len(self._cache) <= self._cache_size and self._bytes <= self._cache_bytes:
                break
            if oldest not in (self._wanted, key):
                self._bytes -= _nbytes(self._cache.pop(oldest))
        if key == self._wanted:
            self._wanted = None
            self.loaded.emit(key, value)

    def _on_gone(self, key: object) -> None:
        if key not in self._in_flight:
            return
        self._in_flight.discard(key)
        if key == self._wanted:
            self._wanted = None
        self.gone.emit(key)

    def _on_failed(self, key: object, message: str) -> None:
        if key not in self._in_flight:
            return
        self._in_flight.discard(key)
        if key == self._wanted:
            self._wanted = None
            self.failed.emit(key, message)
