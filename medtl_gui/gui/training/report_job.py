"""Generate a run's evaluation report in the background and open it (the run history's "Report…" button).

:class:`ReportLauncher` runs :func:`medtl_gui.core.reporting.generate_report`
as a :class:`~medtl_gui.gui.background.BackgroundJob` (the GUI thread only
receives the result), then hands the HTML file to ``opener``, by default
the desktop's browser through ``QDesktopServices``. Tests inject their own
opener so no browser starts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices

from medtl_gui.gui.background import BackgroundJob


def open_in_desktop(path: Path) -> bool:
    """Open ``path`` with the desktop's default application (a browser for HTML)."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def report_split(run_dir: str | Path) -> str:
    """The split a GUI report evaluates: ``test`` when the run had one, else ``val``."""
    try:
        record = json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "test"
    counts = record.get("data", {}).get("counts", {})
    return "test" if "test" in counts or not counts else "val"


class ReportLauncher(QObject):
    """Writes reports off the GUI thread; ``finished(path)`` or ``failed(message)`` when done.

    ``opener(path)`` is called with the written HTML file (injectable: tests
    pass a recorder instead of opening a browser).
    """

    started = Signal(str)  # run folder
    progress = Signal(str)
    finished = Signal(object)  # Path of the HTML report
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None, opener: Callable[[Path], Any] = open_in_desktop):
        super().__init__(parent)
        self.opener = opener
        self.job: BackgroundJob | None = None
        self.last_path: Path | None = None

    @property
    def running(self) -> bool:
        """True while a report is being written."""
        return self.job is not None and not self.job.done.is_set()

    def generate(self, run_dir: str | Path, data: str | Path | None = None, split: str | None = None,
                 out: str | Path | None = None) -> BackgroundJob | None:
        """Start writing the report of ``run_dir`` (None if one is already being written)."""
        if self.running:
            return None
        from medtl_gui.core.reporting import generate_report

        split = split or report_split(run_dir)

        def work(progress: Callable[[int, int, str], None], cancel: Any) -> Path:
            return generate_report(run_dir, out, data=data, split=split,
                                   progress=lambda text: progress(0, 0, text)).path

        job = BackgroundJob(work)
        job.progress.connect(lambda _done, _total, text: self.progress.emit(text))
        job.succeeded.connect(self._done)
        job.failed.connect(lambda message, _details: self.failed.emit(message))
        self.job = job
        self.started.emit(str(run_dir))
        return job.start()

    def _done(self, path: Path) -> None:
        self.last_path = Path(path)
        self.finished.emit(self.last_path)
        self.opener(self.last_path)
