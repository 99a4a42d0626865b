"""Resolve a recipe against what is installed: its weights, or the best source there is, with one line saying why.

A fresh install has an empty weight store, so a recipe that starts from
ImageNet weights (``quick``) cannot run as written. :func:`choose_recipe`
never refuses: when the recipe's weights are missing it picks, in order,

1. the recipe's own weights, when the store holds them;
2. this project's in-domain weights: a backbone that ``medtl pretrain``
   (self-supervised SimCLR on the project's images, or supervised) stored
   from a run in this project's ``runs/`` folder, the recipe's architecture
   first, then the newest; the recipe keeps its strategy, at the image size
   the weights were pretrained at;
3. the recipe that suits training from scratch (:data:`FROM_SCRATCH_RECIPE`).

Whatever it picks, batch size and epochs follow the number of labelled
training images (see :mod:`recipes`). The result carries a one-line reason
that the CLI prints and the training panel shows. Settings the user gave
explicitly (``pretrained``) are never replaced. Torch-free.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medtl_gui.core.models.zoo import MODEL_ZOO
from medtl_gui.core.training.config import TrainConfig
from medtl_gui.core.training.recipes import get_recipe, recipe_config, steps_per_epoch

#: what a recipe whose weights are missing falls back to when no in-domain weights exist
FROM_SCRATCH_RECIPE = "balanced"


@dataclass(frozen=True)
class RecipeChoice:
    """A recipe resolved for this install and data.

    ``source``: ``"recipe"`` (as written: its weights are installed, or it
    needs none), ``"in-domain"`` (this project's pretrained weights instead
    of missing ones), ``"scratch"`` (the from-scratch recipe instead), or
    ``"explicit"`` (weights chosen by the user; ``reason`` is empty when
    they are not installed: the run then refuses them with its own message).
    """

    config: TrainConfig
    reason: str
    source: str
    asked: str  # the recipe that was asked for


@dataclass(frozen=True)
class InDomainWeights:
    """A weight-store entry pretrained on this project (see :func:`project_weights`)."""

    name: str
    architecture: str
    method: str  # "self-supervised" | "supervised"
    run_id: str
    image_size: int | None
    created: str


def _notes(entry: Any) -> dict[str, Any]:
    try:
        notes = json.loads(entry.notes or "{}")
    except (TypeError, ValueError):
        return {}
    return notes if isinstance(notes, dict) else {}


def _inside(path: str, folder: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(folder.resolve())
    except (OSError, ValueError):
        return False


def project_weights(store: Any, runs_dir: str | Path | None) -> list[InDomainWeights]:
    """In-domain backbones pretrained by a run in ``runs_dir`` (this project's), newest first."""
    if store is None or runs_dir is None:
        return []
    try:
        entries = list(store.entries())
    except Exception:  # noqa: BLE001 - an unreadable store holds nothing usable
        return []
    found = []
    for entry in entries:
        notes = _notes(entry)
        run_dir = notes.get("run_dir")
        if entry.layout != "medtl-backbone" or entry.architecture not in MODEL_ZOO or not isinstance(run_dir, str):
            continue
        if not _inside(run_dir, Path(runs_dir)):
            continue
        size = notes.get("image_size")
        found.append(InDomainWeights(
            entry.name, entry.architecture,
            "self-supervised" if str(entry.source).startswith("self-supervised") else "supervised",
            Path(run_dir).name, int(size) if isinstance(size, (int, float)) and size >= 16 else None,
            entry.created or ""))
    return sorted(found, key=lambda w: w.created, reverse=True)


def _weights_title(model: str, pretrained: str) -> str:
    spec = MODEL_ZOO.get(model)
    title = spec.title if spec is not None else model
    return f"ImageNet {title}" if pretrained.lower() in ("imagenet", "default") else f"{title} '{pretrained}'"


def _shape(config: TrainConfig, n_train: int | None) -> str:
    if n_train is None:
        return f"batch {config.batch_size}, {config.epochs} epochs"
    steps = steps_per_epoch(n_train, config.batch_size) * config.epochs
    return f"batch {config.batch_size}, {config.epochs} epochs ({steps} steps) for {n_train} training images"


def choose_recipe(name: str, *, store: Any = None, n_train: int | None = None, task: str = "classification",
                  runs_dir: str | Path | None = None, **overrides: Any) -> RecipeChoice:
    """Recipe ``name`` as this install can run it on ``n_train`` images; ``overrides`` win (see module doc).

    ``store``: a :class:`WeightStore` (None: nothing installed).
    ``runs_dir``: the project's runs folder, where its in-domain
    pretraining runs live.
    """
    recipe = get_recipe(name)
    model = overrides.get("model") or recipe.values()["model"]
    wanted = overrides["pretrained"] if "pretrained" in overrides else recipe.values()["pretrained"]
    if wanted in (None, "none"):
        config = recipe_config(name, n_train=n_train, task=task, **overrides)
        how = "no pretrained weights needed" if "pretrained" not in overrides else "from random weights, as chosen"
        return RecipeChoice(config, f"{recipe.title}: trains from scratch, {how}; {_shape(config, n_train)}.",
                            "recipe", name)
    if "pretrained" in overrides:
        config = recipe_config(name, n_train=n_train, task=task, **overrides)
        if store is not None and _missing(store, model, wanted) is not None:
            # the user's own choice is never replaced; the run refuses it with the import command, alone
            return RecipeChoice(config, "", "explicit", name)
        return RecipeChoice(config, f"Starting from {_weights_title(model, wanted)}, as chosen; "
                                    f"{_shape(config, n_train)}.", "explicit", name)
    missing = _missing(store, model, wanted)
    if missing is None:
        config = recipe_config(name, n_train=n_train, task=task, **overrides)
        return RecipeChoice(config, f"{recipe.title}: {_weights_title(model, wanted)} weights from the weight store; "
                                    f"{_shape(config, n_train)}.", "recipe", name)
    lacking = f"{_weights_title(model, wanted)} weights are not installed"
    own = project_weights(store, runs_dir)
    own.sort(key=lambda w: w.architecture != model)  # stable: the recipe's architecture first, newest first
    if own:
        chosen = own[0]
        values = {"model": chosen.architecture, "pretrained": chosen.name}
        if chosen.image_size is not None and "image_size" not in overrides:
            values["image_size"] = chosen.image_size
        config = recipe_config(name, n_train=n_train, task=task, **(values | overrides))
        return RecipeChoice(config, f"{lacking}: using this project's {chosen.method} weights '{chosen.name}' "
                                    f"(run {chosen.run_id}); {_shape(config, n_train)}.", "in-domain", name)
    fallback = get_recipe(FROM_SCRATCH_RECIPE)
    config = recipe_config(FROM_SCRATCH_RECIPE, n_train=n_train, task=task, **overrides)
    return RecipeChoice(config, f"{lacking}: training from scratch with the {fallback.title.split(' (')[0]} "
                                f"recipe's settings; {_shape(config, n_train)}. Import weights to use "
                                f"{recipe.title.split(':')[0]} as written.", "scratch", name)


def _missing(store: Any, model: str, wanted: str) -> str | None:
    """Why ``wanted`` weights for ``model`` cannot be used (None: they can)."""
    if store is None:
        return "no weight store"
    try:
        store.resolve(model, wanted)
    except Exception as exc:  # noqa: BLE001 - MissingWeightsError / WeightsError / unreadable manifest
        return str(exc)
    return None


def choose_recipe_for_data(name: str, data: Any, *, store: Any = None, **overrides: Any) -> RecipeChoice:
    """:func:`choose_recipe` for ``data`` (DataSplits): task from its labels, its training images, its runs folder."""
    from medtl_gui.core.training.recipes import training_image_count

    task = "classification" if data.class_names else "regression"
    val_fraction = float(overrides.get("val_fraction", TrainConfig.val_fraction))
    return choose_recipe(name, store=store, n_train=training_image_count(data, val_fraction), task=task,
                         runs_dir=getattr(data, "runs_dir", None), **overrides)
