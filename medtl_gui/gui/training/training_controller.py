"""Wires background training into the main window: docks, Train menu commands, browser and dialogs.

The window keeps working while a run trains: the worker thread reads a
snapshot of the labels, the GUI thread only draws what the worker pushes.
A failed run shows a dialog (reason, what to do, details) and leaves the
project untouched. Closing the project or the window stops the run first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMessageBox, QScrollArea, QTabWidget

from medtl_gui.core.tasks import can, title_of
from medtl_gui.core.training.config import TrainConfig
from medtl_gui.gui.background import BackgroundJob
from medtl_gui.gui.training.monitor_host import DEFAULT_WINDOW_SIZE, MonitorHost, scrolling
from medtl_gui.gui.training.prediction_job import PredictionSummary, predict_unlabelled
from medtl_gui.gui.training.run_history import RunHistoryPanel
from medtl_gui.gui.training.run_monitor import RunMonitor
from medtl_gui.gui.training.run_progress import RunOutcome
from medtl_gui.core.runs.history import RunSummary, active_run_id, read_epochs, read_validation, set_active_run
from medtl_gui.gui.training.status_progress import StatusProgress
from medtl_gui.gui.training.training_panel import TrainingPanel
from medtl_gui.gui.training.training_session import TrainingSession
from medtl_gui.core.training.setup_checks import (
    TASK_TITLES,
    limit_openmp_spinning,
    summarise_project,
    training_threads,
)
from medtl_gui.gui.training.worker import TrainRequest

if TYPE_CHECKING:
    from medtl_gui.gui.main_window import MainWindow


class TrainingController(QObject):
    """Owns the training panel, run monitor, run history and the background session of one window.

    ``prediction_done(summary)`` after "Apply model" has stored its proposals.
    """

    prediction_done = Signal(object)

    def __init__(self, window: "MainWindow"):
        super().__init__(window)
        limit_openmp_spinning()  # before torch loads (in a worker): idle torch threads must not hog the CPU
        self.window = window
        self.session = TrainingSession(self)
        self.panel = TrainingPanel()
        self.monitor = RunMonitor()
        self.history = RunHistoryPanel()
        self.progress = StatusProgress()
        self.tabs = QTabWidget()
        # below their least sizes (a small window) the monitor and the run list scroll instead of clipping
        self.monitor_scroll = scrolling(self.monitor)
        self.history_scroll = scrolling(self.history)
        self.host: MonitorHost  # made with the docks (it needs the window's central tabs)
        self.docks: dict[str, QDockWidget] = {}
        self.last_error_dialog: QMessageBox | None = None
        self.last_prediction: PredictionSummary | None = None
        self.last_prediction_box: QMessageBox | None = None
        self._summary_timer = QTimer(self)
        self._summary_timer.setSingleShot(True)
        self._summary_timer.setInterval(400)
        self._summary_timer.timeout.connect(self.refresh_summary)
        self._summary_generation = 0
        self._summary_job: BackgroundJob | None = None
        self._connect()

    def _connect(self) -> None:
        s, m = self.session, self.monitor
        s.run_started.connect(m.on_run_started)
        s.batches.connect(m.on_batches)
        s.epoch_finished.connect(m.on_epoch)
        s.validation.connect(m.on_validation)
        s.overlays.connect(m.on_overlays)
        s.message.connect(m.on_message)
        s.state_changed.connect(m.on_state)
        s.state_changed.connect(self._sync_actions)
        s.state_changed.connect(lambda state: self.host.set_state(state))
        s.finished.connect(self._on_finished)
        s.run_started.connect(lambda _e: self.reload_history())
        m.pause_requested.connect(s.pause)
        m.resume_requested.connect(s.resume)
        m.stop_requested.connect(s.stop)
        m.images_requested.connect(self.list_images)
        self.panel.start_requested.connect(self.start_training)
        self.panel.import_weights_requested.connect(self.import_weights)
        self.panel.preview_requested.connect(self._preview)
        h = self.history
        h.open_requested.connect(self.open_run)
        h.compare_requested.connect(self.compare_runs)
        h.continue_requested.connect(self.continue_run)
        h.activate_requested.connect(self.activate_run)
        h.apply_requested.connect(lambda run: self.apply_model(run))
        self.window.labelling.edited.connect(lambda *_: self._summary_timer.start())
        self.window.saver.saved.connect(lambda *_: self._summary_timer.start())

    def build_docks(self) -> None:
        """Add the Training dock (right, a tab beside Label) and the run monitor (live run | runs): a tab beside
        the viewer or its own window, as the preferences say; never a dock that takes the viewer's room."""
        w = self.window
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.tabs.addTab(self.monitor_scroll, "Live run")
        self.tabs.addTab(self.history_scroll, "Runs")
        self.tabs.setDocumentMode(True)
        dock = QDockWidget("Training", w)
        dock.setObjectName("dock-Training")
        dock.setWidget(scroll)
        w.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.docks["Training"] = dock
        w.tabifyDockWidget(w.docks["Metadata"], self.docks["Training"])
        w.docks["Label"].raise_()
        self.host = MonitorHost(self.tabs, w.central_tabs, w)
        self.host.set_placement(w.preferences.monitor_placement)
        w.statusBar().addPermanentWidget(self.progress)
        self.panel.device.setCurrentText(w.preferences.device)
        self.set_weight_store_folder(w.preferences.effective_weight_store)

    def show_monitor(self) -> None:
        """View ▸ Show run monitor: its tab (or window), on the live run."""
        self.tabs.setCurrentWidget(self.monitor_scroll)
        self.host.show()

    def show_runs(self) -> None:
        """Train ▸ Run history: the monitor on its Runs tab."""
        self.tabs.setCurrentWidget(self.history_scroll)
        self.host.show()
        self.reload_history()

    def toggle_monitor(self) -> None:
        """Switch between the viewer and the run monitor (its tab; or open/close its window)."""
        if not self.host.is_shown():
            self.host.show()
        elif self.host.placement == "tab":
            self.host.show_viewer()
        else:
            self.host.window.hide()

    def reset_layout(self) -> None:
        """View ▸ Reset layout: the viewer tab on screen, the monitor's window at its default size."""
        self.host.window.resize(*DEFAULT_WINDOW_SIZE)
        self.host.show_viewer()

    # -- project -------------------------------------------------------------------------
    def set_project(self, project: Any) -> None:
        """A project was opened: counts for the panel, its runs for the history, its remembered panel settings."""
        self.panel.set_project_folder(Path(project.folder) if project is not None else None)
        self.refresh_summary()
        self.reload_history()

    def project_closing(self) -> None:
        """Stop a run before the project it reads from closes."""
        if self.session.running:
            self.session.shutdown(60.0)

    def refresh_summary(self, background: bool = True) -> None:
        """Re-count the labels (after edits) for the panel's checks; in a background job unless told not to."""
        project = self.window.project
        if project is None:
            return
        if not background:
            self.panel.set_summary(summarise_project(project))
            return
        self._summary_generation += 1
        generation = self._summary_generation
        job = BackgroundJob(lambda progress=None, cancel=None: summarise_project(project))

        def counted(summary: Any) -> None:
            if generation == self._summary_generation and self.window.project is project:
                self.panel.set_summary(summary)

        job.succeeded.connect(counted)
        self._summary_job = job.start()

    def reload_history(self) -> None:
        """Re-read the project's runs."""
        project = self.window.project
        if project is None:
            return
        running = set()
        if self.session.running and self.monitor.run_dir:
            running.add(Path(self.monitor.run_dir).name)
        self.history.reload(Path(project.folder) / "runs", active_run_id(project), running)

    def set_weight_store_folder(self, folder: str) -> None:
        """The weight store the panel lists (from the preferences)."""
        from medtl_gui.core.models.weights import WeightStore

        self.panel.set_weight_store(WeightStore(folder))

    # -- training ------------------------------------------------------------------------
    def start_training(self, config: TrainConfig | None = None, resume_from: Path | None = None) -> bool:
        """Start a run with the panel's settings (or ``config``); False with a message when it cannot."""
        w = self.window
        if w.project is None:
            self._tell("Open a project first.")
            return False
        if self.session.running:
            self._tell("A run is already training: stop it first (Train ▸ Stop).")
            return False
        if config is None:
            self.refresh_summary(background=False)  # the counts the checks use must be current
            problems = self.panel.refresh_problems()
            if problems:
                box = QMessageBox(QMessageBox.Icon.Warning, "Cannot start training",
                                  "Please fix these settings first:\n\n" + "\n".join(f"• {p}" for p in problems),
                                  parent=w)
                box.open()
                self.last_error_dialog = box
                return False
            config = self.panel.config()
        request = TrainRequest(config=TrainConfig.from_dict(config.to_dict()), project=w.project,
                               weights_dir=w.preferences.effective_weight_store, resume_from=resume_from,
                               threads=training_threads())
        title = f"{TASK_TITLES.get(config.task, config.task)}: {config.model}, {config.strategy}" + \
                (" (continued)" if resume_from else "")
        self.monitor.begin(config.task, list(self.panel.summary.class_names), title, config.epochs, config.lr)
        self.tabs.setCurrentWidget(self.monitor_scroll)
        if self.host.placement == "window":
            self.host.show(activate=False)  # the viewer keeps the main window and the focus
        self.session.start(request)
        where = "its tab beside the viewer" if self.host.placement == "tab" else "its window"
        w.statusBar().showMessage(f"Training in the background (run monitor: {where}, Ctrl+Shift+M): keep "
                                  "labelling; the run uses the labels as they were when it started", 6000)
        return True

    def pause_or_resume(self) -> None:
        """Train ▸ Pause / Resume."""
        if self.session.state == "paused":
            self.session.resume()
        else:
            self.session.pause()

    def stop_training(self) -> None:
        """Train ▸ Stop: ends within one batch."""
        self.session.stop()

    def _on_finished(self, outcome: RunOutcome) -> None:
        self.monitor.on_finished(outcome)
        self.reload_history()
        w = self.window
        if outcome.failed:
            box = QMessageBox(QMessageBox.Icon.Critical, "Training failed",
                              f"{outcome.error}\n\n{outcome.hint}\n\nThe project and its labels are unchanged."
                              + (f"\nLogged in {outcome.report.get('error_log')}" if outcome.report.get("error_log")
                                 else ""), parent=w)
            box.setDetailedText(outcome.details)
            box.open()
            self.last_error_dialog = box
            w.statusBar().showMessage(f"Training failed: {outcome.error}", 10000)
        else:
            w.statusBar().showMessage(f"Training {outcome.status.replace('_', ' ')}: {outcome.run_dir}", 8000)

    def _sync_actions(self, state: str) -> None:
        actions = self.window.actions_by_name
        running = state != "idle"
        actions["start_training"].setEnabled(not running)
        self.panel.start_button.setEnabled(not running)
        self.panel.start_button.setToolTip("A run is training: stop it first" if running else "")
        actions["pause_training"].setEnabled(running and state != "stopping")
        actions["pause_training"].setText("&Resume training" if state == "paused" else "&Pause training")
        actions["stop_training"].setEnabled(running and state != "stopping")

    # -- browser -------------------------------------------------------------------------
    def list_images(self, title: str, image_ids: list) -> None:
        """Show these images (e.g. a confusion-matrix cell's) in the browser."""
        ids = [int(i) for i in image_ids if str(i).isdigit()]
        text = self.window.browser.show_listed(title, ids)
        if self.host.placement == "tab":
            self.host.show_viewer()  # the browser lists them in the viewer tab
        self.window.statusBar().showMessage(f"{len(ids)} image(s): {text}", 6000)

    # -- history ---------------------------------------------------------------------------
    def open_run(self, run: RunSummary) -> None:
        """Show a run's curves, last confusion matrix and ROC in the monitor."""
        if self.session.running:
            self._tell("A run is training: its monitor stays live. Open past runs when it has finished.")
            return
        self.monitor.show_run(run, read_epochs(run.path), read_validation(run.path))
        self.show_monitor()

    def compare_runs(self, first: RunSummary, second: RunSummary) -> None:
        """Open the first run and overlay the second one's curves."""
        self.open_run(first)
        if not self.session.running:
            self.monitor.compare_with(second, read_epochs(second.path))

    def activate_run(self, run: RunSummary) -> None:
        """Mark a run as the project's active model."""
        if self.window.project is None:
            return
        set_active_run(self.window.project, run.run_id)
        self.window.statusBar().showMessage(f"Active model: {run.run_id}", 5000)
        self.reload_history()

    def continue_run(self, run: RunSummary) -> bool:
        """Resume an unfinished run where it stopped, or fine-tune further from a finished run's weights."""
        config = TrainConfig.from_dict(run.config)
        if run.can_resume:
            config = TrainConfig.from_dict(config.to_dict() | {"device": self.panel.device.currentText() or "auto"})
            return self.start_training(config, resume_from=run.path)
        if not can(run.task, "continue"):
            self._tell(f"Only unfinished {title_of(run.task).lower()} runs can be continued (from their last epoch).")
            return False
        store = self.panel.store
        job = BackgroundJob(weights_from_run, store, run)

        def ready(name: str) -> None:
            self.panel.refresh_weights()
            self.panel.set_config(TrainConfig.from_dict(config.to_dict() | {"pretrained": name, "recipe": None}))
            self.docks["Training"].show()
            self.docks["Training"].raise_()
            self.window.statusBar().showMessage(f"The weights of run {run.run_id} are in the weight store as "
                                                f"'{name}': adjust the settings and press Start", 10000)

        return self._background(job, "Preparing the run's weights", ready) is not None

    # -- apply the model -------------------------------------------------------------------
    def model_run(self) -> RunSummary | None:
        """The run "Apply model" uses: the active one, else the newest run with a checkpoint."""
        runs = self.history.runs
        active = active_run_id(self.window.project) if self.window.project is not None else None
        chosen = next((r for r in runs if r.run_id == active and r.usable_model), None)
        return chosen or next((r for r in runs if r.usable_model and r.status != "running"), None)

    def apply_model(self, run: RunSummary | None = None) -> BackgroundJob | None:
        """Predict the unlabelled images (background, with progress); proposals appear as suggestions."""
        w = self.window
        if w.project is None:
            self._tell("Open a project first.")
            return None
        run = run or self.model_run()
        if run is None:
            self._tell("No trained run yet: train a model first (Train ▸ Start training).")
            return None
        device = self.panel.device.currentText() or "auto"
        job = BackgroundJob(predict_unlabelled, w.project, run.path, device)

        def done(summary: PredictionSummary) -> None:
            self.last_prediction = summary
            w.statusBar().showMessage(summary.text() + " — Enter confirms a suggestion, Ctrl+Enter a mask", 10000)
            w.refresh_browser()
            if w.current_id is not None:
                w.labelling.show_state()
                w.show_image(w.current_id)
            from medtl_gui.gui.dialogs.batch_predict_dialog import prediction_summary_box

            self.last_prediction_box = prediction_summary_box(w, summary)  # counts: predicted, skipped, disagreeing
            self.last_prediction_box.show()
            w.activateWindow()  # the summary stays beside the window: labelling keys keep working
            self.prediction_done.emit(summary)

        return self._background(job, f"Predicting with {run.run_id}", done)

    # -- weights and preview ---------------------------------------------------------------
    def import_weights(self) -> None:
        """Import a weights file (USB stick) into the weight store, in the background."""
        path, _ = QFileDialog.getOpenFileName(self.window, "Import pretrained weights",
                                              filter="Weights (*.pth *.pt *.safetensors);;All files (*)")
        if path:
            self.import_weights_file(path)

    def import_weights_file(self, path: str) -> BackgroundJob | None:
        """Import ``path`` into the store and re-list the weights."""
        store = self.panel.store
        job = BackgroundJob(lambda progress=None, cancel=None: store.import_file(path))

        def done(entry: Any) -> None:
            self.panel.refresh_weights()
            self.panel.refresh_preset()  # the preset may now run as written (e.g. Quick on ImageNet weights)
            self.window.statusBar().showMessage(f"Imported weights {entry.name} ({entry.architecture})", 6000)

        return self._background(job, "Importing weights", done)

    def _background(self, job: BackgroundJob, title: str, on_success: Any) -> BackgroundJob | None:
        """Run a model job with its progress in the status bar (non-modal: labelling goes on)."""
        started = self.progress.run(job, title, on_success)
        if started is None:
            self._tell(f"Wait for '{self.progress.label.text()}' to finish (or cancel it in the status bar).")
        return started

    def _preview(self, preset: str, image_size: int) -> None:
        self.panel.preview.request(self.window.project, self.window.current_id, preset, image_size)

    def _tell(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 8000)
        box = QMessageBox(QMessageBox.Icon.Information, "Training", text, parent=self.window)
        box.open()
        self.last_error_dialog = box


def weights_from_run(store: Any, run: RunSummary, progress: Any = None, cancel: Any = None) -> str:
    """Put a finished classification run's backbone into the weight store (once); returns its name there."""
    from medtl_gui.core.training import checkpoints
    from medtl_gui.core.runs import RunRecord

    name = f"run-{run.run_id}"
    if store.find(name) is not None:
        return name
    folder = RunRecord(run.path).checkpoints
    tag = "best" if checkpoints.checkpoint_exists(folder, "best") else "last"
    state = checkpoints.load_model_state(folder, tag)
    backbone = {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")}
    try:  # the run's own record of its input channels; an older or damaged run lets the store infer them
        record_in_channels = RunRecord.existing(run.path).read_config()["model"]["in_channels"]
    except (OSError, KeyError, ValueError):
        record_in_channels = None
    store.add_state_dict(name, run.model, backbone, source=f"fine-tuned in run {run.run_id}",
                         licence="derived from this project's images and labels", layout="medtl-backbone",
                         in_channels=record_in_channels, notes=f"checkpoint {tag} of {run.path}")
    return name
