"""Generate a run's evaluation report in the background and open it (the run history's "Report…" button).

:class:`ReportLauncher` runs :func:`medtl_gui.core.reporting.generate_report`
as a :class:`~medtl_gui.gui.background.BackgroundJob` (the GUI thread only
receives the result), then hands the HTML file to ``opener``, by default
the desktop's browser through ``QDesktopServices``. When the opener says
it could not (False: no handler registered, no desktop session), a
:class:`ReportLocationDialog` shows the path with *Open folder* and *Copy
path*. Tests inject their own opener so no browser starts.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QWidget

from medtl_gui.core.runs import RunRecord
from medtl_gui.gui.background import BackgroundJob

#: Qt platforms without a desktop session (nothing can be opened there)
_HEADLESS_PLATFORMS = frozenset({"offscreen", "minimal", "vnc"})


def desktop_can_open() -> bool:
    """False where no application can be opened: a headless Qt platform, or Linux without ``xdg-open``."""
    app = QGuiApplication.instance()
    if app is not None and QGuiApplication.platformName() in _HEADLESS_PLATFORMS:
        return False
    return not sys.platform.startswith("linux") or shutil.which("xdg-open") is not None


def open_in_desktop(path: Path) -> bool:
    """Open ``path`` (a file or folder) with the desktop's default application; False when it cannot."""
    if not desktop_can_open():
        return False
    return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))))


def report_split(run_dir: str | Path) -> str:
    """The split a GUI report evaluates: ``test`` when the run had one, else ``val``."""
    record = RunRecord(run_dir).config_or_none()
    if record is None:
        return "test"
    counts = record.get("data", {}).get("counts", {})
    return "test" if "test" in counts or not counts else "val"


class ReportLauncher(QObject):
    """Writes reports off the GUI thread; ``finished(path)`` or ``failed(message)`` when done.

    ``opener(path)`` is called with the written HTML file (injectable: tests
    pass a recorder instead of opening a browser); when it returns False,
    ``location_dialog`` shows where the report is (``location_shown``), its
    *Open folder* using ``folder_opener``.
    """

    started = Signal(str)  # run folder
    progress = Signal(str)
    finished = Signal(object)  # Path of the HTML report
    failed = Signal(str)
    location_shown = Signal(object)  # the ReportLocationDialog

    def __init__(self, parent: QObject | None = None, opener: Callable[[Path], Any] = open_in_desktop,
                 folder_opener: Callable[[Path], bool] = open_in_desktop):
        super().__init__(parent)
        self.opener = opener
        self.folder_opener = folder_opener
        self.job: BackgroundJob | None = None
        self.last_path: Path | None = None
        self.location_dialog: Any = None

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
        if self.opener(self.last_path) is False:
            self.show_location(self.last_path)

    def show_location(self, path: Path) -> Any:
        """Show the report's path with *Open folder* and *Copy path* (non-blocking); returns the dialog."""
        from medtl_gui.gui.dialogs.report_location_dialog import ReportLocationDialog

        parent = self.parent()
        dialog = ReportLocationDialog(path, self.folder_opener, parent if isinstance(parent, QWidget) else None)
        if self.location_dialog is not None:
            self.location_dialog.close()
        self.location_dialog = dialog
        dialog.open()
        self.location_shown.emit(dialog)
        return dialog
