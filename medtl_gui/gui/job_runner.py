"""Run a ``BackgroundJob`` with a progress dialog and an error box (GUI thread stays free)."""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from medtl_gui.gui.background import BackgroundJob


class JobRunner:
    """Starts background jobs for one window and keeps them until they finish.

    ``run(job, title, on_success)`` shows a (window-modal, cancellable)
    progress dialog after 300 ms, forwards progress, calls ``on_success(result)``
    on the GUI thread, and shows the error with its traceback if the job fails.
    """

    def __init__(self, parent: QWidget):
        self._parent = parent
        self.jobs: list[BackgroundJob] = []
        self.last_error: str | None = None

    def run(self, job: BackgroundJob, title: str, on_success: Callable[[Any], None]) -> BackgroundJob:
        dialog = QProgressDialog(title, "Cancel", 0, 0, self._parent)
        dialog.setWindowTitle(title)
        dialog.setMinimumDuration(300)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.canceled.connect(job.cancel)

        def progress(done: int, total: int, text: str) -> None:
            dialog.setMaximum(max(total, 1))
            dialog.setValue(min(done, max(total, 1)))
            dialog.setLabelText(f"{title}: {done}/{total}\n{text[-80:]}")

        def finish() -> None:
            dialog.reset()
            dialog.deleteLater()
            if job in self.jobs:
                self.jobs.remove(job)

        def failed(message: str, details: str) -> None:
            self.last_error = message
            box = QMessageBox(QMessageBox.Icon.Critical, f"{title} failed", message, parent=self._parent)
            box.setDetailedText(details)
            box.open()

        job.progress.connect(progress)
        job.succeeded.connect(on_success)
        job.failed.connect(failed)
        job.finished.connect(finish)
        self.jobs.append(job)
        job.start()
        return job

    def cancel_all(self, wait_s: float = 10.0) -> None:
        """Ask every running job to stop and wait for them (closing the window)."""
        for job in list(self.jobs):
            job.cancel()
        for job in list(self.jobs):
            job.done.wait(wait_s)
