"""Edit ▸ Splits… and the import dialog's split table, driven through the real window's widgets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QPoint, Qt


def store_splits(project) -> dict[int, str]:
    return {record.id: record.split or "" for record in project.images()}


def test_splits_dialog_previews_applies_and_refreshes_the_browser(qtbot, main_window) -> None:
    window = main_window
    project = window.project
    before = store_splits(project)
    window.window_actions.actions["edit_splits"].trigger()
    dialog = window.splits_dialog
    assert dialog.isVisible() and dialog.val_spin.value() == 15
    qtbot.waitUntil(lambda: dialog.last_preview is not None, timeout=5000)
    val_before = dialog.cell("val", "Total")
    assert val_before == project.info()["splits"]["val"]["images"]  # the preview starts at what the store has

    qtbot.waitExposed(dialog)
    qtbot.mouseClick(dialog.reassign, Qt.MouseButton.LeftButton, pos=QPoint(6, dialog.reassign.height() // 2))
    assert dialog.reassign.isChecked()
    dialog.val_spin.setFocus()
    dialog.val_spin.selectAll()
    qtbot.keyClicks(dialog.val_spin, "40")
    qtbot.waitUntil(lambda: dialog.cell("val", "Total") > val_before, timeout=5000)
    previewed = {split: dialog.cell(split, "Total") for split in ("train", "val", "test")}
    assert store_splits(project) == before  # the preview writes nothing

    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Applied" in dialog.note.text(), timeout=10000)
    info = project.info()["splits"]
    assert {split: info[split]["images"] for split in previewed} == previewed
    assert project.split_settings().val_fraction == 0.4
    assert store_splits(project) != before
    assert any(e.action == "split" for r in project.images() for e in project.history(r.id)[-1:])
    qtbot.waitUntil(lambda: {row.image_id: row.split for row in window.browser.model.rows} == store_splits(project),
                    timeout=10000)
    assert not dialog.reassign.isChecked() and dialog.cell("val", "Total") == previewed["val"]


def test_shares_that_leave_no_training_images_disable_apply(qtbot, main_window) -> None:
    main_window.window_actions.actions["edit_splits"].trigger()
    dialog = main_window.splits_dialog
    qtbot.waitUntil(dialog.apply_button.isEnabled, timeout=5000)
    dialog.val_spin.setValue(60)
    dialog.test_spin.setValue(40)
    qtbot.waitUntil(lambda: "below 100 %" in dialog.note.text(), timeout=5000)
    assert not dialog.apply_button.isEnabled()
    dialog.test_spin.setValue(10)
    qtbot.waitUntil(dialog.apply_button.isEnabled, timeout=5000)


def test_import_dialog_shows_the_split_it_made(qtbot, main_window, tmp_path: Path) -> None:
    window = main_window
    rng = np.random.default_rng(1)
    for name in ("effusion", "nodule"):
        (tmp_path / "tree" / name).mkdir(parents=True)
        for k in range(7):
            Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8)).save(tmp_path / "tree" / name / f"{k}.png")
    window.import_paths([str(tmp_path / "tree")])
    qtbot.waitUntil(lambda: getattr(window, "last_import_summary", None) is not None, timeout=30000)
    box = window.last_import_summary
    assert "14 image(s) assigned" in box.text() and "Edit ▸ Splits" in box.text()
    assert box.splits_table.isVisibleTo(box)
    info = window.project.info()["splits"]
    for split in ("train", "val", "test"):
        assert box.split_count(split) == info[split]["images"]
        assert box.split_count(split, "nodule") == info[split]["classes"]["nodule"]
    assert info["unassigned"]["images"] == 0
