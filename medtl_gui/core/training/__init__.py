"""The training engine: one ``train(config, data, events, control)`` for the GUI and the CLI.

Light names (``TrainConfig``, ``RunControl``, events, strategies, recipes) import
without torch; ``train`` and ``RunResult`` load the engine (and torch) on
first use.
"""

from __future__ import annotations

from typing import Any

from medtl_gui.core.training.config import ConfigError, TrainConfig
from medtl_gui.core.training.control import RunControl
from medtl_gui.core.training.events import (
    BatchEnd,
    EpochEnd,
    Event,
    EventSink,
    Message,
    RunFailed,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    ValidationSample,
    ValidationSamples,
)
from medtl_gui.core.training.recipes import DEFAULT_RECIPE, RECIPES, Recipe, list_recipes, recipe_config
from medtl_gui.core.training.strategies import STRATEGIES, Strategy, get_strategy, list_strategies

_LAZY = {"train": "engine", "RunResult": "engine"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"medtl_gui.core.training.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "STRATEGIES",
    "BatchEnd",
    "ConfigError",
    "DEFAULT_RECIPE",
    "EpochEnd",
    "Event",
    "EventSink",
    "Message",
    "RECIPES",
    "Recipe",
    "RunControl",
    "RunFailed",
    "RunFinished",
    "RunPaused",
    "RunResult",
    "RunResumed",
    "RunStarted",
    "Strategy",
    "TrainConfig",
    "ValidationSample",
    "ValidationSamples",
    "get_strategy",
    "list_recipes",
    "list_strategies",
    "recipe_config",
    "train",
]
