"""Make the README screenshots of the real app on the generated demo project.

Run under a virtual X server so fonts and widgets render as on a desktop::

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots/make_screenshots.py

Writes ``browser_grid.png`` (thumbnail grid), ``ct_lung_window.png`` (the
synthetic CT volume in the lung window, nodule mask outlined, HU read-out),
``painting_mask.png`` (a brush stroke in progress), ``training_panel.png``
(the training panel with an augmentation preview), ``run_monitor.png`` (a
classification run mid-training: curves, confusion matrix, ROC, per-class
table), ``training_panel_segmentation.png`` (the panel set up for segmentation,
with its *Input* row) and ``run_monitor_segmentation.png`` (a segmentation run mid-training
with its validation overlays) next to this file. ``--only training`` makes
just the last three.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    only_training = sys.argv[1:] == ["--only", "training"]
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from screenshot_session import open_demo_window, settler, start_app

    app, work = start_app("medtl-shots-")
    settle = settler(app)
    window = open_demo_window(work, settle, lambda w: w.viewer.scan is not None)
    browser = window.browser
    project = window.project

    def show(image_id: int) -> None:
        browser.select_image(image_id)
        settle(until=lambda: window.editor.document is not None and window.editor.document.image_id == image_id)

    if only_training:
        training_screenshots(window, settle)
        window.close()
        return 0

    # 1. the browser's thumbnail grid, a labelled chest phantom with its mask on screen
    lesion = next(r for r in project.images() if r.label == "lesion" and r.has_mask)
    window.splitter.setSizes([760, 840])
    window.actions_by_name["grid_view"].trigger()
    show(lesion.id)
    settle(1.0, until=lambda: browser.thumbnails.cached_count >= 30)
    window.grab().save(str(HERE / "browser_grid.png"))
    window.actions_by_name["grid_view"].trigger()
    window.splitter.setSizes([420, 1180])

    # 2. CT volume in the lung window, nodule slice, mask outlined, HU under the cursor
    volume = next(r for r in project.images() if r.kind == "volume")
    show(volume.id)
    masked = [rec.slice_index for rec in project.mask_records(volume.id)]
    window.viewer.set_slice(masked[len(masked) // 2])
    window.viewer.set_preset("Lung")
    window.editor.overlay.set_outline(True)
    window.editor.state_changed.emit()
    settle(0.3)
    viewport = window.viewer.graphics.viewport()
    QTest.mouseMove(viewport, window.viewer.image_to_viewport(40.5, 60.5))
    settle(0.3)
    window.grab().save(str(HERE / "ct_lung_window.png"))
    window.editor.overlay.set_outline(False)
    window.editor.state_changed.emit()

    # 3. painting a mask: brush stroke in progress on an unlabelled chest phantom
    target = next(r for r in project.images() if r.kind == "raster" and not r.has_mask and r.label == "normal")
    show(target.id)
    window.viewer.view.autoRange(padding=0.0)
    window.docks["Segmentation"].raise_()
    window.editor.set_tool("brush")
    window.editor.set_radius(7)
    to_view = window.viewer.image_to_viewport
    path = [(150.5, 96.5), (160.5, 92.5), (172.5, 94.5), (182.5, 104.5), (186.5, 118.5), (182.5, 132.5),
            (172.5, 140.5), (160.5, 140.5), (154.5, 130.5)]
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, to_view(*path[0]))
    for point in path[1:]:
        QTest.mouseMove(viewport, to_view(*point))
        settle(0.03)
    QTest.mouseMove(viewport, to_view(*path[-1]) + QPoint(1, 0))
    settle(0.3)
    window.grab().save(str(HERE / "painting_mask.png"))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, to_view(*path[-1]))
    window.saver.flush()
    window.editor.set_tool("navigate")
    training_screenshots(window, settle)
    window.close()
    for name in ("browser_grid.png", "ct_lung_window.png", "painting_mask.png"):
        print(HERE / name)
    return 0


def training_screenshots(window, settle) -> None:
    """4-6: the training panel, and the run monitor mid-training (classification, then segmentation)."""
    from PySide6.QtCore import Qt

    from medtl_gui.core.training.config import TrainConfig

    ctl = window.training
    panel = ctl.panel
    project = window.project
    window.splitter.setSizes([420, 1180])
    lesion = next(r for r in project.images() if r.label == "lesion" and r.kind == "raster")
    window.browser.select_image(lesion.id)
    settle(0.5, until=lambda: window.current_id == lesion.id and window.viewer.scan is not None)

    # 4. the training panel: the Balanced preset, then standard augmentation previewed on the image on screen
    ctl.docks["Training"].show()
    ctl.docks["Training"].raise_()
    window.resizeDocks([ctl.docks["Training"]], [470], Qt.Orientation.Horizontal)
    window.resizeDocks([ctl.docks["Training"], window.docks["Segmentation"]], [860, 60], Qt.Orientation.Vertical)
    panel.apply_preset("best")  # standard augmentation, previewed on the image on screen
    panel.preview_button.click()
    settle(0.5, until=lambda: len(panel.preview.samples) > 0, timeout=120)
    window.grab().save(str(HERE / "training_panel.png"))

    # 5. a classification run mid-training: curves, confusion matrix, ROC, per-class table
    panel.set_config(TrainConfig(model="baseline_cnn", image_size=64, batch_size=8, epochs=40, lr=2e-3,
                                 schedule="onecycle", augmentation="light", seed=0))
    assert ctl.start_training(), panel.problems()
    window.docks["Label"].raise_()
    window.resizeDocks([window.docks["Label"], window.docks["Segmentation"]], [300, 200], Qt.Orientation.Vertical)
    ctl.show_monitor()  # the run monitor's tab beside the viewer
    epochs: list = []
    ctl.session.epoch_finished.connect(epochs.append)
    settle(1.0, until=lambda: len(epochs) >= 8, timeout=600)
    window.grab().save(str(HERE / "run_monitor.png"))
    ctl.stop_training()
    settle(0.5, until=lambda: not ctl.session.running, timeout=60)

    # 6. a segmentation run mid-training: validation images with predicted and true masks
    panel.task.setCurrentIndex(panel.task.findData("segmentation"))
    panel.task.activated.emit(panel.task.currentIndex())
    panel.set_config(TrainConfig(task="segmentation", model="unet_small", image_size=64, batch_size=16, epochs=16,
                                 patches_per_image=24, lr=1e-3, schedule="constant", augmentation="light",
                                 validation_samples=0, seed=0))
    overlays: list = []
    ctl.session.overlays.connect(overlays.append)
    assert ctl.start_training(), panel.problems()
    ctl.show_monitor()
    settle(1.0, until=lambda: len(overlays) >= 6, timeout=900)
    window.grab().save(str(HERE / "run_monitor_segmentation.png"))
    ctl.stop_training()
    settle(0.5, until=lambda: not ctl.session.running, timeout=120)

    # 7. the training panel set up for segmentation: patches and the Input row (channel, contrast, scale)
    panel.set_config(TrainConfig(task="segmentation", model="unet_small", image_size=96, batch_size=16, epochs=40,
                                 patches_per_image=120, lr=3e-3, schedule="onecycle", augmentation="strong",
                                 colour_channel="green", contrast="clahe", input_scale=1.5, seed=0))
    ctl.docks["Training"].raise_()
    settle(0.3)
    panel.grab().save(str(HERE / "training_panel_segmentation.png"))
    for name in ("training_panel.png", "run_monitor.png", "run_monitor_segmentation.png",
                 "training_panel_segmentation.png"):
        print(HERE / name)


if __name__ == "__main__":
    raise SystemExit(main())
