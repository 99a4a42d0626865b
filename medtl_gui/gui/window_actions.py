"""The main window's actions: menus, toolbar, keyboard shortcuts (shown in the menus and in the help dialog).

Every command the user can give by key is a ``QAction`` here, so its keys
appear next to it in the menu, in tool tips and in Help ▸ Keyboard shortcuts,
which is generated from these menus and cannot drift from them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

from medtl_gui.gui.icons import icon
from medtl_gui.gui.image_removal import remove_current_image, remove_shown_images
from medtl_gui.gui.segmentation.editor import BRUSH, ERASER, FILL, LASSO, NAVIGATE, POLYGON
from medtl_gui.gui.training.monitor_host import MONITOR_PLACEMENTS

if TYPE_CHECKING:
    from medtl_gui.core.project import LabelClass
    from medtl_gui.gui.main_window import MainWindow

#: (tool, menu text, icon, key, tool tip)
TOOL_ACTIONS: tuple[tuple[str, str, str, str, str], ...] = (
    (NAVIGATE, "&Navigate", "navigate", "V", "Pan with the left button"),
    (BRUSH, "&Brush", "brush", "B", "Paint the active label"),
    (ERASER, "&Eraser", "eraser", "E", "Erase labels"),
    (FILL, "&Fill", "fill", "G", "Flood-fill the clicked region"),
    (POLYGON, "&Polygon", "polygon", "P", "Click vertices; double-click or Enter fills"),
    (LASSO, "&Lasso", "lasso", "L", "Drag an outline; it is filled on release"),
)


class WindowActions:
    """Creates and owns the window's actions, menus and toolbar."""

    def __init__(self, window: "MainWindow"):
        self.window = window
        self.actions: dict[str, QAction] = {}
        self._icons: dict[str, str] = {}
        w = window
        add = self._add
        # File
        add("new_project", "&New project…", w.files.new_project, "Ctrl+N", "new")
        add("open_project", "&Open project…", w.files.choose_project, "Ctrl+O", "open")
        add("open_demo", "Open &demo project", w.files.open_default_demo, "Ctrl+Shift+D", "demo")
        add("import_files", "&Import files…", w.files.choose_import_files, "Ctrl+I", "import",
            tip="Import scans, a CSV of paths and labels, or a MedMNIST .npz")
        add("import_folder", "Import &folder…", w.files.choose_import_folder, "Ctrl+Shift+I",
            tip="Import a folder: class sub-folders, DICOM series, image + mask pairs")
        add("settings", "&Settings…", w.edit_settings, "Ctrl+,", "settings")
        add("quit", "&Quit", w.close, "Ctrl+Q", "quit")
        # Edit
        editor = w.editor
        timeline = w.edit_timeline  # one undo for class labels and mask edits, in the order they were made
        add("undo", "&Undo label or mask edit", timeline.undo, ["Ctrl+Z"], "undo",
            tip="Undo the last class label (any image) or mask edit (this image)")
        add("redo", "&Redo label or mask edit", timeline.redo, ["Ctrl+Shift+Z", "Ctrl+Y"], "redo")
        add("edit_classes", "&Classes…", w.edit_classes, None, "labels", tip="Names, colours and keys of the classes")
        add("edit_seg_labels", "&Segmentation labels…", w.edit_seg_labels, None, "mask")
        add("edit_splits", "S&plits…", lambda: _show_splits(w), None, "list",
            tip="Train/validation/test shares, grouping by patient or case, a preview of the counts")
        add("remove_image", "&Remove image from project…", lambda: remove_current_image(w), "Ctrl+Delete",
            tip="Remove the image on screen with its labels and masks (files imported in place stay on disk)")
        add("remove_shown", "Remove &all images shown…", lambda: remove_shown_images(w), None,
            tip="Remove every image the browser's filter and search list (e.g. a wrong import)")
        # Label
        add("clear_label", "&Clear label", lambda: w.labelling.assign(None), "0")
        add("uncertain", "Mark &uncertain", lambda: w.labelling.mark("uncertain"), "U")
        add("skip", "&Skip", lambda: w.labelling.mark("skipped"), "S")
        add("confirm", "C&onfirm suggestion / close polygon", w.confirm_or_close_polygon,
            ["Return", "Enter"], "accept")
        add("note", "Edit &note", w.focus_note, "N")
        # Train
        training = w.training
        add("start_training", "&Start training", training.start_training, "Ctrl+T", "train",
            tip="Fine-tune the model chosen in the Training panel in the background")
        add("pause_training", "&Pause training", training.pause_or_resume, "Ctrl+Shift+T", "pause",
            tip="Pause or resume the run between two batches")
        add("stop_training", "S&top training", training.stop_training, "Ctrl+.", "stop",
            tip="Stop the run after the current batch")
        add("apply_model", "&Apply model to unlabelled images", training.apply_model, "Ctrl+Shift+P", "predict",
            tip="Predict the unlabelled images with the active run: suggestions to confirm (Enter) or correct")
        add("show_runs", "Run &history", training.show_runs, "Ctrl+Shift+R", "curves",
            tip="Every run of the project: reopen, compare, continue, set the active model")
        add("predict_folder", "Predict &folder…", lambda: _show_batch_predict(w), None, "predict",
            tip="Predict scan files and folders with a trained run into a CSV (segmentation: mask files)")
        add("rank_unlabelled", "&Rank unlabelled images…", w.ranking.choose_and_rank, None, "list",
            tip="Active learning: order the unlabelled images by what the active run would learn most from "
                "(browser filter 'Label next')")
        self.actions["pause_training"].setEnabled(False)
        self.actions["stop_training"].setEnabled(False)
        # Segment
        self.tool_group = QActionGroup(window)
        self.tool_group.setExclusive(True)
        for tool, text, icon_name, key, tip in TOOL_ACTIONS:
            action = add(f"tool_{tool}", text, lambda _=False, t=tool: editor.set_tool(t), key, icon_name, tip=tip)
            action.setCheckable(True)
            action.setIconText(text.replace("&", ""))
            self.tool_group.addAction(action)
        self.actions[f"tool_{NAVIGATE}"].setChecked(True)
        add("brush_smaller", "S&maller brush", lambda: editor.change_radius(-1), "[")
        add("brush_larger", "&Larger brush", lambda: editor.change_radius(+1), "]")
        add("toggle_mask", "Show &mask", lambda on: editor.overlay.set_visible(on), "M", "mask", checkable=True)
        add("toggle_outline", "&Outline only", lambda on: editor.overlay.set_outline(on), "O", "outline",
            checkable=True)
        add("accept_mask", "&Accept mask proposal", editor.accept_proposal, "Ctrl+Return", "accept")
        add("clear_slice", "Clear &slice mask", editor.clear_slice, None, "clear")
        add("cancel_gesture", "Cancel &polygon", editor.cancel_gesture, "Esc")
        self.actions["toggle_mask"].setChecked(True)
        # View
        viewer = w.viewer
        add("next_image", "&Next image", lambda: w.browser.step(+1), ["Right", "PgDown"], "next")
        add("previous_image", "&Previous image", lambda: w.browser.step(-1), ["Left", "PgUp"], "previous")
        add("next_slice", "Next slice (2D: next image)", lambda: w.step_slice_or_image(+1), "Down")
        add("previous_slice", "Previous slice (2D: previous image)", lambda: w.step_slice_or_image(-1), "Up")
        add("fit", "&Fit image", lambda: viewer.view.autoRange(padding=0.0), "F", "fit")
        add("zoom_in", "Zoom &in", lambda: viewer.zoom(1.25), ["+", "="])
        add("zoom_out", "Zoom &out", lambda: viewer.zoom(0.8), "-")
        add("invert", "&Invert grey scale", lambda: viewer.invert_box.toggle(), "I", "invert")
        add("auto_window", "&Auto window", lambda: viewer.set_preset_by_index(0), "R", "window")
        add("grid_view", "Thumbnail &grid", lambda on: w.browser.set_grid_mode(on), "Ctrl+G", "grid",
            checkable=True)
        add("toggle_saliency", "Saliency &heat-map", lambda on: w.saliency.set_enabled(on), "H", "window",
            tip="Grad-CAM of the active run's decision over the image (Saliency panel: class, opacity)",
            checkable=True)
        w.saliency.panel.toggled.connect(self.actions["toggle_saliency"].setChecked)
        add("show_monitor", "Show &run monitor", w.training.toggle_monitor, "Ctrl+Shift+M", "curves",
            tip="Switch between the viewer and the run monitor (its tab, or its own window)")
        self.monitor_group = QActionGroup(window)
        self.monitor_group.setExclusive(True)
        for placement, text in MONITOR_PLACEMENTS.items():
            action = add(f"monitor_{placement}", text, lambda on, p=placement: on and _place_monitor(w, p),
                         tip=f"Run monitor: {text.lower()} (remembered; also in Settings)", checkable=True)
            self.monitor_group.addAction(action)
        add("reset_layout", "Reset &layout", lambda: w.window_layout.reset(),
            tip="Window size, panels, splitter and the run monitor's window as on first start")
        # Help
        add("shortcuts", "&Keyboard shortcuts", w.show_shortcuts, "F1", "keyboard")
        add("about", "&About MedTL", w.show_about, None, "info")
        self.class_actions: list[QAction] = []
        self.preset_menu: QMenu | None = None
        self.label_menu: QMenu | None = None
        self.recent_menu: QMenu | None = None

    # -- construction --------------------------------------------------------------------
    def _add(self, key: str, text: str, slot: Callable, shortcut: str | Sequence[str] | None = None,
             icon_name: str | None = None, *, tip: str | None = None, checkable: bool = False) -> QAction:
        action = QAction(text, self.window)
        action.setObjectName(f"action_{key}")
        if shortcut:
            keys = [shortcut] if isinstance(shortcut, str) else list(shortcut)
            action.setShortcuts([QKeySequence(k) for k in keys])
        if icon_name:
            action.setIcon(icon(icon_name))
            self._icons[key] = icon_name
        action.setCheckable(checkable)
        label = text.replace("&", "").rstrip("…")
        keys_text = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip or label}" + (f"  ({keys_text})" if keys_text else ""))
        action.setStatusTip(tip or label)
        if checkable:
            action.toggled.connect(slot)
        else:
            action.triggered.connect(lambda _=False: slot())
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.window.addAction(action)
        self.actions[key] = action
        return action

    def build_menus(self) -> None:
        """Fill the window's menu bar."""
        bar = self.window.menuBar()
        a = self.actions
        file_menu = bar.addMenu("&File")
        for key in ("new_project", "open_project", "open_demo"):
            file_menu.addAction(a[key])
        self.recent_menu = file_menu.addMenu("Recent projects")
        file_menu.addSeparator()
        for key in ("import_files", "import_folder"):
            file_menu.addAction(a[key])
        file_menu.addSeparator()
        file_menu.addAction(a["settings"])
        file_menu.addSeparator()
        file_menu.addAction(a["quit"])
        edit_menu = bar.addMenu("&Edit")
        for key in ("undo", "redo"):
            edit_menu.addAction(a[key])
        edit_menu.addSeparator()
        for key in ("edit_classes", "edit_seg_labels", "edit_splits"):
            edit_menu.addAction(a[key])
        edit_menu.addSeparator()
        for key in ("remove_image", "remove_shown"):
            edit_menu.addAction(a[key])
        self.label_menu = bar.addMenu("&Label")
        self._fill_label_menu()
        seg_menu = bar.addMenu("&Segment")
        for action in self.tool_group.actions():
            seg_menu.addAction(action)
        seg_menu.addSeparator()
        for key in ("brush_smaller", "brush_larger", "toggle_mask", "toggle_outline", "accept_mask",
                    "clear_slice", "cancel_gesture"):
            seg_menu.addAction(a[key])
        train_menu = bar.addMenu("&Train")
        for key in ("start_training", "pause_training", "stop_training"):
            train_menu.addAction(a[key])
        train_menu.addSeparator()
        train_menu.addAction(a["apply_model"])
        train_menu.addAction(a["show_runs"])
        train_menu.addAction(a["predict_folder"])
        train_menu.addAction(a["rank_unlabelled"])
        self.train_menu = train_menu
        view_menu = bar.addMenu("&View")
        for key in ("next_image", "previous_image", "next_slice", "previous_slice"):
            view_menu.addAction(a[key])
        view_menu.addSeparator()
        for key in ("fit", "zoom_in", "zoom_out", "invert", "auto_window"):
            view_menu.addAction(a[key])
        self.preset_menu = view_menu.addMenu("Window preset")
        view_menu.addSeparator()
        view_menu.addAction(a["grid_view"])
        view_menu.addAction(a["toggle_saliency"])
        view_menu.addSeparator()
        view_menu.addAction(a["show_monitor"])
        placement_menu = view_menu.addMenu("Run monitor opens as")
        for action in self.monitor_group.actions():
            placement_menu.addAction(action)
        self.panels_menu = view_menu.addMenu("Panels")
        view_menu.addAction(a["reset_layout"])
        host = self.window.training.host
        host.placement_changed.connect(lambda p: a[f"monitor_{p}"].setChecked(True))
        a[f"monitor_{host.placement}"].setChecked(True)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(a["shortcuts"])
        help_menu.addAction(a["about"])

    def build_toolbar(self) -> QToolBar:
        """The main toolbar (icons; keys in the tool tips)."""
        bar = QToolBar("Main toolbar", self.window)
        bar.setObjectName("main-toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        groups = (
            ("open_project", "import_files", "open_demo"),
            tuple(f"tool_{t[0]}" for t in TOOL_ACTIONS),
            ("undo", "redo"),
            ("fit", "invert", "toggle_outline", "grid_view"),
            ("start_training", "stop_training", "apply_model"),
            ("edit_classes", "settings", "shortcuts"),
        )
        for i, group in enumerate(groups):
            if i:
                bar.addSeparator()
            for key in group:
                bar.addAction(self.actions[key])
        self.window.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        return bar

    def refresh_icons(self) -> None:
        """Re-tint every icon (after a theme change)."""
        for key, name in self._icons.items():
            self.actions[key].setIcon(icon(name))

    def set_classes(self, classes: Sequence["LabelClass"]) -> None:
        """One action per class, with its key, in the Label menu."""
        for action in self.class_actions:
            self.window.removeAction(action)
            action.deleteLater()
        self.class_actions = []
        for cls in classes:
            action = QAction(f"Label as {cls.name}", self.window)
            if cls.shortcut:
                action.setShortcut(QKeySequence(cls.shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(lambda _=False, name=cls.name: self.window.labelling.assign(name))
            self.window.addAction(action)
            self.class_actions.append(action)
        self._fill_label_menu()

    def set_presets(self, names: Sequence[str], current: str) -> None:
        """The window presets of the scan on screen, in View ▸ Window preset."""
        if self.preset_menu is None:
            return
        self.preset_menu.clear()
        for index, name in enumerate(names):
            action = self.preset_menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(name == current)
            action.triggered.connect(lambda _=False, i=index: self.window.viewer.set_preset_by_index(i))

    def set_recent(self, paths: Sequence[str], open_slot: Callable[[str], None]) -> None:
        """File ▸ Recent projects."""
        if self.recent_menu is None:
            return
        self.recent_menu.clear()
        for path in paths:
            self.recent_menu.addAction(path, lambda p=path: open_slot(p))
        self.recent_menu.setEnabled(bool(paths))

    def help_rows(self) -> list[tuple[str, str, str]]:
        """(menu, keys, action) for every menu action that has keys: the shortcuts dialog's content."""
        rows = []
        for menu_action in self.window.menuBar().actions():
            menu = menu_action.menu()
            if menu is None:
                continue
            title = menu.title().replace("&", "")
            for action in menu.actions():
                keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
                if keys:
                    rows.append((title, keys, action.text().replace("&", "")))
        return rows

    def _fill_label_menu(self) -> None:
        if self.label_menu is None:
            return
        self.label_menu.clear()
        for action in self.class_actions:
            self.label_menu.addAction(action)
        if self.class_actions:
            self.label_menu.addSeparator()
        for key in ("clear_label", "uncertain", "skip", "confirm", "note"):
            self.label_menu.addAction(self.actions[key])


def _place_monitor(window: "MainWindow", placement: str) -> None:
    """View ▸ Run monitor opens as: a preference, saved at once (the settings dialog shows the same)."""
    if window.preferences.monitor_placement != placement:
        window.apply_preferences(replace(window.preferences, monitor_placement=placement))


def _show_batch_predict(window: "MainWindow") -> None:
    """Train ▸ Predict folder… (the dialog module loads on first use)."""
    from medtl_gui.gui.dialogs.batch_predict_dialog import show_batch_predict_dialog

    show_batch_predict_dialog(window)


def _show_splits(window: "MainWindow") -> None:
    """Edit ▸ Splits… (the dialog module loads on first use)."""
    from medtl_gui.gui.dialogs.splits_dialog import show_splits_dialog

    show_splits_dialog(window)
