"""Compute the viewer's saliency heat-map in the background and keep it in step with the image on screen.

``compute_saliency`` (no Qt) loads the run once (cached per run folder and
checkpoint time), reads the image from the project and returns the
Grad-CAM map of its displayed plane. ``SaliencyController`` runs it in a
``BackgroundJob`` whenever the overlay is on and the image, run, class or
method changes; one job at a time, the latest request wins, stale results
are dropped. Volumes are explained on the plane the model sees (the
middle slice), so the map is shown only while that slice is on screen.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from medtl_gui.gui.background import BackgroundJob
from medtl_gui.gui.review.saliency_overlay import SaliencyLayer, SaliencyPanel

if TYPE_CHECKING:
    from medtl_gui.gui.main_window import MainWindow


@dataclass(frozen=True)
class SaliencyRequest:
    """What to explain: an image of the open project with a run, a class (None: predicted) and a method."""

    image_id: int
    run_dir: str
    class_choice: str | None
    method: str


@dataclass
class SaliencyOutcome:
    """A computed heat-map and what it explains."""

    request: SaliencyRequest
    heatmap: np.ndarray
    class_name: str | None
    probability: float
    class_names: list[str]
    layer: str
    n_frames: int


class TrainedModelCache:
    """Trained runs loaded once per (run folder, checkpoint modification time); thread-safe."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, float], Any] = {}
        self._lock = threading.Lock()

    def get(self, run_dir: str | Path) -> Any:
        from medtl_gui.core.inference.trained_model import load_trained_model

        from medtl_gui.core.runs import RunRecord

        folder = Path(run_dir)
        checkpoints = RunRecord(folder).checkpoints
        stamp = max((p.stat().st_mtime for p in checkpoints.glob("*")), default=0.0) if checkpoints.is_dir() else 0.0
        key = (str(folder), stamp)
        with self._lock:
            if key not in self._models:
                self._models = {k: v for k, v in self._models.items() if k[0] != key[0]}  # an older checkpoint
                self._models[key] = load_trained_model(folder)
            return self._models[key]


def compute_saliency(project: Any, request: SaliencyRequest, models: TrainedModelCache, scan: Any = None,
                     progress: Any = None, cancel: Any = None) -> SaliencyOutcome:
    """The heat-map of ``request`` (background thread; raises with a readable message on failure).

    ``scan``: the request's image as already decoded for the viewer (read from the project when None).
    """
    from medtl_gui.core.review.saliency import explain_image

    trained = models.get(request.run_dir)
    if trained.head_kind == "regression" or not trained.class_names:
        raise ValueError(f"run {Path(request.run_dir).name} is not a classifier: saliency explains class decisions")
    if scan is None:
        scan = project.read_image(request.image_id)
    result = explain_image(trained, scan, request.class_choice, method=request.method, device="cpu")
    return SaliencyOutcome(request, result.heatmap, result.class_name, float(result.probabilities[result.class_index]),
                           list(trained.class_names), result.layer, int(getattr(scan, "n_frames", 1) or 1))


class SaliencyController(QObject):
    """Owns the viewer's saliency layer and its panel; recomputes in the background as the view changes.

    ``computed(outcome)`` after a heat-map is put on screen; ``failed(message)`` when one cannot be made.
    """

    computed = Signal(object)
    failed = Signal(str)

    def __init__(self, window: "MainWindow"):
        super().__init__(window)
        self.window = window
        self.panel = SaliencyPanel()
        self.layer = SaliencyLayer(window.viewer.view)
        self.models = TrainedModelCache()
        self.outcome: SaliencyOutcome | None = None
        self._job: BackgroundJob | None = None
        self._pending: SaliencyRequest | None = None
        self.panel.toggled.connect(self.set_enabled)
        self.panel.request_changed.connect(self.refresh)
        self.panel.opacity_changed.connect(self.layer.set_opacity)
        self.panel.colormap_changed.connect(self.layer.set_colormap)
        window.image_shown.connect(lambda _id: self.refresh())
        window.browser.image_selected.connect(lambda _id: self._clear("Computing…" if self.enabled else "Off"))
        window.viewer.slice_changed.connect(lambda _i: self._show())
        window.project_ready.connect(lambda: self._clear("Off" if not self.enabled else "…"))

    @property
    def enabled(self) -> bool:
        """True while the overlay is switched on."""
        return self.panel.show_box.isChecked()

    @property
    def busy(self) -> bool:
        """True while a heat-map is being computed."""
        return self._job is not None

    def set_enabled(self, on: bool) -> None:
        """Switch the overlay on (computing the current image's map) or off."""
        if self.panel.show_box.isChecked() != bool(on):
            self.panel.show_box.setChecked(bool(on))  # emits toggled, which calls back here
            return
        self.layer.set_visible(on)
        if on:
            self.refresh()
        else:
            self.panel.set_status("Off")

    def current_request(self) -> SaliencyRequest | None:
        """The request for what is on screen now, or None (with the reason in the panel)."""
        w = self.window
        if w.project is None or w.current_id is None or w.viewer.scan is None:
            self.panel.set_status("No image on screen")
            return None
        run = w.training.model_run()
        if run is None:
            self.panel.set_status("No trained run yet: train a model (Train ▸ Start training) to see its saliency")
            return None
        return SaliencyRequest(int(w.current_id), str(run.path), self.panel.class_choice, self.panel.method)

    def refresh(self) -> None:
        """Compute (in the background) the map of the image on screen, unless it is already shown."""
        if not self.enabled:
            return
        request = self.current_request()
        if request is None:
            self._clear(self.panel.status.text())
            return
        if self.outcome is not None and self.outcome.request == request:
            self._show()
            return
        if self._job is not None:
            self._pending = request
            return
        self._start(request)

    def _start(self, request: SaliencyRequest) -> None:
        self.panel.set_status(f"Computing {self.panel.method_box.currentText()} with run {Path(request.run_dir).name}…")
        w = self.window  # the image on screen is already decoded: explain those pixels, do not read them again
        on_screen = w.viewer.scan if w.shown_id == request.image_id else None
        job = BackgroundJob(compute_saliency, w.project, request, self.models, scan=on_screen)
        job.succeeded.connect(self._on_result)
        job.failed.connect(lambda message, _details: self._on_failure(message))
        job.finished.connect(self._on_finished)
        self._job = job
        job.start()

    def _on_result(self, outcome: SaliencyOutcome) -> None:
        self.panel.set_class_names(outcome.class_names)
        if self.window.current_id != outcome.request.image_id:
            return  # the user moved on; the pending request follows
        self.outcome = outcome
        self._show()
        self.computed.emit(outcome)

    def _on_failure(self, message: str) -> None:
        self._clear(f"No saliency: {message}")
        self.failed.emit(message)

    def _on_finished(self) -> None:
        self._job = None
        pending, self._pending = self._pending, None
        if pending is not None and self.enabled:
            self.refresh()

    def _show(self) -> None:
        outcome, viewer = self.outcome, self.window.viewer
        if outcome is None or outcome.request.image_id != self.window.current_id or viewer.scan is None:
            return
        explained_slice = outcome.n_frames // 2 if outcome.n_frames > 1 else 0
        if viewer.n_slices > 1 and viewer.slice_index != explained_slice:
            self.layer.set_heatmap(None)
            self.panel.set_status(f"The model sees slice {explained_slice + 1} only: go there to see its saliency")
            return
        if self.layer.heatmap is not outcome.heatmap:
            self.layer.set_heatmap(outcome.heatmap)
        self.layer.set_visible(self.enabled)
        self.panel.set_status(f"{outcome.class_name} ({outcome.probability:.0%}) explained by "
                              f"{self.panel.method_box.currentText()} on {outcome.layer}, "
                              f"run {Path(outcome.request.run_dir).name}")

    def _clear(self, status: str) -> None:
        self.outcome = None
        self.layer.set_heatmap(None)
        self.panel.set_status(status)
