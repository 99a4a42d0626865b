"""The main window: browser | viewer | labelling and metadata docks, menus, status bar."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QSplitter,
    QWidget,
)

from medtl_gui import __version__
from medtl_gui.gui.background import BackgroundJob
from medtl_gui.gui.browser import ImageBrowser, rows_from_project
from medtl_gui.gui.label_panel import LabelPanel
from medtl_gui.gui.metadata_panel import MetadataPanel
from medtl_gui.gui.scan_loader import ScanLoader
from medtl_gui.gui.viewer import ScanViewer

SHORTCUTS_HELP = """
<table>
<tr><td><b>1 … 9</b></td><td>assign class and go to the next image</td></tr>
<tr><td><b>0</b></td><td>clear the label</td></tr>
<tr><td><b>U / S</b></td><td>mark uncertain / skip</td></tr>
<tr><td><b>Enter</b></td><td>confirm the model's suggestion</td></tr>
<tr><td><b>→ ↓ PgDn / ← ↑ PgUp</b></td><td>next / previous image</td></tr>
<tr><td><b>Wheel, Home/End</b></td><td>scroll slices of a volume</td></tr>
<tr><td><b>Right-drag</b></td><td>window (width ↔, level ↕)</td></tr>
<tr><td><b>Left-drag, Ctrl+wheel, double-click</b></td><td>pan, zoom, fit</td></tr>
<tr><td><b>I</b></td><td>invert grey scale</td></tr>
</table>
"""


class MainWindow(QMainWindow):
    project_ready = Signal()
    image_shown = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"MedTL {__version__}")
        self.resize(1400, 860)
        self.project = None
        self.current_id: int | None = None
        self.settings = QSettings("MedTL", "MedTL")
        self._jobs: list[BackgroundJob] = []

        self.loader = ScanLoader(self)
        self.loader.loaded.connect(self._on_scan_loaded)
        self.loader.failed.connect(self._on_scan_failed)
        self.browser = ImageBrowser()
        self.browser.image_selected.connect(self.show_image)
        self.viewer = ScanViewer()
        self.viewer.cursor_info.connect(lambda text: self.statusBar().showMessage(text))
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.browser)
        splitter.addWidget(self.viewer)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([380, 1000])
        self.setCentralWidget(splitter)

        self.label_panel = LabelPanel()
        self.label_panel.label_requested.connect(self.assign_label)
        self.label_panel.status_requested.connect(self.assign_status)
        self.label_panel.clear_requested.connect(lambda: self.assign_label(None))
        self.label_panel.confirm_requested.connect(self.confirm_proposal)
        self.label_panel.note_edited.connect(self.save_note)
        self.metadata_panel = MetadataPanel()
        for title, widget, area in (
            ("Label", self.label_panel, Qt.DockWidgetArea.RightDockWidgetArea),
            ("Metadata", self.metadata_panel, Qt.DockWidgetArea.RightDockWidgetArea),
        ):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock-{title}")
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
        self._build_menus()
        self._build_shortcuts()
        self.statusBar().showMessage("Open a project (File ▸ Open) or the demo project (File ▸ Open demo project)")

    # ------------------------------------------------------------ projects
    def open_project(self, folder: Path) -> bool:
        from medtl_gui.core.project import Project, ProjectError

        try:
            project = Project.open(folder)
        except (ProjectError, OSError) as exc:
            QMessageBox.critical(self, "Cannot open project", str(exc))
            return False
        self._set_project(project)
        return True

    def new_project(self) -> None:
        from medtl_gui.core.project import Project

        folder = QFileDialog.getExistingDirectory(self, "New project folder (empty)")
        if folder:
            try:
                self._set_project(Project.create(Path(folder)))
            except Exception as exc:
                QMessageBox.critical(self, "Cannot create project", f"{folder}: {exc}")

    def open_demo_project(self, folder: Path) -> None:
        """Open the demo project, generating it in the background on first use."""
        if (folder / "project.sqlite").exists():
            self.open_project(folder)
            return
        from medtl_gui.core.project.demo import create_demo_project

        def make(progress=None, cancel=None):
            project = create_demo_project(folder)
            project.close()
            return folder

        self.statusBar().showMessage(f"Creating the demo project in {folder} …")
        self._run_job(BackgroundJob(make), "Creating demo project", on_success=self.open_project)

    def _set_project(self, project) -> None:
        if self.project is not None:
            self.project.close()
        self.project = project
        self.loader.clear()
        self.current_id = None
        self._remember_recent(Path(project.folder))
        self.setWindowTitle(f"MedTL {__version__} — {Path(project.folder).name}")
        classes = project.classes()
        self.label_panel.set_classes([(c.name, c.color) for c in classes])
        self.refresh_browser()
        self.browser.select_row(0)
        self.project_ready.emit()

    def refresh_browser(self) -> None:
        if self.project is None:
            return
        rows = rows_from_project(self.project)
        splits = sorted({r.split for r in rows if r.split})
        self.browser.set_rows(rows, [c.name for c in self.project.classes()], splits)
        info = self.project.info()
        self.statusBar().showMessage(f"{info.get('images', len(rows))} images in {Path(self.project.folder)}")

    # -------------------------------------------------------------- images
    def show_image(self, image_id: int) -> None:
        if self.project is None:
            return
        self.current_id = image_id
        project = self.project
        self.loader.request(image_id, lambda: project.read_image(image_id))
        for other in self.browser.neighbour_ids(2):
            self.loader.prefetch(other, lambda i=other: project.read_image(i))
        self._show_label_state()

    def _on_scan_loaded(self, image_id, scan) -> None:
        if image_id != self.current_id:
            return
        self.viewer.set_scan(scan)
        self.metadata_panel.set_metadata(scan.metadata)
        self.image_shown.emit(image_id)

    def _on_scan_failed(self, image_id, message: str) -> None:
        if image_id == self.current_id:
            self.viewer.set_scan(None)
            self.statusBar().showMessage(f"Cannot show image: {message}")

    # ------------------------------------------------------------ labelling
    def assign_label(self, class_name: str | None, advance: bool = True) -> None:
        if self.project is None or self.current_id is None:
            return
        self.project.set_label(self.current_id, class_name, origin="human")
        self._after_edit(advance and class_name is not None)

    def assign_status(self, status: str) -> None:
        if self.project is None or self.current_id is None:
            return
        self.project.set_label(self.current_id, None, origin="human", status=status)
        self._after_edit(True)

    def confirm_proposal(self) -> None:
        if self.project is None or self.current_id is None or self.project.proposal(self.current_id) is None:
            return
        self.project.confirm_proposal(self.current_id)
        self._after_edit(True)

    def save_note(self, text: str) -> None:
        if self.project is not None and self.current_id is not None:
            self.project.set_note(self.current_id, text)
            self.statusBar().showMessage("Note saved")

    def _after_edit(self, advance: bool) -> None:
        for row in rows_from_project(self.project, [self.current_id]):
            self.browser.update_row(row)
        self._show_label_state()
        if advance:
            self.browser.step(+1)

    def _show_label_state(self) -> None:
        if self.project is None or self.current_id is None:
            return
        label = self.project.label(self.current_id)
        proposal = self.project.proposal(self.current_id)
        text = ""
        if label is not None:
            text = label.class_name or label.status
        ptext = None
        if proposal is not None:
            prob = (proposal.probabilities or {}).get(proposal.class_name)
            ptext = f"{proposal.class_name}" + (f" ({prob:.0%})" if prob is not None else "")
        self.label_panel.show_state(text, ptext, getattr(label, "note", None) if label else None)

    # ----------------------------------------------------------------- import
    def import_paths(self, paths: list[str]) -> None:
        if self.project is None or not paths:
            return
        from medtl_gui.core.project import import_sources

        job = BackgroundJob(import_sources, self.project, [Path(p) for p in paths])
        self._run_job(job, "Importing", on_success=self._on_import_done)

    def _on_import_done(self, report) -> None:
        self.refresh_browser()
        text = f"Imported {report.imported} image(s); {report.duplicates} duplicate(s)."
        box = QMessageBox(self)
        box.setWindowTitle("Import finished")
        if report.skipped:
            text += f"\n{len(report.skipped)} file(s) skipped — see details."
            box.setDetailedText("\n".join(f"{path}: {reason}" for path, reason in report.skipped))
            box.setIcon(QMessageBox.Icon.Warning)
        box.setText(text)
        box.setObjectName("import-summary")
        box.open()
        self.last_import_summary = box

    def _run_job(self, job: BackgroundJob, title: str, on_success) -> None:
        dialog = QProgressDialog(title, "Cancel", 0, 0, self)
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
            self._jobs.remove(job)

        def failed(message: str, details: str) -> None:
            box = QMessageBox(QMessageBox.Icon.Critical, f"{title} failed", message, parent=self)
            box.setDetailedText(details)
            box.open()

        job.progress.connect(progress)
        job.succeeded.connect(on_success)
        job.failed.connect(failed)
        job.finished.connect(finish)
        self._jobs.append(job)
        job.start()

    # ------------------------------------------------------------ menus, keys
    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._add_action(file_menu, "&New project…", self.new_project, QKeySequence.StandardKey.New)
        self._add_action(file_menu, "&Open project…", self._choose_project, QKeySequence.StandardKey.Open)
        from medtl_gui.gui.app import demo_project_dir

        self._add_action(file_menu, "Open &demo project", lambda: self.open_demo_project(demo_project_dir()))
        self.recent_menu = file_menu.addMenu("Recent projects")
        self._fill_recent()
        file_menu.addSeparator()
        self._add_action(file_menu, "&Import files…", self._choose_import_files, "Ctrl+I")
        self._add_action(file_menu, "Import &folder…", self._choose_import_folder, "Ctrl+Shift+I")
        file_menu.addSeparator()
        self._add_action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        view_menu = bar.addMenu("&View")
        self._add_action(view_menu, "&Fit image", lambda: self.viewer.view.autoRange(padding=0.0), "F")
        self._add_action(view_menu, "&Invert", lambda: self.viewer.invert_box.toggle(), "I")
        help_menu = bar.addMenu("&Help")
        self._add_action(help_menu, "&Keyboard shortcuts", self._show_shortcuts, "F1")
        self._add_action(help_menu, "&About MedTL", self._show_about)

    def _add_action(self, menu, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)
        return action

    def _build_shortcuts(self) -> None:
        def bind(key, slot):
            QShortcut(QKeySequence(key), self, slot, context=Qt.ShortcutContext.WindowShortcut)

        for i in range(1, 10):
            bind(str(i), lambda i=i: self._label_by_key(i))
        bind("0", lambda: self.assign_label(None))
        bind("U", lambda: self.assign_status("uncertain"))
        bind("S", lambda: self.assign_status("skipped"))
        bind(Qt.Key.Key_Return, self.confirm_proposal)
        for key in (Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_PageDown):
            bind(key, lambda: self.browser.step(+1))
        for key in (Qt.Key.Key_Left, Qt.Key.Key_Up, Qt.Key.Key_PageUp):
            bind(key, lambda: self.browser.step(-1))
        bind(Qt.Key.Key_Home, lambda: self.viewer.set_slice(self.viewer.slice_index - 1))
        bind(Qt.Key.Key_End, lambda: self.viewer.set_slice(self.viewer.slice_index + 1))

    def _label_by_key(self, number: int) -> None:
        if self.project is None:
            return
        classes = self.project.classes()
        if 1 <= number <= len(classes):
            self.assign_label(classes[number - 1].name)

    def _choose_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open MedTL project folder")
        if folder:
            self.open_project(Path(folder))

    def _choose_import_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Import scans, a CSV or a .npz")
        self.import_paths(files)

    def _choose_import_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a folder (class sub-folders, DICOM, image+mask pairs)")
        if folder:
            self.import_paths([folder])

    def _remember_recent(self, folder: Path) -> None:
        recent = [str(folder)] + [p for p in self._recent() if p != str(folder)]
        self.settings.setValue("recent_projects", recent[:10])
        self._fill_recent()

    def _recent(self) -> list[str]:
        value = self.settings.value("recent_projects", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self._recent():
            self.recent_menu.addAction(path, lambda p=path: self.open_project(Path(p)))

    def _show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", SHORTCUTS_HELP)

    def _show_about(self) -> None:
        import numpy
        import pydicom
        import PySide6
        import pyqtgraph
        import SimpleITK

        QMessageBox.about(
            self,
            "About MedTL",
            f"<b>MedTL {__version__}</b><br>Label medical scans and fine-tune pretrained CNNs, offline.<br><br>"
            f"PySide6 {PySide6.__version__} · pyqtgraph {pyqtgraph.__version__} · pydicom {pydicom.__version__} · "
            f"SimpleITK {SimpleITK.Version_VersionString()} · numpy {numpy.__version__}",
        )

    def closeEvent(self, event) -> None:  # noqa: N802
        for job in list(self._jobs):
            job.cancel()
        for job in list(self._jobs):
            job.done.wait(10)
        self.loader.wait(5000)
        if self.project is not None:
            self.project.close()
        super().closeEvent(event)

