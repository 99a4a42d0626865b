"""Screenshots of the window while a run trains, at 1440x900 and 1280x720: the viewer stays the largest area.

Runs offscreen (or under Xvfb for desktop fonts)::

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots/make_layout_screenshots.py

For each size a fresh window (default layout, private settings) opens the
demo project and starts a short baseline-CNN run; after a few epochs it
saves ``training_WxH.png`` (the viewer tab, the run monitor's tab live) and
``training_monitor_WxH.png`` (one click on the monitor's tab) next to this
file, and prints the viewer's share of the window's area.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = ((1440, 900), (1280, 720))


def main() -> int:
    from screenshot_session import settler, start_app

    from medtl_gui.core.training.config import TrainConfig
    from medtl_gui.gui.app_settings import app_settings_store
    from medtl_gui.gui.main_window import MainWindow

    app, work = start_app("medtl-layout-shots-")
    settle = settler(app)
    for width, height in SIZES:
        app_settings_store().clear()  # the default layout: no geometry or docks remembered from the previous size
        window = MainWindow()
        window.resize(width, height)
        window.show()
        window.open_project(work / "demo")
        settle(0.5, until=lambda w=window: w.viewer.scan is not None)
        lesion = next(r for r in window.project.images() if r.label == "lesion" and r.kind == "raster")
        window.browser.select_image(lesion.id)
        settle(0.5, until=lambda w=window: w.current_id == lesion.id and w.viewer.scan is not None)
        ctl = window.training
        ctl.panel.set_config(TrainConfig(model="baseline_cnn", image_size=64, batch_size=8, epochs=40, lr=2e-3,
                                         schedule="onecycle", augmentation="light", seed=0))
        epochs: list = []
        ctl.session.epoch_finished.connect(epochs.append)
        assert ctl.start_training(), ctl.panel.problems()
        settle(1.0, until=lambda: len(epochs) >= 6, timeout=600)
        viewer = window.viewer
        share = viewer.width() * viewer.height() / (window.width() * window.height())
        window.grab().save(str(HERE / f"training_{width}x{height}.png"))
        ctl.show_monitor()
        settle(1.0)
        window.grab().save(str(HERE / f"training_monitor_{width}x{height}.png"))
        print(f"{width}x{height}: viewer {viewer.width()}x{viewer.height()} = {share:.0%} of the window")
        ctl.stop_training()
        settle(0.5, until=lambda c=ctl: not c.session.running, timeout=120)
        window.close()
        settle(0.3)
    for width, height in SIZES:
        print(HERE / f"training_{width}x{height}.png")
        print(HERE / f"training_monitor_{width}x{height}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
