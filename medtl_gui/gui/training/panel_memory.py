"""What the training panel remembers per project across restarts: its preset, the user's overrides, the time budget.

Kept as JSON in QSettings (``app_settings.load_training_settings``, keyed
by the project folder). Overrides are the preset fields the user changed
after choosing a preset (``core.training.presets.preset_overrides``); on
restore the preset is resolved again for today's weights and data, then the
overrides go on top, so a remembered "Custom" stays exactly what the user
set and a remembered preset follows what is installed now.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from medtl_gui.core.training.presets import PRESETS_BY_NAME, preset_choice, preset_overrides, with_overrides
from medtl_gui.gui.training.form_fields import select
from medtl_gui.core.training.setup_checks import TASK_TITLES

if TYPE_CHECKING:
    from medtl_gui.gui.training.training_panel import TrainingPanel

#: the preset combo's entry for settings of the user's own
CUSTOM = "custom"


def remembered_settings(panel: "TrainingPanel") -> dict[str, Any]:
    """``preset`` (a name or ``custom``), ``based_on`` (the preset applied last), ``task``, ``overrides``, budget."""
    custom = panel.preset.currentData() == CUSTOM
    overrides: dict[str, Any] = {}
    if custom:
        task = panel.task.currentData()
        base = preset_choice(panel.preset_name, task, panel.summary.training_images(task) or None,
                             store=panel.store, runs_dir=panel.runs_dir).config
        overrides = preset_overrides(panel.config(), base)
    return {"preset": CUSTOM if custom else panel.preset_name, "based_on": panel.preset_name,
            "task": panel.task.currentData(), "overrides": overrides,
            "time_budget_minutes": panel.time_budget.value()}


def restore_settings(panel: "TrainingPanel", values: dict[str, Any]) -> None:
    """Show what :func:`remembered_settings` kept; unknown or no longer valid values are skipped."""
    if not values:
        return
    if values.get("task") in TASK_TITLES and values["task"] != panel.task.currentData():
        panel.set_task(values["task"])
    based_on = values.get("based_on")
    panel.apply_preset(based_on if based_on in PRESETS_BY_NAME else "balanced")
    overrides = values.get("overrides")
    if values.get("preset") == CUSTOM and isinstance(overrides, dict) and overrides:
        config = with_overrides(panel.config(), overrides)
        if config is not None:
            panel.set_config(config)
            select(panel.preset, CUSTOM)
    budget = values.get("time_budget_minutes")
    if isinstance(budget, (int, float)) and budget >= 0:
        panel.time_budget.setValue(float(budget))
        panel.epochs.setEnabled(not budget)


def load_project_settings(folder: Path | None) -> dict[str, Any]:
    """What was remembered for the project in ``folder`` (empty for none)."""
    if folder is None:
        return {}
    from medtl_gui.gui.app_settings import load_training_settings

    return load_training_settings(folder)


def remember_settings(panel: "TrainingPanel") -> None:
    """Keep the panel's settings for its project (nothing without a project)."""
    if panel.project_folder is not None:
        from medtl_gui.gui.app_settings import save_training_settings

        save_training_settings(panel.project_folder, remembered_settings(panel))
