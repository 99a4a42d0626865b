"""Make ``gradcam_overlay.png``: the viewer's Grad-CAM overlay on the demo project, with the "Label next" list.

A baseline CNN is trained (a minute on a CPU) through the engine on the
generated demo project (chest phantoms, half with a lesion); the window
then ranks the unlabelled images (browser filter "Label next"), shows the
lesion phantom the run is most confident about (its clearest true
positive: a picked example, not a typical one) with its mask outlined and
the run's Grad-CAM heat-map for "lesion" over it (Saliency panel: class,
method, colours, opacity)::

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots/make_gradcam_screenshot.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def train_demo_run(folder: Path) -> None:
    """A baseline CNN at 128 px on the demo project's labels (engine, CPU)."""
    import torch

    from medtl_gui.core.data.sources import open_data_source
    from medtl_gui.core.training import TrainConfig, train

    torch.set_num_threads(2)
    config = TrainConfig(model="baseline_cnn", image_size=128, epochs=25, batch_size=8, lr=2e-3,
                         augmentation="light", precision="fp32", device="cpu", validation_samples=0)
    result = train(config, open_data_source(folder))
    print(f"run {result.run_dir}: {result.status}, best val metric {result.best_metric}", file=sys.stderr)


def most_confident_lesion(project, run_dir):
    """The masked lesion phantom the run gives the highest lesion probability (its clearest true positive)."""
    from medtl_gui.core.inference.trained_model import load_trained_model
    from medtl_gui.core.review.saliency import explain_image

    trained = load_trained_model(run_dir)
    candidates = [r for r in project.images() if r.label == "lesion" and r.has_mask and r.kind == "raster"]
    lesion_index = trained.class_names.index("lesion")
    scored = [(explain_image(trained, project.read_image(r.id)).probabilities[lesion_index], r) for r in candidates]
    probability, record = max(scored, key=lambda pair: pair[0])
    print(f"image {record.id}: p(lesion) = {probability:.3f}", file=sys.stderr)
    return record


def main() -> int:
    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    work = Path(tempfile.mkdtemp(prefix="medtl-gradcam-"))
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(work / "settings"))
    app = QApplication(sys.argv[:1])
    app.setApplicationName("MedTL")
    from medtl_gui.core.project import create_demo_project
    from medtl_gui.gui.main_window import MainWindow
    from medtl_gui.gui.resources import resource_path
    from medtl_gui.gui.review.label_next import LABEL_NEXT
    from medtl_gui.gui.theme import apply_theme

    apply_theme(app, "dark")
    app.setWindowIcon(QIcon(str(resource_path("medtl.svg"))))
    create_demo_project(work / "demo").close()
    train_demo_run(work / "demo")

    def settle(seconds: float = 0.4, until=None, timeout: float = 120.0) -> None:
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
    settle(until=lambda: window.viewer.scan is not None and window.training.model_run() is not None)
    window.centralWidget().setSizes([460, 1140])

    ranked: list[object] = []
    window.ranking.ranked.connect(ranked.append)
    window.ranking.start("entropy")
    settle(until=lambda: bool(ranked))
    assert window.browser.filter_box.currentText() == LABEL_NEXT

    project = window.project
    lesion = most_confident_lesion(project, window.training.model_run().path)
    window.browser.set_filter("Class: lesion")
    window.browser.select_image(lesion.id)
    settle(until=lambda: window.editor.document is not None and window.editor.document.image_id == lesion.id)
    window.editor.overlay.set_outline(True)
    window.editor.state_changed.emit()
    saliency = window.saliency
    window.docks["Saliency"].raise_()
    saliency.panel.opacity_slider.setValue(60)
    outcomes: list[object] = []
    saliency.computed.connect(outcomes.append)
    window.actions_by_name["toggle_saliency"].trigger()
    settle(0.5, until=lambda: bool(outcomes) and not saliency.busy)
    saliency.panel.class_box.setCurrentText("lesion")  # the run's classes are listed once it is loaded
    settle(0.8, until=lambda: len(outcomes) > 1 and not saliency.busy)
    window.grab().save(str(HERE / "gradcam_overlay.png"))
    print(HERE / "gradcam_overlay.png")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
