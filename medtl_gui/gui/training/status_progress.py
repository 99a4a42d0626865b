"""Non-modal progress of background jobs in the status bar (the user keeps labelling meanwhile).

Unlike the window-modal ``JobRunner`` dialog used for imports, long model
jobs (applying a model to hundreds of images) show a small progress bar
and a Cancel button in the status bar; failures open an error box.
"""

from __future__ import annotations

import contextlib

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QProgressBar, QPushButton, QWidget

from medtl_gui.gui.background import BackgroundJob


class StatusProgress(QWidget):
    """One background job at a time, with its progress in a status-bar widget."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(180)
        self.bar.setMaximumHeight(16)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setFlat(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.job: BackgroundJob | None = None
        self.last_error: str | None = None
        self.error_box: QMessageBox | None = None
        self.hide()

    @property
    def busy(self) -> bool:
        return self.job is not None

    def run(self, job: BackgroundJob, title: str, on_success: Callable[[Any], None]) -> BackgroundJob | None:
        """Start ``job``; None (nothing started) while another job runs."""
        if self.job is not None:
            return None
        self.job = job
        self.label.setText(title)
        self.bar.setRange(0, 0)
        self.cancel_button.setEnabled(True)
        self.cancel_button.clicked.connect(job.cancel)
        self.cancel_button.clicked.connect(lambda: self.cancel_button.setEnabled(False))
        job.progress.connect(self._progress)
        job.succeeded.connect(on_success)
        job.failed.connect(lambda message, details: self._failed(title, message, details))
        job.finished.connect(self._finished)
        self.show()
        return job.start()

    def _progress(self, done: int, total: int, text: str) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(min(done, max(total, 1)))
        self.bar.setFormat(f"{done}/{total}")
        self.bar.setToolTip(text)

    def _failed(self, title: str, message: str, details: str) -> None:
        self.last_error = message
        box = QMessageBox(QMessageBox.Icon.Critical, f"{title} failed", message, parent=self.window())
        box.setDetailedText(details)
        box.open()
        self.error_box = box

    def _finished(self) -> None:
        with contextlib.suppress(RuntimeError, TypeError):  # nothing was connected
            self.cancel_button.clicked.disconnect()
        self.job = None
        self.hide()
