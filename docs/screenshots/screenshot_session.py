"""What every screenshot script starts with: the app's QApplication, the demo project, a settle loop.

Imported by the ``make_*screenshot*.py`` scripts next to it (run as scripts, so
this folder is on ``sys.path``).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def start_app(prefix: str):
    """A themed QApplication with private settings, and a new demo project in ``work/demo``: (app, work)."""
    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    work = Path(tempfile.mkdtemp(prefix=prefix))
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(work / "settings"))
    app = QApplication(sys.argv[:1])
    app.setApplicationName("MedTL")
    from medtl_gui.core.project import create_demo_project
    from medtl_gui.gui.resources import resource_path
    from medtl_gui.gui.theme import apply_theme

    apply_theme(app, "dark")
    app.setWindowIcon(QIcon(str(resource_path("medtl.svg"))))
    create_demo_project(work / "demo").close()
    return app, work


def settler(app, default_timeout: float = 30.0) -> Callable[..., None]:
    """``settle(seconds, until, timeout)``: process events for ``seconds``, or until ``until()`` and then ``seconds``."""

    def settle(seconds: float = 0.4, until: Callable[[], bool] | None = None, timeout: float = default_timeout) -> None:
        end = time.perf_counter() + (timeout if until else seconds)
        while time.perf_counter() < end:
            app.processEvents()
            if until is not None and until():
                until = None
                end = time.perf_counter() + seconds
            time.sleep(0.01)

    return settle


def open_demo_window(work: Path, settle: Callable[..., None], until: Callable[[object], bool]):
    """The main window at 1600x1000 on ``work/demo``, once ``until(window)`` holds."""
    from medtl_gui.gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    window.open_project(work / "demo")
    settle(until=lambda: until(window))
    return window
