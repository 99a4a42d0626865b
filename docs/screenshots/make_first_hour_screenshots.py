"""Screenshots of the first hour at 1440x900 and 1280x720: the splits dialog, the preset explaining its weight
choice on a fresh install, and the scope warning after *Apply model*.

Runs offscreen (or under Xvfb for desktop fonts)::

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots/make_first_hour_screenshots.py

The weight store is an empty folder (a fresh install). Dialogs are separate
windows, so each picture is the main window with the dialog drawn where Qt
centres it over the window, as the user sees them. Writes, next to this file,
``splits_dialog_WxH.png``, ``preset_reason_WxH.png`` and ``scope_warning_WxH.png``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = ((1440, 900), (1280, 720))


TITLE_BAR = 26  # the height of the title bar drawn above a dialog (offscreen windows have no frame)


def with_dialog(window, dialog):
    """The window's picture with ``dialog`` drawn centred over it, under a plain title bar with its title."""
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QColor, QPainter

    picture = window.grab()
    shot = dialog.grab()
    painter = QPainter(picture)
    x = max(0, (picture.width() - shot.width()) // 2)
    y = max(TITLE_BAR, (picture.height() - shot.height() + TITLE_BAR) // 2)
    bar = QRect(x, y - TITLE_BAR, shot.width(), TITLE_BAR)
    painter.fillRect(bar, QColor("#3b4048"))
    painter.setPen(QColor("#e8eaed"))
    painter.drawText(bar.adjusted(10, 0, -10, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                     dialog.windowTitle() or "MedTL")
    painter.drawPixmap(x, y, shot)
    painter.setPen(QColor("#5f6670"))
    painter.drawRect(QRect(x, y - TITLE_BAR, shot.width() - 1, shot.height() + TITLE_BAR - 1))
    painter.end()
    return picture


def main() -> int:
    os.environ["MEDTL_WEIGHTS_DIR"] = tempfile.mkdtemp(prefix="medtl-empty-store-")  # a fresh install
    from screenshot_session import settler, start_app

    from PySide6.QtCore import Qt

    from medtl_gui.core.training.config import TrainConfig
    from medtl_gui.gui.app_settings import app_settings_store
    from medtl_gui.gui.main_window import MainWindow

    app, work = start_app("medtl-first-hour-shots-")
    settle = settler(app)
    trained = False
    for width, height in SIZES:
        app_settings_store().clear()
        window = MainWindow()
        window.resize(width, height)
        window.show()
        window.open_project(work / "demo")
        settle(0.5, until=lambda w=window: w.viewer.scan is not None)

        # Edit ▸ Splits…: shares, grouping and the preview of counts per class and split
        window.window_actions.actions["edit_splits"].trigger()
        dialog = window.splits_dialog
        dialog.resize(dialog.sizeHint())
        settle(1.0)
        with_dialog(window, dialog).save(str(HERE / f"splits_dialog_{width}x{height}.png"))
        dialog.reject()
        settle(0.3)

        # the Quick preset on an empty weight store says which weights it uses and why
        ctl = window.training
        ctl.docks["Training"].raise_()
        # room for the whole Model group (the default gives the Label/Training tabs half the column's height)
        window.resizeDocks([ctl.docks["Training"], window.docks["Segmentation"]], [int(height * 0.62), 150],
                           Qt.Orientation.Vertical)
        panel = ctl.panel
        settle(0.5, until=lambda p=panel: p.summary.training_images("classification") > 0)
        index = panel.preset.findData("quick")
        panel.preset.setCurrentIndex(index)
        panel.preset.activated.emit(index)
        settle(0.5)
        window.grab().save(str(HERE / f"preset_reason_{width}x{height}.png"))

        # Apply model with a model of the demo's 2D grey phantoms: the CT/MR/US images are outside its scope
        if not trained:
            panel.set_config(TrainConfig(model="baseline_cnn", image_size=64, batch_size=8, epochs=3, lr=2e-3,
                                         schedule="onecycle", augmentation="light", seed=0))
            done: list = []
            ctl.session.finished.connect(done.append)
            assert ctl.start_training(), ctl.panel.problems()
            settle(0.5, until=lambda: bool(done), timeout=600)
            trained = True
        settle(0.5, until=lambda c=ctl: any(r.usable_model for r in c.history.runs), timeout=60)
        predicted: list = []
        ctl.prediction_done.connect(predicted.append)
        window.window_actions.actions["apply_model"].trigger()
        settle(0.5, until=lambda: bool(predicted) and ctl.last_prediction_box is not None, timeout=300)
        box = ctl.last_prediction_box
        settle(0.5)
        with_dialog(window, box).save(str(HERE / f"scope_warning_{width}x{height}.png"))
        box.close()
        window.close()
        settle(0.3)
    for width, height in SIZES:
        for name in ("splits_dialog", "preset_reason", "scope_warning"):
            print(HERE / f"{name}_{width}x{height}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
