"""The main window: browser | viewer, with labelling, segmentation and metadata docks.

It wires widgets to the project store and keeps the GUI thread free: scans
and masks are decoded by the ``ScanLoader`` pool, masks are saved by the
``MaskSaver`` thread, imports run as ``BackgroundJob``s. Menus, toolbar and
keys live in ``window_actions.py``; File ▸ New/Open/Recent/Import in
``project_files.py``; labelling in ``class_labelling.py``;
mask editing in ``segmentation/``; background training, the run monitor and
run history in ``training/`` (``TrainingController``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QWidget,
)

from medtl_gui import __version__
from medtl_gui.gui.app_settings import AppSettings, app_settings_store, set_show_identifying, show_identifying
from medtl_gui.gui.background import BackgroundJob
from medtl_gui.gui.browser import ImageBrowser
from medtl_gui.gui.browser_model import ROW_ROLE
from medtl_gui.gui.class_labelling import ClassLabelling
from medtl_gui.gui.edit_timeline import EditTimeline
from medtl_gui.gui.image_loading import LoadedImage, load_image
from medtl_gui.gui.job_runner import JobRunner
from medtl_gui.gui.label_panel import LabelPanel
from medtl_gui.gui.label_styles import styled_seg_labels
from medtl_gui.gui.metadata_panel import MetadataPanel
from medtl_gui.gui.project_files import ProjectFiles
from medtl_gui.gui.review.rank_job import RankingController
from medtl_gui.gui.review.saliency_job import SaliencyController
from medtl_gui.gui.scan_loader import ScanLoader
from medtl_gui.gui.segmentation.editor import SegmentationEditor
from medtl_gui.gui.segmentation.mask_saver import MaskSaver
from medtl_gui.gui.segmentation.seg_panel import SegmentationPanel
from medtl_gui.gui.training.training_controller import TrainingController
from medtl_gui.gui.vanished_images import VanishedImages
from medtl_gui.gui.view_memory import ViewMemory
from medtl_gui.gui.viewer import ScanViewer
from medtl_gui.gui.window_actions import WindowActions
from medtl_gui.gui.window_layout import DEFAULT_SIZE, WindowLayout, central_area

#: neighbours of the image on screen are decoded ahead; those with more frames (slices) than this
#: (volumes: hundreds of MB each, twice that while decoding) only one at a time, the nearest, once
#: the image on screen has loaded
PREFETCH_MAX_FRAMES = 32


class MainWindow(QMainWindow):
    """The application window. ``project_ready`` after a project is shown, ``image_shown(id)`` per image."""

    project_ready = Signal()
    image_shown = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"MedTL {__version__}")
        self.resize(*DEFAULT_SIZE)
        self.project: Any = None
        self.current_id: int | None = None
        self.shown_id: int | None = None  # the image whose pixels the viewer holds (current_id's, once loaded)
        self._browse_row, self._browse_step = -1, 1  # browser row of the image shown, direction of travel
        self._project_serial = 0  # part of the loader's keys: image ids repeat across projects
        self.settings: QSettings = app_settings_store()
        self.preferences = AppSettings.load(self.settings)
        self.jobs = JobRunner(self)
        self.files = ProjectFiles(self)  # File ▸ New, Open, Open demo, Recent, Import
        self.last_import_summary: Any = None  # the ImportSummaryDialog shown last

        self.loader = ScanLoader(self)
        self.loader.loaded.connect(self._on_image_loaded)
        self.loader.failed.connect(self._on_image_failed)
        self.browser = ImageBrowser()
        self.browser.image_selected.connect(self.show_image)
        self.viewer = ScanViewer()
        self.viewer.cursor_info.connect(lambda text: self.statusBar().showMessage(text))
        self.splitter, self.central_tabs = central_area(self.browser, self.viewer)  # Viewer | Run monitor tabs
        self.setCentralWidget(self.central_tabs)

        self.saver = MaskSaver(self)
        self.editor = SegmentationEditor(self.viewer.overlay, self.viewer.preview, self.saver, self)
        self.editor.image_source = self.viewer.current_image
        self.viewer.pointer_tool = self.editor
        self.viewer.slice_changed.connect(self.editor.set_slice)
        self.editor.slice_requested.connect(self.viewer.set_slice)
        self.editor.message.connect(lambda text: self.statusBar().showMessage(text, 4000))
        self.editor.state_changed.connect(self._sync_edit_actions)
        self.saver.saved.connect(self._on_mask_saved)
        self.saver.failed.connect(self._on_mask_save_failed)
        self.editor.mask_edited.connect(lambda *_: self.seg_panel.show_save_state(self.saver.pending))

        self.label_panel = LabelPanel()
        self.labelling = ClassLabelling(self.label_panel, self)
        self.labelling.edited.connect(self._on_label_edited)
        self.labelling.message.connect(lambda text: self.statusBar().showMessage(text, 3000))
        self.label_panel.edit_classes_requested.connect(self.edit_classes)
        self.edit_timeline = EditTimeline(self.labelling, self.editor, self)  # one Ctrl+Z: labels and masks
        self.edit_timeline.message.connect(lambda text: self.statusBar().showMessage(text, 4000))
        self.edit_timeline.label_restored.connect(self._show_restored_label)
        self.view_memory = ViewMemory(self.settings)  # window/level and slice per image
        self.metadata_panel = MetadataPanel()
        self.metadata_panel.reveal_box.setChecked(show_identifying(self.settings))
        self.browser.set_show_identifying(self.metadata_panel.reveal_box.isChecked())
        self.metadata_panel.reveal_box.toggled.connect(self._on_privacy_toggled)
        self.training = TrainingController(self)
        self.ranking = RankingController(self)
        self.saliency = SaliencyController(self)
        self.vanished_images = VanishedImages(self)  # removed by another process: refresh, one status line

        self.window_actions = WindowActions(self)
        self.actions_by_name = self.window_actions.actions
        tool_actions = {key[5:]: a for key, a in self.actions_by_name.items() if key.startswith("tool_")}
        self.seg_panel = SegmentationPanel(self.editor, tool_actions,
                                           [self.actions_by_name["undo"], self.actions_by_name["redo"]])
        self.seg_panel.edit_labels_requested.connect(self.edit_seg_labels)
        self.docks: dict[str, QDockWidget] = {}
        for title, widget in (("Label", self.label_panel), ("Segmentation", self.seg_panel),
                              ("Metadata", self.metadata_panel), ("Saliency", self.saliency.panel)):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock-{title}")
            scroll = QScrollArea()
            scroll.setWidget(widget)
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            dock.setWidget(scroll if widget is not self.metadata_panel else widget)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            self.docks[title] = dock
        self.tabifyDockWidget(self.docks["Label"], self.docks["Metadata"])
        self.tabifyDockWidget(self.docks["Label"], self.docks["Saliency"])  # one tab group per dock area: Qt
        self.docks["Label"].raise_()  # 6.11 leaves stray tab bars behind when an area has two before it is shown
        self.training.build_docks()
        self.window_actions.build_menus()
        for dock in [*self.docks.values(), *self.training.docks.values()]:
            self.window_actions.panels_menu.addAction(dock.toggleViewAction())
        self.toolbar = self.window_actions.build_toolbar()
        self.edit_timeline.state_changed.connect(self._sync_edit_actions)
        self.viewer.presets_changed.connect(self.window_actions.set_presets)
        self.files.fill_recent()
        self._sync_edit_actions()
        self.window_layout = WindowLayout(self)
        self.window_layout.restore()  # geometry, docks, splitter, brush radius of the last session
        self.read_only_label = QLabel()  # "Read-only: ..." while a project on read-only storage is open
        self.read_only_label.setVisible(False)
        self.statusBar().addPermanentWidget(self.read_only_label)
        self.statusBar().showMessage("Open a project (File ▸ Open) or the demo project (File ▸ Open demo project)")

    # ------------------------------------------------------------ projects
    def open_project(self, folder: Path | str) -> bool:
        """Open a project folder and show its first image; False (with a message box) if it cannot."""
        from medtl_gui.core.project import Project, ProjectError

        try:
            project = Project.open(folder)
        except (ProjectError, OSError) as exc:
            QMessageBox.critical(self, "Cannot open project", str(exc))
            return False
        self._set_project(project)
        return True

    def _set_project(self, project: Any) -> None:
        self._close_project()
        self.edit_timeline.clear()
        self.project = project
        self.current_id = self.shown_id = None
        self._project_serial += 1
        self.files.remember_recent(Path(project.folder))
        self.setWindowTitle(f"MedTL {__version__} — {project.name}")
        self.editor.set_project(project)
        self.labelling.set_project(project)
        self.window_actions.set_classes(self.labelling.classes)
        self._load_seg_labels()
        self.browser.set_project(project)
        self.training.set_project(project)
        self._show_read_only(bool(getattr(project, "read_only", False)))
        self.refresh_browser(then=self._on_first_rows)

    #: actions that change the project: disabled while it is open read-only
    READ_ONLY_DISABLED = ("import_files", "import_folder", "edit_classes", "edit_seg_labels", "edit_splits",
                          "remove_image", "remove_shown", "clear_label", "uncertain", "skip", "confirm", "note",
                          "accept_mask", "clear_slice", "start_training", "apply_model", "rank_unlabelled")

    def _show_read_only(self, read_only: bool) -> None:
        """A read-only project (read-only storage): edit actions off, and a status-bar line that says so."""
        for name in self.READ_ONLY_DISABLED:
            if name in self.actions_by_name:
                self.actions_by_name[name].setEnabled(not read_only)
        if read_only:
            self.read_only_label.setText("Read-only: viewing only, editing is disabled (the project's storage "
                                         "cannot be written)")
        self.read_only_label.setVisible(read_only)

    def _on_first_rows(self) -> None:
        if self.browser.current_image_id() is None:
            self.browser.select_row(0)
        self.project_ready.emit()

    def _close_project(self) -> None:
        if self.project is None:
            return
        self.training.project_closing()
        self._remember_view()
        self.viewer.set_scan(None)  # nothing of the old project stays on screen
        self.editor.clear_image()
        self.metadata_panel.set_metadata({})
        self.labelling.set_image(None)
        self.current_id = self.shown_id = None
        self.saver.flush()
        self.loader.wait(5000)
        self.loader.clear()
        self.browser.set_project(None)
        BackgroundJob.wait_for_running(10.0)  # no job may be inside a query when the connections close
        self.project.close()
        self.project = None

    def refresh_browser(self, then: Callable[[], None] | None = None) -> None:
        """Re-read every image row (one query, in the background), then run ``then()``.

        The training panel's counts follow (imports, split changes and removals all come here).
        """
        if self.project is None:
            return
        folder = Path(self.project.folder)
        self.training.refresh_summary()

        def shown() -> None:
            self.statusBar().showMessage(f"{len(self.browser.model.rows)} images in {folder}", 5000)
            if then is not None:
                then()

        self.browser.reload(self.labelling.classes, then=shown)

    # -------------------------------------------------------------- images
    def show_image(self, image_id: int) -> None:
        """Show an image (decoded in the background; cached ones at once) and prefetch its neighbours."""
        if self.project is None:
            return
        self.editor.cancel_gesture()
        self._remember_view()
        self.current_id = image_id
        self.labelling.set_image(image_id)
        project, serial = self.project, self._project_serial
        row = self.browser.table.currentIndex().row()
        self._browse_step = -1 if 0 <= row < self._browse_row else 1
        self._browse_row = row
        self.loader.request((serial, image_id), lambda: load_image(project, image_id))
        for other in self.browser.neighbour_ids(2):
            if not self._is_volume(other):  # volumes: see _prefetch_nearest_volume
                self.loader.prefetch((serial, other), lambda i=other: load_image(project, i))

    def _is_volume(self, image_id: int) -> bool:
        """True for an image with more than ``PREFETCH_MAX_FRAMES`` frames (slices)."""
        model = self.browser.model
        source = model.source_row(image_id)
        return source is not None and model.rows[source].n_frames > PREFETCH_MAX_FRAMES

    def _prefetch_nearest_volume(self) -> None:
        """Decode the neighbouring volume the user is heading for (the next row in the direction of the
        last step; at the end of the list, the other one), now that the image on screen has loaded: one
        speculative volume decode at a time, and the cache keeps the volumes around the one on screen."""
        project, serial, proxy = self.project, self._project_serial, self.browser.proxy
        row = self.browser.table.currentIndex().row()
        if row < 0:
            return
        ahead = row + self._browse_step if 0 <= row + self._browse_step < proxy.rowCount() else row - self._browse_step
        if not 0 <= ahead < proxy.rowCount():
            return
        other = proxy.index(ahead, 0).data(ROW_ROLE).image_id
        if self._is_volume(other) and not self.loader.holds((serial, other)):
            self.loader.prefetch((serial, other), lambda: load_image(project, other))

    def _on_image_loaded(self, key: tuple[int, int], loaded: LoadedImage) -> None:
        serial, image_id = key
        if serial != self._project_serial or image_id != self.current_id:
            return
        self.viewer.set_scan(loaded.scan, loaded.stats)
        remembered = self.view_memory.recall(self.project.folder, image_id)
        if remembered is not None:
            self.viewer.restore_view(*remembered)
        self.shown_id = image_id
        self.editor.set_image(image_id, loaded.plane_shape, loaded.n_slices, loaded.masks, loaded.proposals,
                              self.viewer.slice_key)
        self.metadata_panel.set_metadata(loaded.scan.metadata)
        if loaded.problems:
            self.statusBar().showMessage("; ".join(loaded.problems), 8000)
        self.image_shown.emit(image_id)
        self._prefetch_nearest_volume()

    def _remember_view(self) -> None:
        """Keep the window/level and slice of the image on screen (when the user changed them) for later."""
        state = self.viewer.view_state()
        if self.project is not None and self.shown_id is not None and state not in (None, self.viewer.opened_view):
            self.view_memory.remember(self.project.folder, self.shown_id, *state)

    def _on_image_failed(self, key: tuple[int, int], message: str) -> None:
        serial, image_id = key
        if serial == self._project_serial and image_id == self.current_id:
            self.viewer.set_scan(None)
            self.shown_id = None
            self.editor.clear_image()
            self.metadata_panel.set_metadata({})
            self.statusBar().showMessage(f"Cannot show image {image_id}: {message}")

    def step_slice_or_image(self, step: int) -> None:
        """Up/Down: the next slice of a volume, or the next image when the scan is 2D."""
        if self.viewer.n_slices > 1:
            self.viewer.set_slice(self.viewer.slice_index + step)
        else:
            self.browser.step(step)

    # ------------------------------------------------------------ labelling
    def confirm_or_close_polygon(self) -> None:
        """Enter: fill the polygon being drawn, else confirm the model's class suggestion."""
        if self.editor.polygon_points:
            self.editor.close_polygon()
        else:
            self.labelling.confirm()

    def focus_note(self) -> None:
        """N: type a note for the current image."""
        self.docks["Label"].raise_()
        self.label_panel.note.setFocus()
        self.label_panel.note.selectAll()

    def _on_label_edited(self, image_id: int, advance: bool) -> None:
        self.browser.refresh_rows([image_id], advance_from=image_id if advance else None)

    def _show_restored_label(self, image_id: int) -> None:
        """Undo/redo wrote an image's label: show that image (labelling had moved on to the next one)."""
        if image_id != self.current_id:
            self.browser.select_image(image_id)

    def _on_privacy_toggled(self, on: bool) -> None:
        """The metadata panel's "Show patient-identifying information": also the browser's Patient column."""
        self.browser.set_show_identifying(on)
        set_show_identifying(on, self.settings)

    # -------------------------------------------------------------- masks
    def _on_mask_saved(self, image_id: int, _slice_index: object) -> None:
        self.seg_panel.show_save_state(self.saver.pending)
        if self.project is not None:
            self.browser.refresh_rows([image_id])

    def _on_mask_save_failed(self, image_id: int, slice_index: object, message: str) -> None:
        self.seg_panel.show_save_state(self.saver.pending, message)
        where = f"image {image_id}" + ("" if slice_index is None else f", slice {slice_index}")
        QMessageBox.warning(self, "Mask not saved", f"The mask of {where} could not be saved:\n{message}")

    def _sync_edit_actions(self) -> None:
        a = self.actions_by_name
        a["undo"].setEnabled(self.edit_timeline.can_undo)
        a["redo"].setEnabled(self.edit_timeline.can_redo)
        a[f"tool_{self.editor.tool}"].setChecked(True)
        a["toggle_mask"].setChecked(self.editor.overlay.visible)
        a["toggle_outline"].setChecked(self.editor.overlay.outline)
        self.viewer.graphics.viewport().setCursor(Qt.CursorShape.CrossCursor if self.editor.wants_left_button()
                                                  else Qt.CursorShape.ArrowCursor)

    def _load_seg_labels(self) -> None:
        labels = styled_seg_labels(self.project) if self.project is not None else []
        self.seg_panel.set_labels([(s.value, s.name, s.color) for s in labels])
        self.viewer.label_names = {s.value: s.name for s in labels}

    # -------------------------------------------------------------- dialogs
    def edit_classes(self) -> None:
        """Edit ▸ Classes: names, colours, keys."""
        if self.project is None:
            return
        from medtl_gui.gui.dialogs.class_editor import ClassEditorDialog

        if ClassEditorDialog(self.project, self).exec():
            self.labelling.reload_classes()
            self.window_actions.set_classes(self.labelling.classes)
            self.refresh_browser()

    def edit_seg_labels(self) -> None:
        """Edit ▸ Segmentation labels: names, colours, new labels."""
        if self.project is None:
            return
        from medtl_gui.gui.dialogs.seg_label_editor import SegLabelEditorDialog

        if SegLabelEditorDialog(self.project, self).exec():
            self._load_seg_labels()

    def edit_settings(self) -> None:
        """File ▸ Settings: weight store, default device, theme."""
        from medtl_gui.gui.dialogs.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.preferences, self)
        if dialog.exec():
            self.apply_preferences(dialog.settings())

    def apply_preferences(self, preferences: AppSettings) -> None:
        """Store preferences and apply the theme at once."""
        from medtl_gui.gui.icons import set_icon_theme
        from medtl_gui.gui.theme import apply_theme

        preferences.save(self.settings)
        theme_changed = preferences.theme != self.preferences.theme
        self.preferences = preferences
        if theme_changed:
            app = QApplication.instance()
            apply_theme(app, preferences.theme)
            set_icon_theme(preferences.theme)
            self.window_actions.refresh_icons()
        self.training.set_weight_store_folder(preferences.effective_weight_store)
        self.training.host.set_placement(preferences.monitor_placement)

    def show_shortcuts(self) -> None:
        """Help ▸ Keyboard shortcuts (non-blocking)."""
        from medtl_gui.gui.dialogs.shortcuts_dialog import ShortcutsDialog

        self.shortcuts_dialog = ShortcutsDialog(self.window_actions.help_rows(), self)
        self.shortcuts_dialog.open()

    def show_about(self) -> None:
        """Help ▸ About."""
        from medtl_gui.gui.dialogs.about_dialog import show_about

        self.about_box = show_about(self)

    # ------------------------------------------------------- import, recent (ProjectFiles)
    def import_paths(self, paths: list[str]) -> None:
        """Import files/folders in the background; a summary with skipped files follows."""
        self.files.import_paths(paths)

    def recent_projects(self) -> list[str]:
        """Recently opened project folders, newest first."""
        return self.files.recent_projects()

    def closeEvent(self, event) -> None:  # noqa: N802
        self.window_layout.save()
        self.jobs.cancel_all()
        self._close_project()
        super().closeEvent(event)
