"""The training panel on a fresh install: presets say which weights they use and why, run, never turn
"Custom" by themselves, and the panel's settings come back after a restart."""

from __future__ import annotations

from PySide6.QtCore import Qt


def _choose_preset(panel, name: str) -> None:
    """As the user does: pick the preset in the combo box."""
    index = panel.preset.findData(name)
    panel.preset.setCurrentIndex(index)
    panel.preset.activated.emit(index)


def test_quick_on_an_empty_weight_store_explains_its_choice_and_starts(qtbot, main_window, tmp_path):
    ctl = main_window.training
    ctl.set_weight_store_folder(str(tmp_path / "empty-store"))
    panel = ctl.panel
    ctl.refresh_summary(background=False)
    _choose_preset(panel, "quick")
    reason = panel.weights_reason.text()
    assert "ImageNet ResNet-18 weights are not installed" in reason and "from scratch" in reason
    assert panel.import_button.isVisibleTo(panel)
    n_train = panel.summary.training_images("classification")
    assert panel.batch_size.value() <= n_train and panel.epochs.value() >= 10  # sized for the few images
    assert panel.preset.currentData() == "quick"
    with qtbot.waitSignal(ctl.session.finished, timeout=120_000):
        assert ctl.start_training(), "Quick must not be refused on a fresh install"
        ctl.session.stop()  # the point is that it starts; a full run is not needed here
    assert panel.preset.currentData() == "quick"


def test_a_refused_start_keeps_the_preset_and_only_an_edit_makes_it_custom(qtbot, main_window, tmp_path):
    win = main_window
    ctl = win.training
    ctl.set_weight_store_folder(str(tmp_path / "empty-store"))
    panel = ctl.panel
    for record in win.project.images(split="train"):
        if record.label == "lesion":
            win.project.set_label(record.id, None, origin="human")
    ctl.refresh_summary(background=False)
    _choose_preset(panel, "best")
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)  # refused: too few labels
    assert not ctl.session.running and "Too few labels" in ctl.last_error_dialog.text()
    ctl.last_error_dialog.close()
    assert panel.preset.currentData() == "best", "a refused Start must not turn the preset into Custom"
    panel.time_budget.setValue(5)  # not a preset field
    panel.seed.setValue(3)
    assert panel.preset.currentData() == "best"
    panel.lr.setValue(0.01)  # the user's own edit of a preset field
    assert panel.preset.currentData() == "custom"


def test_preset_overrides_and_time_budget_are_remembered_per_project(qtbot, isolated_settings, tmp_path):
    from medtl_gui.gui.training.panel_memory import remember_settings
    from medtl_gui.gui.training.training_panel import TrainingPanel

    first = TrainingPanel()
    qtbot.addWidget(first)
    first.set_project_folder(tmp_path / "project-a")
    _choose_preset(first, "best")
    first.augmentation.setCurrentIndex(first.augmentation.findData("strong"))  # -> Custom, based on Best
    first.time_budget.setValue(12)
    remember_settings(first)
    other = TrainingPanel()
    qtbot.addWidget(other)
    other.set_project_folder(tmp_path / "project-b")  # another project: its own (no) settings
    assert other.preset.currentData() == "balanced" and other.time_budget.value() == 0

    again = TrainingPanel()  # after a restart
    qtbot.addWidget(again)
    again.set_project_folder(tmp_path / "project-a")
    assert again.preset.currentData() == "custom" and again.preset_name == "best"
    config = again.config()
    assert (config.augmentation, config.image_size, config.time_budget_minutes) == ("strong", 96, 12)
    assert not again.epochs.isEnabled(), "the time budget chooses the epochs"
