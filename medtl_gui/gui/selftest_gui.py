"""The self-test's GUI part: Qt plugins and resources present, the main window opens and closes.

Called by :func:`medtl_gui.selftest.run_self_test`. Uses the running
``QApplication`` or creates one; without ``QT_QPA_PLATFORM`` set, the
window is drawn offscreen so the check also runs over SSH and in CI.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from pathlib import Path

from medtl_gui.selftest.checks import PASS, SKIP, CheckResult, timed


def check_main_window() -> list[CheckResult]:
    """Qt resources, image plugins, the desktop platform plugin, and the main window shown then closed."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    results = [
        timed("gui", "Qt image plugins (svg, png, jpeg)", _image_formats),
        timed("gui", "resources (icons, styles)", _resources),
        _desktop_platform_plugin(),
        timed("gui", "main window opens and closes", lambda: _open_and_close(app)),
    ]
    return results


def _image_formats() -> str:
    from PySide6.QtGui import QImageReader

    formats = {bytes(f).decode() for f in QImageReader.supportedImageFormats()}
    missing = {"svg", "png", "jpg"} - formats
    if missing:
        raise RuntimeError(f"Qt image format plugins missing: {', '.join(sorted(missing))}")
    return f"{len(formats)} formats"


def _resources() -> str:
    from PySide6.QtGui import QIcon

    from medtl_gui.gui.resources import resource_path

    for name in ("medtl.svg", "styles/dark.qss", "styles/light.qss", "icons/train.svg"):
        if not resource_path(name).is_file():
            raise FileNotFoundError(f"{resource_path(name)}: application resource missing")
    icon = QIcon(str(resource_path("medtl.svg")))
    if icon.isNull() or icon.pixmap(64, 64).isNull():
        raise RuntimeError(f"{resource_path('medtl.svg')}: the app icon does not render")
    return f"found in {resource_path('medtl.svg').parent}"


def _desktop_platform_plugin() -> CheckResult:
    """Linux: can Qt's xcb plugin load here (system libraries such as libxcb-cursor0)? Never a failure."""
    if not sys.platform.startswith("linux"):
        return CheckResult("gui", "desktop platform plugin", SKIP, "checked on Linux only")
    from PySide6.QtCore import QLibraryInfo

    plugin = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms" / "libqxcb.so"
    if not plugin.is_file():
        return CheckResult("gui", "desktop platform plugin", SKIP, f"{plugin} is not part of this build")
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        return CheckResult("gui", "desktop platform plugin", SKIP,
                           f"xcb cannot load here ({exc}); on a desktop install libxcb-cursor0 and the "
                           "other packages listed in INSTALL.txt")
    return CheckResult("gui", "desktop platform plugin", PASS, "xcb plugin and its system libraries load")


def _open_and_close(app) -> str:
    from medtl_gui.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        app.processEvents()
    if not window.isVisible():
        raise RuntimeError("the main window did not become visible")
    size = window.size()
    title = window.windowTitle()
    if not window.close():
        raise RuntimeError("the main window refused to close")
    window.deleteLater()
    app.processEvents()
    return f"{size.width()}x{size.height()} '{title}' on the {app.platformName()} platform"
