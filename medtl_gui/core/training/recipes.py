"""Named training recipes: complete, measured sets of settings that ``medtl train`` starts from.

A recipe fills every setting that matters for speed and accuracy (model,
starting weights, strategy, image size, batch size, learning rate and
schedule, epochs, augmentation, precision, threshold policy); explicit
options (command line, GUI) then override single fields. The run's
``config.json`` records the recipe's name in ``TrainConfig.recipe``.

- ``balanced`` (the default): ResNet-18 trained from scratch at 64 px,
  bf16 autocast + channels-last where the CPU/GPU supports it, batch 128,
  AdamW lr 2e-3 with a one-cycle schedule, light augmentation,
  class-weighted loss on imbalanced data, threshold 0.5. Needs no
  pretrained weights (air-gapped installs may have none) and finishes
  PneumoniaMNIST (3.9k training images) in a few minutes on a 2-core CPU;
  see ``benchmarks/RESULTS.md`` for its measured accuracy.
- ``quick``: feature extraction on ImageNet ResNet-18 features at 128 px
  (backbone features are computed once and cached, so epochs cost almost
  nothing); needs the ImageNet weights in the weight store, or
  ``--pretrained NAME`` with in-domain weights. Not benchmarked here (the
  development machine has no ImageNet weights); MedMNIST+ reports a linear
  probe on frozen ImageNet ResNet-18 features at AUC 0.969 / ACC 0.832 on
  PneumoniaMNIST (224 px).
- ``best``: the balanced recipe trained longer (24 epochs) at 96 px with the
  standard augmentation: 4.5x the compute of ``balanced``; on PneumoniaMNIST
  (one seed) test AUC 0.974 and balanced accuracy 0.920, against 0.960 and
  0.887 (mean of three seeds) for ``balanced``.

Recipes adapt to small data (:func:`adapted_batch_size`,
:func:`adapted_epochs`): each recipe was measured on PneumoniaMNIST's 3.9k
training images, where it makes ``min_steps`` optimizer steps. On fewer
images

- the batch shrinks so an epoch has about :data:`STEPS_PER_EPOCH` (8)
  steps: the largest power of two <= n_train / 8, but not below
  :data:`MIN_ADAPTED_BATCH` (16, for batch-norm statistics) and never above
  the recipe's batch or the training images (rounded down to a power of
  two, at least 2);
- the epochs grow until the run makes the recipe's ``min_steps`` again
  (``ceil(min_steps / steps per epoch)``), never fewer than the recipe's
  epochs and at most its ``max_epochs``.

E.g. Balanced on 500 images: batch 32, 16 steps per epoch, 19 epochs (300
steps); on 40 images: batch 16, 50 epochs (the cap). Explicit settings
(``batch_size``, ``epochs``) always win. A time budget
(``time_budget_minutes``) replaces the epochs again, from measured speed
(see :mod:`time_budget`).

Decision threshold: every recipe keeps the fixed 0.5. With a class-weighted
loss the two classes weigh equally, so 0.5 already sits near the balanced
operating point. Youden's J on the validation split was measured against it
on PneumoniaMNIST (``benchmarks/bench_pneumonia.py --seeds 3``): on the
validation split itself it helps a little (balanced accuracy 0.974 vs
0.966), but the thresholds it picks vary from seed to seed (0.17 to 0.52)
and on the test split it lowered accuracy from 0.908 to 0.888 and balanced
accuracy from 0.887 to 0.858: the validation split's class mix (26% normal)
matches neither training (10%) nor test (38%), and a threshold fitted to it
does not carry over. ``threshold_policy="youden"`` remains available.

Torch-free, like :mod:`config`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medtl_gui.core.data.labelled_images import DataSplits
from medtl_gui.core.training.config import ConfigError, TrainConfig

DEFAULT_RECIPE = "balanced"

#: settings every recipe shares unless it says otherwise
_COMMON: dict[str, Any] = {
    "model": "resnet18",
    "pretrained": None,
    "strategy": "full",
    "optimizer": "adamw",
    "weight_decay": 1e-4,
    "imbalance": "auto",
    "precision": "auto",
    "channels_last": None,
    "threshold_policy": "fixed",
    "threshold": 0.5,
    "monitor": "auto",
}


@dataclass(frozen=True)
class Recipe:
    """A named, documented set of :class:`TrainConfig` values."""

    name: str
    title: str
    description: str
    settings: dict[str, Any] = field(default_factory=dict)
    #: optimizer steps the recipe makes on the data it was measured on (small data gets more epochs to match)
    min_steps: int = 0
    #: the most epochs small data may raise the recipe to
    max_epochs: int = 50

    def values(self) -> dict[str, Any]:
        """Every setting the recipe fixes (common ones included)."""
        return _COMMON | self.settings


_RECIPES: tuple[Recipe, ...] = (
    Recipe(
        "quick",
        "Quick: feature extraction",
        "Frozen ImageNet ResNet-18 at 128 px, only a new head trains on cached features: the first "
        "epoch computes the features, later ones take seconds. Needs pretrained weights.",
        {"pretrained": "imagenet", "strategy": "feature_extraction", "image_size": 128, "batch_size": 64,
         "lr": 1e-3, "schedule": "cosine", "warmup_epochs": 0.0, "epochs": 30, "augmentation": "none"},
        min_steps=1800, max_epochs=60,
    ),
    Recipe(
        "balanced",
        "Balanced (default)",
        "ResNet-18 from scratch at 64 px, bf16 + channels-last where supported, batch 128, AdamW "
        "lr 2e-3 one-cycle, 10 epochs, light augmentation, class-weighted loss, threshold 0.5. "
        "No pretrained weights needed; minutes on a laptop CPU.",
        {"image_size": 64, "batch_size": 128, "lr": 2e-3, "schedule": "onecycle", "warmup_epochs": 0.0,
         "epochs": 10, "augmentation": "light"},
        min_steps=300, max_epochs=50,
    ),
    Recipe(
        "best",
        "Best: longer and larger",
        "The balanced recipe at 96 px with standard augmentation for 24 epochs (about 4.5x its "
        "compute); for a GPU or a longer CPU run.",
        {"image_size": 96, "batch_size": 128, "lr": 2e-3, "schedule": "onecycle", "warmup_epochs": 0.0,
         "epochs": 24, "augmentation": "standard"},
        min_steps=720, max_epochs=120,
    ),
)

RECIPES: dict[str, Recipe] = {r.name: r for r in _RECIPES}


def recipe_problems(config: TrainConfig) -> list[tuple[str, str]]:
    """("recipe", reason) when ``config`` names a recipe that does not exist (checked by the tasks)."""
    if config.recipe is None or config.recipe in RECIPES:
        return []
    return [("recipe", f"unknown recipe {config.recipe!r}; available: {', '.join(RECIPES)}")]


def list_recipes() -> list[Recipe]:
    """All recipes, quickest first."""
    return list(_RECIPES)


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; :class:`ConfigError` naming the available ones otherwise."""
    try:
        return RECIPES[name]
    except KeyError:
        raise ConfigError("recipe", f"unknown recipe {name!r}; available: {', '.join(RECIPES)}") from None


def batch_size_for(wanted: int, n_train: int | None) -> int:
    """``wanted``, or for fewer training images the largest power of two <= ``n_train`` (at least 2)."""
    if n_train is None or n_train >= wanted:
        return wanted
    size = 2
    while size * 2 <= n_train:
        size *= 2
    return size


#: small data: the batch shrinks so that an epoch has about this many optimizer steps
STEPS_PER_EPOCH = 8
#: ... but not below this batch (batch-norm statistics get noisy below it)
MIN_ADAPTED_BATCH = 16


def adapted_batch_size(wanted: int, n_train: int | None) -> int:
    """The recipe's batch for ``n_train`` images: about :data:`STEPS_PER_EPOCH` steps per epoch (see module doc)."""
    if n_train is None:
        return wanted
    target = batch_size_for(wanted, max(1, n_train // STEPS_PER_EPOCH))
    return batch_size_for(min(wanted, max(MIN_ADAPTED_BATCH, target)), n_train)


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimizer steps in one epoch over ``n_train`` images (the loaders drop a last batch of one image)."""
    if n_train > batch_size and n_train % batch_size == 1:
        return n_train // batch_size
    return max(1, -(-n_train // batch_size))


def adapted_epochs(recipe: Recipe, n_train: int | None, batch_size: int) -> int:
    """The recipe's epochs, raised on small data until it makes ``recipe.min_steps`` steps (at most ``max_epochs``)."""
    epochs = int(recipe.values()["epochs"])
    if n_train is None or recipe.min_steps <= 0:
        return epochs
    needed = -(-recipe.min_steps // steps_per_epoch(n_train, batch_size))
    return max(epochs, min(recipe.max_epochs, needed))


def recipe_config(name: str = DEFAULT_RECIPE, *, n_train: int | None = None, task: str = "classification",
                  **overrides: Any) -> TrainConfig:
    """A validated :class:`TrainConfig` from recipe ``name``, adapted to ``n_train`` training images.

    ``overrides`` are explicit settings (e.g. from the command line); they
    win over the recipe, including ``batch_size`` and ``epochs``.
    """
    recipe = get_recipe(name)
    values = TrainConfig().to_dict() | recipe.values() | {"recipe": recipe.name, "task": task}
    values["batch_size"] = adapted_batch_size(int(values["batch_size"]), n_train)
    values["epochs"] = adapted_epochs(recipe, n_train, int(overrides.get("batch_size") or values["batch_size"]))
    values |= overrides
    return TrainConfig.from_dict(values, origin=f"recipe {name!r}")


def training_image_count(data: DataSplits, val_fraction: float) -> int:
    """How many images a run on ``data`` trains on (part of train is held out when there is no val split)."""
    n = len(data.train)
    if data.val is None or len(data.val) == 0:
        n -= max(1, round(n * val_fraction)) if n >= 4 else 0
    return max(1, n)


def recipe_for_data(name: str, data: DataSplits, **overrides: Any) -> TrainConfig:
    """:func:`recipe_config` for ``data``: task from its labels, batch size from its training images."""
    task = "classification" if data.class_names else "regression"
    val_fraction = float(overrides.get("val_fraction", TrainConfig.val_fraction))
    return recipe_config(name, n_train=training_image_count(data, val_fraction), task=task, **overrides)
