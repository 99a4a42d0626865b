"""The first hour in the app, from a fresh install with an empty weight store, only through the window.

Create a project in a folder that does not exist yet, import a class-folder
tree through the import dialog and see the splits it made, import a few
unlabelled scans, start the *Quick* preset (its weights are missing: it says
so and trains from scratch), let it finish, apply the model, confirm a
suggestion with Enter, undo it with Ctrl+Z, and open the report, which shows
its location where no browser is registered. No Python-API shortcut: file
dialogs are answered, menus triggered, buttons clicked, keys pressed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from test_gui_segmentation import show

RUN_TIMEOUT_MS = 300_000


def _scans(root: Path) -> tuple[Path, list[Path]]:
    """A class-folder tree (normal: dark disc, lesion: bright blob) and 4 loose unlabelled scans."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[:32, :32]

    def scan(lesion: bool) -> Image.Image:
        pixels = rng.normal(60, 10, (32, 32))
        centre = (10, 22) if lesion else (16, 16)
        pixels[(yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 < 40] = 230 if lesion else 90
        return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))

    tree = root / "by-class"
    for name in ("normal", "lesion"):
        (tree / name).mkdir(parents=True)
        for k in range(14):
            scan(name == "lesion").save(tree / name / f"{name}_{k:02d}.png")
    loose = root / "new-scans"
    loose.mkdir()
    files = []
    for k in range(4):
        path = loose / f"unread_{k}.png"
        scan(k % 2 == 1).save(path)
        files.append(path)
    return tree, files


def _answer(monkeypatch, name: str, value) -> None:
    monkeypatch.setattr(QFileDialog, name, lambda *args, **kwargs: value)


def test_the_first_hour_from_an_empty_weight_store(qtbot, isolated_settings, tmp_path, monkeypatch) -> None:
    from medtl_gui.gui.main_window import MainWindow

    monkeypatch.setenv("MEDTL_WEIGHTS_DIR", str(tmp_path / "fresh-install-weights"))
    tree, loose = _scans(tmp_path / "scans")
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1440, 900)
    win.show()
    actions = win.window_actions.actions

    # 1. File ▸ New project in a folder that does not exist yet
    folder = tmp_path / "projects" / "chest"
    _answer(monkeypatch, "getSaveFileName", (str(folder), ""))
    with qtbot.waitSignal(win.project_ready, timeout=20_000):
        actions["new_project"].trigger()
    assert (folder / "project.sqlite").is_file()

    # 2. File ▸ Import folder: the class tree; the import dialog shows the splits it made
    _answer(monkeypatch, "getExistingDirectory", str(tree))
    actions["import_folder"].trigger()
    qtbot.waitUntil(lambda: win.last_import_summary is not None, timeout=60_000)
    summary = win.last_import_summary
    assert "28 image(s) assigned" in summary.text()
    for split in ("train", "val", "test"):
        assert summary.split_count(split, "lesion") >= 1 and summary.split_count(split, "normal") >= 1
    qtbot.waitUntil(lambda: win.viewer.scan is not None, timeout=20_000)  # the first image is on screen
    summary.close()
    win.last_import_summary = None

    # ... and File ▸ Import files: four scans nobody has labelled yet
    _answer(monkeypatch, "getOpenFileNames", ([str(p) for p in loose], ""))
    actions["import_files"].trigger()
    qtbot.waitUntil(lambda: win.last_import_summary is not None, timeout=60_000)
    win.last_import_summary.close()
    unlabelled = [r.id for r in win.project.images(unlabelled=True)]
    assert len(unlabelled) == 4

    # 3. the Quick preset on an empty weight store: it says why it trains from scratch, and runs
    ctl = win.training
    panel = ctl.panel
    qtbot.waitUntil(lambda: panel.summary.training_images("classification") > 0, timeout=20_000)
    panel.preset.setCurrentIndex(panel.preset.findData("quick"))
    panel.preset.activated.emit(panel.preset.currentIndex())
    assert "not installed" in panel.weights_reason.text() and "from scratch" in panel.weights_reason.text()
    with qtbot.waitSignal(ctl.session.finished, timeout=RUN_TIMEOUT_MS) as finished:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        assert ctl.session.running, "Quick must start on a fresh install"
        assert win.viewer.isVisible(), "the viewer stays on screen while the run trains"
    outcome = finished.args[0]
    assert outcome.status == "completed", outcome.error
    assert panel.preset.currentData() == "quick"
    headline = ctl.monitor.headline.text()
    assert "balanced accuracy" in headline and "recall lesion" in headline and "threshold" in headline

    # 4. Train ▸ Apply model: suggestions for the unlabelled scans, with a summary
    qtbot.waitUntil(lambda: any(r.usable_model for r in ctl.history.runs), timeout=20_000)
    with qtbot.waitSignal(ctl.prediction_done, timeout=RUN_TIMEOUT_MS) as done:
        actions["apply_model"].trigger()
    assert set(done.args[0].proposals) == set(unlabelled)
    assert "Predicted: 4 of 4 image(s)" in ctl.last_prediction_box.text()
    ctl.last_prediction_box.close()

    # 5. confirm a suggestion with Enter, then undo it with Ctrl+Z
    image_id = unlabelled[0]
    suggested = win.project.proposal(image_id).class_name
    show(qtbot, win, image_id)
    qtbot.keyClick(win, Qt.Key.Key_Return)
    assert win.project.label(image_id).class_name == suggested
    qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert win.project.label(image_id) is None or win.project.label(image_id).class_name is None
    assert win.project.proposal(image_id) is not None, "the model's suggestion stays to be reviewed again"

    # 6. Run history ▸ Report…: no browser here, so a dialog says where the report is
    history = ctl.history
    history.reports.opener = lambda path: False  # what an offscreen desktop answers, made explicit
    assert history.select_run(Path(outcome.run_dir).name)
    with qtbot.waitSignal(history.reports.location_shown, timeout=RUN_TIMEOUT_MS) as shown:
        history.buttons["report"].click()
    dialog = shown.args[0]
    assert dialog.isVisible() and Path(dialog.path_label.text()).is_file()
    assert Path(dialog.path_label.text()).parent == Path(outcome.run_dir)
    dialog.close()
    win.close()
