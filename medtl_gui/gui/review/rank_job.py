"""Train ▸ "Rank unlabelled images…": active-learning ranking as a background job, then "Label next".

``RankDialog`` asks for the method and how many images to pick; the
``RankingController`` runs :func:`rank_unlabelled` (core, no Qt) in a
``BackgroundJob`` with a progress dialog (cancellable), never on the GUI
thread. When it ends, the browser reloads its rows and switches to the
"Label next" filter, sorted by the stored ranking, first image selected.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QSpinBox, QWidget

from medtl_gui.gui.background import BackgroundJob
from medtl_gui.gui.review.label_next import LABEL_NEXT

if TYPE_CHECKING:
    from medtl_gui.core.review.active_learning import Ranking
    from medtl_gui.gui.main_window import MainWindow

#: (shown text, core method) offered by the dialog
METHOD_CHOICES: tuple[tuple[str, str], ...] = (
    ("Uncertainty: entropy", "entropy"),
    ("Uncertainty: margin", "margin"),
    ("Uncertainty: least confidence", "least_confidence"),
    ("Uncertainty: MC dropout (runs trained with head dropout)", "mc_dropout"),
    ("Diversity: k-center on backbone features", "kcenter"),
    ("Hybrid: uncertain pool, then k-center", "hybrid"),
)


def rank_unlabelled(project: Any, run_dir: str | Path, method: str = "entropy", top: int = 50,
                    device: str = "auto", progress: Any = None, cancel: Any = None) -> "Ranking":
    """Rank the project's unlabelled images with a run and store the order (runs in a worker thread)."""
    from medtl_gui.core.inference.project_prediction import check_classes_match
    from medtl_gui.core.inference.trained_model import load_trained_model
    from medtl_gui.core.review.active_learning import rank_project

    trained = load_trained_model(run_dir)
    check_classes_match(project, trained)

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress(done, total, f"{method} with run {trained.run_id}")

    return rank_project(project, trained, method, top=top, device=device, progress=report,
                        cancelled=(cancel.is_set if cancel is not None else None))


class RankDialog(QDialog):
    """Method and number of images to pick for a ranking."""

    def __init__(self, run_id: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Rank unlabelled images")
        self.method_box = QComboBox()
        for text, method in METHOD_CHOICES:
            self.method_box.addItem(text, method)
        self.top_box = QSpinBox()
        self.top_box.setRange(1, 100000)
        self.top_box.setValue(50)
        self.top_box.setToolTip("Diversity and hybrid: how many images to pick as one spread-out batch")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(QLabel(f"Order the unlabelled images by what run <b>{run_id}</b> would learn most from."))
        form.addRow("Method", self.method_box)
        form.addRow("Batch size", self.top_box)
        form.addRow(buttons)

    @property
    def method(self) -> str:
        return str(self.method_box.currentData())


class RankingController(QObject):
    """Starts ranking jobs for the main window and shows their result in the browser (``ranked(ranking)``)."""

    ranked = Signal(object)

    def __init__(self, window: "MainWindow"):
        super().__init__(window)
        self.window = window
        self.dialog: RankDialog | None = None
        self.last_ranking: Any = None

    def choose_and_rank(self) -> None:
        """Ask for the method, then rank (non-blocking dialog)."""
        run = self._run()
        if run is None:
            return
        self.dialog = RankDialog(run.run_id, self.window)
        self.dialog.accepted.connect(lambda: self.start(self.dialog.method, self.dialog.top_box.value()))
        self.dialog.open()

    def start(self, method: str = "entropy", top: int = 50) -> BackgroundJob | None:
        """Rank with the active run in the background (progress dialog, cancellable)."""
        run = self._run()
        if run is None:
            return None
        device = self.window.training.panel.device.currentText() or "auto"
        job = BackgroundJob(rank_unlabelled, self.window.project, run.path, method, top, device)
        return self.window.jobs.run(job, f"Ranking unlabelled images ({method})", self._done)

    def _run(self) -> Any:
        w = self.window
        if w.project is None:
            w.statusBar().showMessage("Open a project first.", 5000)
            return None
        run = w.training.model_run()
        if run is None:
            w.statusBar().showMessage("No trained run yet: train a model first (Train ▸ Start training).", 8000)
        return run

    def _done(self, ranking: "Ranking") -> None:
        self.last_ranking = ranking
        w = self.window
        skipped = f"; {len(ranking.skipped)} unreadable image(s) left out" if ranking.skipped else ""

        def show_label_next() -> None:
            w.browser.set_filter(LABEL_NEXT)
            w.browser.select_row(0)
            w.statusBar().showMessage(f"{len(ranking.items)} unlabelled images ranked by {ranking.method}"
                                      f"{skipped}: the browser shows them in 'Label next' order", 10000)
            self.ranked.emit(ranking)

        w.refresh_browser(then=show_label_next)
