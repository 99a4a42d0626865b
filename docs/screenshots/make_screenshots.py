"""Make the README screenshots of the real app on the generated demo project.

Run under a virtual X server so fonts and widgets render as on a desktop::

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots/make_screenshots.py

Writes ``browser_grid.png`` (thumbnail grid), ``ct_lung_window.png`` (the
synthetic CT volume in the lung window, nodule mask outlined, HU read-out)
and ``painting_mask.png`` (a brush stroke in progress) next to this file.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    from PySide6.QtCore import QPoint, QSettings, Qt
    from PySide6.QtGui import QIcon
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    work = Path(tempfile.mkdtemp(prefix="medtl-shots-"))
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(work / "settings"))
    app = QApplication(sys.argv[:1])
    app.setApplicationName("MedTL")
    from medtl_gui.core.project import create_demo_project
    from medtl_gui.gui.main_window import MainWindow
    from medtl_gui.gui.resources import resource_path
    from medtl_gui.gui.theme import apply_theme

    apply_theme(app, "dark")
    app.setWindowIcon(QIcon(str(resource_path("medtl.svg"))))
    create_demo_project(work / "demo").close()

    def settle(seconds: float = 0.4, until=None, timeout: float = 30.0) -> None:
        end = time.perf_counter() + (timeout if until else seconds)
        while time.perf_counter() < end:
            app.processEvents()
            if until is not None and until():
                until = None
                end = time.perf_counter() + seconds
            time.sleep(0.01)

    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    window.open_project(work / "demo")
    settle(until=lambda: window.viewer.scan is not None)
    browser = window.browser
    project = window.project

    def show(image_id: int) -> None:
        browser.select_image(image_id)
        settle(until=lambda: window.editor.document is not None and window.editor.document.image_id == image_id)

    # 1. the browser's thumbnail grid, a labelled chest phantom with its mask on screen
    lesion = next(r for r in project.images() if r.label == "lesion" and r.has_mask)
    window.centralWidget().setSizes([760, 840])
    window.actions_by_name["grid_view"].trigger()
    show(lesion.id)
    settle(1.0, until=lambda: browser.thumbnails.cached_count >= 30)
    window.grab().save(str(HERE / "browser_grid.png"))
    window.actions_by_name["grid_view"].trigger()
    window.centralWidget().setSizes([420, 1180])

    # 2. CT volume in the lung window, nodule slice, mask outlined, HU under the cursor
    volume = next(r for r in project.images() if r.kind == "volume")
    show(volume.id)
    masked = [rec.slice_index for rec in project.mask_records(volume.id)]
    window.viewer.set_slice(masked[len(masked) // 2])
    window.viewer.set_preset("Lung")
    window.editor.overlay.set_outline(True)
    window.editor.state_changed.emit()
    settle(0.3)
    viewport = window.viewer.graphics.viewport()
    QTest.mouseMove(viewport, window.viewer.image_to_viewport(40.5, 60.5))
    settle(0.3)
    window.grab().save(str(HERE / "ct_lung_window.png"))
    window.editor.overlay.set_outline(False)
    window.editor.state_changed.emit()

    # 3. painting a mask: brush stroke in progress on an unlabelled chest phantom
    target = next(r for r in project.images() if r.kind == "raster" and not r.has_mask and r.label == "normal")
    show(target.id)
    window.viewer.view.autoRange(padding=0.0)
    window.docks["Segmentation"].raise_()
    window.editor.set_tool("brush")
    window.editor.set_radius(7)
    to_view = window.viewer.image_to_viewport
    path = [(150.5, 96.5), (160.5, 92.5), (172.5, 94.5), (182.5, 104.5), (186.5, 118.5), (182.5, 132.5),
            (172.5, 140.5), (160.5, 140.5), (154.5, 130.5)]
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, to_view(*path[0]))
    for point in path[1:]:
        QTest.mouseMove(viewport, to_view(*point))
        settle(0.03)
    QTest.mouseMove(viewport, to_view(*path[-1]) + QPoint(1, 0))
    settle(0.3)
    window.grab().save(str(HERE / "painting_mask.png"))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, to_view(*path[-1]))
    window.saver.flush()
    window.close()
    for name in ("browser_grid.png", "ct_lung_window.png", "painting_mask.png"):
        print(HERE / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
