"""Run a plain Python callable off the GUI thread and get its result by signal."""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class BackgroundJob(QObject):
    """One call of ``fn(*args, progress=..., cancel=...)`` in the global thread pool.

    Signals (delivered on the GUI thread): ``progress(done, total, text)``,
    ``succeeded(result)``, ``failed(message, details)``. ``cancel()`` sets a
    ``threading.Event`` that ``fn`` may check between units of work. The job
    keeps itself alive until it has finished.
    """

    progress = Signal(int, int, str)
    succeeded = Signal(object)
    failed = Signal(str, str)
    finished = Signal()

    _alive: set["BackgroundJob"] = set()

    def __init__(self, fn: Callable[..., Any], *args: Any, pass_progress: bool = True, **kwargs: Any):
        super().__init__()
        self.cancel_event = threading.Event()
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._pass_progress = pass_progress
        self.done = threading.Event()
        self.running = threading.Event()  # set while fn runs on a pool thread
        # Delivered on the GUI thread after succeeded/failed: only then may the job be freed.
        self.finished.connect(self._release)

    def start(self) -> "BackgroundJob":
        BackgroundJob._alive.add(self)
        QThreadPool.globalInstance().start(_JobRunnable(self))
        return self

    def cancel(self) -> None:
        self.cancel_event.set()

    @classmethod
    def wait_for_running(cls, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s`` in all) for the jobs running now to return; False on time-out.

        Called before a project closes: its connections must not close under a query that a job
        is running (SQLite does not allow that). Jobs still queued fail cleanly on the closed project.
        """
        deadline = time.monotonic() + timeout_s
        for job in list(cls._alive):
            if job.running.is_set() and not job.done.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    def _run(self) -> None:  # worker thread
        self.running.set()
        try:
            kwargs = dict(self._kwargs)
            if self._pass_progress:
                kwargs["progress"] = lambda done, total, text="": self.progress.emit(int(done), int(total), str(text))
                kwargs["cancel"] = self.cancel_event
            result = self._fn(*self._args, **kwargs)
        except Exception as exc:
            self.failed.emit(str(exc) or type(exc).__name__, traceback.format_exc())
        else:
            self.succeeded.emit(result)
        finally:
            self.running.clear()
            self.done.set()
            self.finished.emit()

    def _release(self) -> None:
        BackgroundJob._alive.discard(self)


class _JobRunnable(QRunnable):
    def __init__(self, job: BackgroundJob):
        super().__init__()
        self._job = job

    def run(self) -> None:
        self._job._run()
