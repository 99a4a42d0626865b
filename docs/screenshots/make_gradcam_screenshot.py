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
    from screenshot_session import open_demo_window, settler, start_app

    from medtl_gui.gui.review.label_next import LABEL_NEXT

    app, work = start_app("medtl-gradcam-")
    train_demo_run(work / "demo")
    settle = settler(app, default_timeout=120.0)
    window = open_demo_window(work, settle, lambda w: w.viewer.scan is not None and w.training.model_run() is not None)
    window.splitter.setSizes([460, 1140])

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
