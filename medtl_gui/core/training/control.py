"""``RunControl``: thread-safe cancel and pause flags the engine checks between batches."""

from __future__ import annotations

import threading


class RunControl:
    """Cancel/pause requests from any thread (e.g. the GUI thread) to the training thread."""

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def cancel(self) -> None:
        """Stop before the next batch (also ends a pause)."""
        self._cancel.set()
        self._running.set()

    def pause(self) -> None:
        """Hold before the next batch until :meth:`resume` or :meth:`cancel`."""
        if not self._cancel.is_set():
            self._running.clear()

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        self._running.set()

    @property
    def cancelled(self) -> bool:
        """Whether cancel was requested."""
        return self._cancel.is_set()

    @property
    def paused(self) -> bool:
        """Whether the run is asked to hold."""
        return not self._running.is_set()

    def wait_while_paused(self, timeout_s: float | None = None) -> bool:
        """Block while paused; returns True once running again (or cancelled), False on timeout."""
        return self._running.wait(timeout_s)
