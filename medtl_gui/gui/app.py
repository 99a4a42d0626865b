"""`medtl-gui` / `python -m medtl_gui`: start the desktop app."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def demo_project_dir() -> Path:
    """Where the built-in demo project lives (``MEDTL_DEMO_DIR`` overrides)."""
    override = os.environ.get("MEDTL_DEMO_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("MedTL", appauthor=False)) / "demo-project"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="medtl-gui", description="MedTL desktop app")
    parser.add_argument("project", nargs="?", help="project folder to open")
    parser.add_argument("--demo", action="store_true", help="open the built-in demo project (created on first use)")
    parser.add_argument("--screenshot", metavar="PNG", help=argparse.SUPPRESS)
    # start-up probe (benchmarks, installer smoke tests): print READY once the window is on screen, then quit
    parser.add_argument("--quit-after-show", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation (imports, DICOM codecs, a CPU training step, the window "
                             "offscreen, bundled weights), print a report and exit (non-zero on any failure)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import multiprocessing

    multiprocessing.freeze_support()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.self_test:
        from medtl_gui.selftest import main as run_self_test

        return run_self_test(gui=True)

    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from medtl_gui import __version__
    from medtl_gui.gui.app_settings import AppSettings
    from medtl_gui.gui.icons import set_icon_theme
    from medtl_gui.gui.main_window import MainWindow
    from medtl_gui.gui.resources import resource_path
    from medtl_gui.gui.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("MedTL")
    app.setOrganizationName("MedTL")
    app.setApplicationVersion(__version__)
    theme = AppSettings.load().theme
    apply_theme(app, theme)
    set_icon_theme(theme)
    app.setWindowIcon(QIcon(str(resource_path("medtl.svg"))))
    window = MainWindow()
    window.show()
    if args.quit_after_show:
        def ready() -> None:
            print("READY", flush=True)
            app.quit()

        QTimer.singleShot(0, ready)
        return app.exec()
    if args.screenshot:
        def save_and_quit() -> None:
            window.grab().save(args.screenshot)
            app.quit()

        window.project_ready.connect(lambda: QTimer.singleShot(1500, save_and_quit))
    if args.project:
        project = Path(args.project)
        # a *.medtl file (file association) opens the project folder it lies in
        window.open_project(project.parent if project.is_file() else project)
    elif args.demo:
        window.files.open_demo_project(demo_project_dir())
    return app.exec()
