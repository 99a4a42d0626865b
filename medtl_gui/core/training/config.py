"""``TrainConfig``: everything that defines a training run, as a JSON round-trippable dataclass.

Settings are copied into a config before a run starts (the GUI's worker
never reads widgets); the run folder stores the exact config it used.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from medtl_gui.core.data.augmentation import AUGMENTATION_PRESETS
from medtl_gui.core.data.sampling import IMBALANCE_MODES
from medtl_gui.core.evaluation.thresholds import THRESHOLD_POLICIES

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = {
    "cosine": "linear warm-up, then cosine decay to zero",
    "onecycle": "one-cycle: warm-up from lr/25 to lr, then cosine decay to lr/1e4",
    "constant": "linear warm-up, then constant",
}
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
RETENTIONS = ("none", "l2sp", "lwf")
REGRESSION_LOSSES = ("mse", "mae")
#: domain adaptation methods (see medtl_gui.core.training.domain_adaptation)
DOMAIN_ADAPTATIONS = ("none", "adabn", "dsbn", "dann")


class ConfigError(ValueError):
    """An invalid training configuration; names the setting and the reason."""

    def __init__(self, key: str, reason: str, origin: str | None = None):
        self.key = key
        self.reason = reason
        where = f"{origin}: " if origin else ""
        super().__init__(f"{where}config '{key}': {reason}")


@dataclass
class TrainConfig:
    """One training run's settings (see each field's comment).

    ``None`` means "decide from the model, strategy or data" and is
    resolved when the run starts; the resolved values are recorded in the
    run folder.
    """

    # model and starting weights
    model: str = "resnet18"
    pretrained: str | None = None  # None/"none": random init; "imagenet"; or a weight-store name
    task: str = "classification"
    head_dropout: float = 0.0
    image_size: int | None = None  # None: the model's input size
    in_channels: int | None = None  # None: 1 for grey data, 3 for colour
    # transfer-learning strategy (see medtl_gui.core.training.strategies)
    strategy: str = "full"
    trainable_stages: int = 2  # finetune_last_n: how many stages below the head train
    unfreeze_every: int = 1  # gradual_unfreezing: epochs between unfreezing one more stage
    lr_decay: float | None = None  # discriminative LR factor per stage from the head; None: strategy default
    retention: str | None = None  # "none" | "l2sp" | "lwf"; None: strategy default
    alpha: float | None = None  # weight of L_pre (retention); None: 0.01 for l2sp, 1.0 for lwf
    beta: float = 1.0  # weight of L_new (the task loss)
    lwf_temperature: float = 2.0
    cache_features: bool = True  # feature_extraction: compute backbone features once
    # optimisation
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9  # SGD only
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    regression_loss: str = "mse"
    # data
    augmentation: str = "light"
    imbalance: str = "auto"
    val_fraction: float = 0.15  # held out of train when the data has no validation split
    # segmentation only (see segmentation_config.py; image_size is the patch size)
    patches_per_image: int = 16  # random training patches per image and epoch
    foreground_fraction: float = 0.5  # share of patches centred on a labelled pixel
    sliding_window_overlap: float = 0.5  # overlap of the windows that predict whole images
    colour_channel: str = "all"  # "all", or one channel of colour images ("green" for fundus photographs)
    contrast: str = "none"  # "none" | "clahe": contrast-limited adaptive histogram equalisation of the input
    input_scale: float = 1.0  # the network sees images resampled by this factor (e.g. 1.5 widens thin vessels)
    base_channels: int | None = None  # plain U-Nets: width of the first level (None: the architecture's)
    dice_weight: float = 1.0  # loss = dice_weight * Dice + cross-entropy
    # domain adaptation (see domain_adaptation.py): target images come from a project's images marked
    # with domain ``target_domain``, or from ``medtl train --target-data FILE.npz`` (used unlabelled)
    domain_adaptation: str = "none"  # "none" | "adabn" | "dsbn" | "dann"
    target_domain: str = "target"
    dann_weight: float = 1.0  # DANN: weight of the domain loss (the reversal strength follows the lambda schedule)
    # selection and stopping
    monitor: str = "auto"  # "auto": val_auc (classification) or val_mae; or val_loss, val_<metric>
    early_stopping_patience: int | None = None
    # time budget (see time_budget.py): the engine times a short probe and chooses epochs (and, with a
    # recipe's image size, maybe a larger one) so the run ends within this many minutes; None or 0: off
    time_budget_minutes: float | None = None
    threshold_policy: str = "fixed"
    threshold: float = 0.5
    # execution
    seed: int = 0
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N" | "mps"
    precision: str = "auto"  # "auto": bf16 where the CPU/GPU supports it, else fp32
    channels_last: bool | None = None  # None: on when autocast is used on a CPU or CUDA
    num_workers: int | None = None  # DataLoader workers; None: automatic (0 on a CPU, up to 8 on a GPU)
    validation_samples: int = 8  # predictions sent with each ValidationSamples event
    recipe: str | None = None  # the recipe (see recipes.py) this config started from; None: set by hand

    # ------------------------------------------------------------ validation
    def validate(self, origin: str | None = None) -> "TrainConfig":
        """Raise :class:`ConfigError` for the first invalid setting; returns ``self``."""

        def need(condition: bool, key: str, reason: str) -> None:
            if not condition:
                raise ConfigError(key, reason, origin)

        from medtl_gui.core.tasks import registered_tasks, task_named, task_names
        from medtl_gui.core.training.strategies import STRATEGIES

        need(self.task in task_names(), "task", f"must be one of {', '.join(task_names())}")
        need(self.strategy in STRATEGIES, "strategy",
             f"unknown strategy {self.strategy!r}; available: {', '.join(STRATEGIES)}")
        need(self.retention is None or self.retention in RETENTIONS, "retention", f"must be one of {', '.join(RETENTIONS)}")
        need(self.optimizer in OPTIMIZERS, "optimizer", f"must be one of {', '.join(OPTIMIZERS)}")
        need(self.schedule in SCHEDULES, "schedule", f"must be one of {', '.join(SCHEDULES)}")
        need(self.precision in PRECISIONS, "precision", f"must be one of {', '.join(PRECISIONS)}")
        need(self.augmentation in AUGMENTATION_PRESETS, "augmentation",
             f"must be one of {', '.join(AUGMENTATION_PRESETS)}")
        need(self.imbalance in IMBALANCE_MODES, "imbalance", f"must be one of {', '.join(IMBALANCE_MODES)}")
        need(self.threshold_policy in THRESHOLD_POLICIES, "threshold_policy",
             f"must be one of {', '.join(THRESHOLD_POLICIES)}")
        need(self.regression_loss in REGRESSION_LOSSES, "regression_loss", f"must be one of {', '.join(REGRESSION_LOSSES)}")
        need(isinstance(self.epochs, int) and self.epochs >= 1, "epochs", f"must be an integer >= 1, got {self.epochs!r}")
        need(isinstance(self.batch_size, int) and self.batch_size >= 1, "batch_size", f"must be >= 1, got {self.batch_size!r}")
        need(self.lr > 0, "lr", f"must be > 0, got {self.lr}")
        need(self.weight_decay >= 0, "weight_decay", "must be >= 0")
        need(0 <= self.head_dropout < 1, "head_dropout", "must be in [0, 1)")
        need(0 <= self.label_smoothing < 1, "label_smoothing", "must be in [0, 1)")
        need(0 <= self.warmup_epochs <= self.epochs, "warmup_epochs", f"must be between 0 and epochs ({self.epochs})")
        need(self.lr_decay is None or 0 < self.lr_decay <= 1, "lr_decay", "must be in (0, 1]")
        need(self.alpha is None or self.alpha >= 0, "alpha", "must be >= 0")
        need(self.beta >= 0, "beta", "must be >= 0")
        need(self.lwf_temperature > 0, "lwf_temperature", "must be > 0")
        need(self.trainable_stages >= 0, "trainable_stages", "must be >= 0")
        need(self.unfreeze_every >= 1, "unfreeze_every", "must be >= 1")
        need(self.image_size is None or self.image_size >= 16, "image_size", "must be at least 16 px")
        need(self.in_channels in (None, 1, 3), "in_channels", "must be 1, 3 or null")
        need(0 < self.val_fraction < 1, "val_fraction", "must be between 0 and 1")
        need(self.early_stopping_patience is None or self.early_stopping_patience >= 1,
             "early_stopping_patience", "must be >= 1 or null")
        need(0 < self.threshold < 1, "threshold", "must be between 0 and 1")
        need(self.time_budget_minutes is None or self.time_budget_minutes >= 0, "time_budget_minutes",
             "must be >= 0 minutes (0 or null: no time budget)")
        need(self.num_workers is None or self.num_workers >= 0, "num_workers", "must be >= 0 or null (automatic)")
        need(self.validation_samples >= 0, "validation_samples", "must be >= 0")
        need(self.domain_adaptation in DOMAIN_ADAPTATIONS, "domain_adaptation",
             f"must be one of {', '.join(DOMAIN_ADAPTATIONS)}")
        need(bool(self.target_domain) and self.target_domain != "source", "target_domain",
             "must name a domain other than 'source' (the default domain of every image)")
        need(self.dann_weight >= 0, "dann_weight", "must be >= 0")
        need(self.monitor == "auto" or self.monitor.startswith(("val_", "train_")), "monitor",
             "must be 'auto' or a metric name such as val_auc, val_loss, val_balanced_accuracy")
        for task in registered_tasks():  # a task's own settings: every other task leaves them at their defaults
            for key, default in task.config_section.items():
                need(self.task in task.names or getattr(self, key) == default, key,
                     f"applies to {task.title.lower()} runs only")
        for key, reason in task_named(self.task).config_problems(self):  # the task's section, checked once
            need(False, key, reason)
        return self

    # ------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)

    def to_json(self) -> str:
        """The config as indented JSON."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str | None = None) -> "TrainConfig":
        """Build and validate from a dict; unknown keys are an error (typos must not pass silently)."""
        if not isinstance(data, dict):
            raise ConfigError("(root)", "a config must be a JSON object", origin)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(unknown[0], f"unknown setting; known settings: {', '.join(sorted(known))}", origin)
        return cls(**data).validate(origin)

    @classmethod
    def from_json(cls, text: str, origin: str | None = None) -> "TrainConfig":
        """Parse JSON text (see :meth:`from_dict`)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError("(root)", f"not valid JSON ({exc})", origin) from exc
        return cls.from_dict(data, origin)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TrainConfig":
        """Read a config file; a run's ``config.json`` (config under ``"config"``) works too."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError("(file)", f"cannot read ({exc.strerror or exc})", str(path)) from exc
        except json.JSONDecodeError as exc:
            raise ConfigError("(root)", f"not valid JSON ({exc})", str(path)) from exc
        if isinstance(data, dict) and isinstance(data.get("config"), dict) and "run_id" in data:
            data = data["config"]
        return cls.from_dict(data, str(path))

    def save(self, path: str | os.PathLike) -> None:
        """Write the config as JSON."""
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")
