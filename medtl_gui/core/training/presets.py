"""The training panel's presets: a core recipe (classification) plus segmentation settings, resolved for this install.

Qt-free so the panel and any other caller agree on what a preset fills.
:func:`preset_choice` resolves a preset against the weight store and the
project's own in-domain weights (see :mod:`recipe_choice`) and says in one
line which weights it uses and why; :func:`preset_config` is its config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medtl_gui.core.training.config import ConfigError, TrainConfig
from medtl_gui.core.training.recipe_choice import RecipeChoice

#: validation predictions the engine sends per epoch to the GUI (ROC curve, confusion-matrix cells)
GUI_VALIDATION_SAMPLES = 4096


@dataclass(frozen=True)
class TrainingPreset:
    """A named starting point of the panel: a core recipe (classification) and segmentation settings."""

    name: str
    title: str
    recipe: str
    segmentation: dict[str, Any]
    description: str


#: segmentation settings shared by the presets (the CLI's default segmentation recipe)
_SEGMENTATION_BASE: dict[str, Any] = {
    "task": "segmentation", "model": "unet_small", "pretrained": None, "strategy": "full", "image_size": 96,
    "batch_size": 16, "lr": 3e-3, "schedule": "onecycle", "warmup_epochs": 0.0, "precision": "auto",
    "foreground_fraction": 0.5, "imbalance": "auto", "threshold_policy": "fixed",
}

PRESETS: tuple[TrainingPreset, ...] = (
    TrainingPreset(
        "quick", "Quick (feature extraction)", "quick",
        _SEGMENTATION_BASE | {"image_size": 64, "epochs": 3, "patches_per_image": 32, "augmentation": "light"},
        "Frozen ImageNet backbone, only a new head trains on cached features. Without the ImageNet weights it "
        "uses this project's in-domain weights, else the Balanced settings. Segmentation: a small U-Net for "
        "3 short epochs.",
    ),
    TrainingPreset(
        "balanced", "Balanced", "balanced",
        _SEGMENTATION_BASE | {"epochs": 4, "patches_per_image": 120, "augmentation": "strong"},
        "ResNet-18 at 64 px, light augmentation, class-weighted loss, epochs and batch adapted to the data: "
        "minutes on a CPU, no pretrained weights needed. Segmentation: the small U-Net recipe of the CLI.",
    ),
    TrainingPreset(
        "best", "Best accuracy", "best",
        _SEGMENTATION_BASE | {"epochs": 40, "patches_per_image": 120, "augmentation": "strong"},  # = medtl train's
        "Longer training at 96 px with standard augmentation (4-5x the compute of Balanced); "
        "for a GPU or an overnight CPU run.",
    ),
)
PRESETS_BY_NAME: dict[str, TrainingPreset] = {p.name: p for p in PRESETS}


def get_preset(name: str) -> TrainingPreset:
    """The preset called ``name``; :class:`ConfigError` naming the available ones otherwise."""
    try:
        return PRESETS_BY_NAME[name]
    except KeyError:
        raise ConfigError("preset", f"unknown preset {name!r}; available: {', '.join(PRESETS_BY_NAME)}") from None


def preset_choice(name: str, task: str = "classification", n_train: int | None = None, *, store: Any = None,
                  runs_dir: str | Path | None = None, **overrides: Any) -> RecipeChoice:
    """Preset ``name`` for ``task`` as this install can run it on ``n_train`` images, with the reason."""
    from medtl_gui.core.tasks import task_named

    return task_named(task).preset_choice(get_preset(name), task, n_train, store=store, runs_dir=runs_dir,
                                          **overrides)


def preset_config(name: str, task: str = "classification", n_train: int | None = None, *, store: Any = None,
                  runs_dir: str | Path | None = None, **overrides: Any) -> TrainConfig:
    """The config preset ``name`` fills for ``task`` (see :func:`preset_choice`)."""
    return preset_choice(name, task, n_train, store=store, runs_dir=runs_dir, **overrides).config


#: settings that are not part of a preset: changing them keeps the preset, applying a preset keeps them
NOT_PRESET_FIELDS = ("device", "seed", "time_budget_minutes", "num_workers")


def preset_overrides(config: TrainConfig, preset: TrainConfig) -> dict[str, Any]:
    """The settings of ``config`` that differ from ``preset`` (what a user changed after choosing it)."""
    mine, base = config.to_dict(), preset.to_dict()
    return {key: value for key, value in mine.items()
            if key not in NOT_PRESET_FIELDS and key != "recipe" and base.get(key) != value}


def with_overrides(config: TrainConfig, overrides: dict[str, Any]) -> TrainConfig | None:
    """``config`` with remembered ``overrides`` applied; None when they no longer make a valid config."""
    known = {key: value for key, value in overrides.items() if key in config.to_dict()}
    try:
        return TrainConfig.from_dict(config.to_dict() | known | {"recipe": None}, origin="remembered settings")
    except (ConfigError, TypeError, ValueError):
        return None
