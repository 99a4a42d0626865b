"""One background run at a time: owns the ``QThread``, the worker and its ``RunControl``.

Lives on the GUI thread. ``start(request)`` moves a new
:class:`TrainingWorker` to a new ``QThread``; the worker's signals are
re-emitted here (queued to the GUI thread), so widgets connect once to the
session whatever run is active. ``pause``/``resume``/``stop`` only set the
thread-safe flags the engine checks between batches: stop takes effect
within one batch.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal

from medtl_gui.core.training.control import RunControl
from medtl_gui.gui.training.run_progress import RunOutcome
from medtl_gui.gui.training.worker import TrainingWorker, TrainRequest

IDLE, RUNNING, PAUSED, STOPPING = "idle", "running", "paused", "stopping"


class TrainingSession(QObject):
    """Starts, pauses, resumes and stops background runs; ``state_changed(state)`` on every change."""

    state_changed = Signal(str)
    run_started = Signal(object)
    batches = Signal(object)
    epoch_finished = Signal(object)
    validation = Signal(object)
    overlays = Signal(object)
    message = Signal(str, str)
    finished = Signal(object)  # RunOutcome

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.state = IDLE
        self.request: TrainRequest | None = None
        self.control: RunControl | None = None
        self.last_outcome: RunOutcome | None = None
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None

    @property
    def running(self) -> bool:
        """True from ``start`` until the worker's ``finished`` has been handled."""
        return self.state != IDLE

    def start(self, request: TrainRequest) -> None:
        """Run ``request`` on a new thread; ``RuntimeError`` while another run is active."""
        if self.running:
            raise RuntimeError("a training run is already active; stop it first")
        self.request = request
        self.control = RunControl()
        thread = QThread()
        thread.setObjectName("medtl-training")
        worker = TrainingWorker(request, self.control)
        worker.moveToThread(thread)
        worker.run_started.connect(self.run_started)
        worker.batches.connect(self.batches)
        worker.epoch_finished.connect(self.epoch_finished)
        worker.validation.connect(self.validation)
        worker.overlays.connect(self.overlays)
        worker.message.connect(self.message)
        worker.paused.connect(self._on_paused)
        worker.resumed.connect(self._on_resumed)
        worker.finished.connect(self._on_finished)
        thread.started.connect(worker.run)
        self._thread, self._worker = thread, worker
        self._set_state(RUNNING)
        thread.start()

    def pause(self) -> None:
        """Hold before the next batch (the state becomes "paused" when the engine confirms)."""
        if self.control is not None and self.state == RUNNING:
            self.control.pause()

    def resume(self) -> None:
        """Continue a paused run."""
        if self.control is not None and self.state in (RUNNING, PAUSED):
            self.control.resume()

    def stop(self) -> None:
        """Stop before the next batch (also ends a pause); ``finished`` follows with status "cancelled"."""
        if self.control is not None and self.running:
            self.control.cancel()
            self._set_state(STOPPING)

    def wait(self, timeout_s: float = 30.0) -> bool:
        """Block (processing events) until the active run has finished; True when it has."""
        deadline = time.perf_counter() + timeout_s
        while self.running and time.perf_counter() < deadline:
            QCoreApplication.processEvents()
            if self._thread is not None:
                self._thread.wait(10)
        return not self.running

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        """Stop any run and wait for its thread (closing the window or the project)."""
        self.stop()
        return self.wait(timeout_s)

    # -- internals -----------------------------------------------------------------------
    def _on_paused(self) -> None:
        if self.state == RUNNING:
            self._set_state(PAUSED)

    def _on_resumed(self) -> None:
        if self.state == PAUSED:
            self._set_state(RUNNING)

    def _on_finished(self, outcome: RunOutcome) -> None:
        thread = self._thread
        if thread is not None:
            thread.quit()  # the worker has returned from run(): its event loop ends at once
            thread.wait(5000)
            thread.deleteLater()
        if self._worker is not None:
            self._worker.deleteLater()
        self._thread, self._worker = None, None
        self.last_outcome = outcome
        self._set_state(IDLE)
        self.finished.emit(outcome)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)
