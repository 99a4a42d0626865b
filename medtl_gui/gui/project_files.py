"""File menu's project handling for the main window: New project, Open project, Open demo project, Recent
projects, and importing files or folders into the open project (in the background, with a summary).

Opening and closing a project (what the window shows) stays in ``main_window``; this module picks folders
and files, creates projects and the demo, runs imports and keeps the recent-projects list.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMessageBox

from medtl_gui.gui.background import BackgroundJob
from medtl_gui.gui.dialogs.import_summary import ImportSummaryDialog

if TYPE_CHECKING:
    from medtl_gui.gui.main_window import MainWindow

#: how many recent projects File ▸ Recent projects keeps
RECENT_LIMIT = 10
#: the QSettings key of the recent projects, newest first
RECENT_KEY = "recent_projects"


class ProjectFiles(QObject):
    """File ▸ New / Open / Open demo / Recent / Import for one main window.

    The import summary dialog shown last is ``window.last_import_summary``.
    """

    def __init__(self, window: "MainWindow"):
        super().__init__(window)
        self.window = window

    # -- projects --------------------------------------------------------------------------
    def new_project(self) -> None:
        """File ▸ New project: an empty folder becomes a project."""
        from medtl_gui.core.project import Project

        w = self.window
        # a folder that does not exist yet is created (with its parents); an existing one must be empty
        folder, _ = QFileDialog.getSaveFileName(w, "New project: name a new folder (or pick an empty one)",
                                                str(Path.home() / "MedTL project"),
                                                options=QFileDialog.Option.DontConfirmOverwrite)
        if folder:
            try:
                w._set_project(Project.create(Path(folder)))
            except Exception as exc:  # shown to the user: the folder is not usable
                QMessageBox.critical(w, "Cannot create project", f"{folder}: {exc}")

    def choose_project(self) -> None:
        """File ▸ Open project: pick a project folder."""
        folder = QFileDialog.getExistingDirectory(self.window, "Open MedTL project folder")
        if folder:
            self.window.open_project(Path(folder))

    def open_default_demo(self) -> None:
        """File ▸ Open demo project."""
        from medtl_gui.gui.app import demo_project_dir

        self.open_demo_project(demo_project_dir())

    def open_demo_project(self, folder: Path) -> None:
        """Open the demo project, generating it in the background on first use."""
        w = self.window
        if (folder / "project.sqlite").exists():
            w.open_project(folder)
            return
        from medtl_gui.core.project.demo import create_demo_project

        def make(progress: object = None, cancel: object = None) -> Path:
            create_demo_project(folder).close()
            return folder

        w.statusBar().showMessage(f"Creating the demo project in {folder} …")
        w.jobs.run(BackgroundJob(make), "Creating demo project", on_success=w.open_project)

    # -- recent projects ---------------------------------------------------------------------
    def recent_projects(self) -> list[str]:
        """Recently opened project folders, newest first."""
        value = self.window.settings.value(RECENT_KEY, [])
        return [value] if isinstance(value, str) else list(value or [])

    def remember_recent(self, folder: Path) -> None:
        """Put ``folder`` first in File ▸ Recent projects."""
        recent = [str(folder)] + [p for p in self.recent_projects() if p != str(folder)]
        self.window.settings.setValue(RECENT_KEY, recent[:RECENT_LIMIT])
        self.fill_recent()

    def fill_recent(self) -> None:
        """Show the recent projects in the File menu."""
        w = self.window
        w.window_actions.set_recent(self.recent_projects(), lambda p: w.open_project(Path(p)))

    # -- import ------------------------------------------------------------------------------
    def import_paths(self, paths: list[str]) -> None:
        """Import files/folders in the background; a summary with skipped files follows."""
        w = self.window
        if w.project is None or not paths:
            return
        from medtl_gui.core.project import import_sources

        job = BackgroundJob(import_sources, w.project, [Path(p) for p in paths])
        w.jobs.run(job, "Importing", on_success=self._on_import_done)

    def choose_import_files(self) -> None:
        """File ▸ Import files: scans, a CSV of paths and labels, or a MedMNIST .npz."""
        files, _ = QFileDialog.getOpenFileNames(self.window, "Import scans, a CSV or a .npz")
        self.import_paths(files)

    def choose_import_folder(self) -> None:
        """File ▸ Import folder: class sub-folders, DICOM series, image + mask pairs."""
        folder = QFileDialog.getExistingDirectory(self.window,
                                                  "Import a folder (class sub-folders, DICOM, image+mask pairs)")
        if folder:
            self.import_paths([folder])

    def _on_import_done(self, report: Any) -> None:
        w = self.window
        w.labelling.reload_classes()
        w.window_actions.set_classes(w.labelling.classes)
        w._load_seg_labels()

        def summarise() -> None:
            if w.browser.current_image_id() is None and w.browser.model.rows:
                w.browser.select_row(0)  # the first import into an empty project: show its first image
            dialog = ImportSummaryDialog(report, w)
            dialog.open()
            w.last_import_summary = dialog

        w.refresh_browser(then=summarise)
