"""``PretrainConfig``: the settings of one in-domain pretraining run (JSON round-trippable).

Two methods: ``ssl`` (SimCLR-style contrastive learning on images without
labels) and ``supervised`` (ordinary training on a labelled source
project, keeping the backbone). Either way the backbone ends up in the
weight store under ``name`` and is used like any pretrained weights
(``medtl train ... --pretrained NAME``). ``None`` means "the method's
default" (see :data:`SSL_DEFAULTS`; supervised: the default training recipe).
Torch-free.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from medtl_gui.core.models.zoo import MODEL_ZOO
from medtl_gui.core.training.config import PRECISIONS, ConfigError

PRETRAIN_METHODS = {
    "ssl": "self-supervised (SimCLR): two augmented views of each image must match each other and no other "
           "image; needs no labels",
    "supervised": "train a classifier on a labelled source project and keep its backbone",
}
#: SimCLR defaults for a CPU-sized run (64 px like the default training recipe)
SSL_DEFAULTS: dict[str, Any] = {"image_size": 64, "epochs": 20, "batch_size": 128, "lr": 1e-3}
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass
class PretrainConfig:
    """One pretraining run's settings (see the comments)."""

    method: str = "ssl"  # "ssl" | "supervised"
    name: str = ""  # name of the resulting weights in the weight store
    model: str = "resnet18"
    pretrained: str | None = None  # start from these weights (e.g. "imagenet"); None: random
    image_size: int | None = None
    in_channels: int | None = None  # None: 1 for grey images, 3 for colour
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0  # ssl: linear warm-up, then cosine decay
    # SimCLR
    temperature: float = 0.2  # NT-Xent temperature
    projection_dim: int = 128  # output width of the projection head (discarded after pretraining)
    crop_scale: float = 0.35  # smallest crop, as a fraction of the image area
    rotation_degrees: float = 10.0
    allow_flips: bool = False  # left/right flips: off by default (laterality is anatomy in most radiographs)
    include_test: bool = False  # ssl on a project: also use test-split images (labels are never read)
    # execution
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    channels_last: bool | None = None

    def value(self, key: str) -> Any:
        """The setting ``key`` with the SimCLR default filled in for ``None``."""
        given = getattr(self, key)
        return SSL_DEFAULTS.get(key) if given is None else given

    def validate(self, origin: str | None = None) -> "PretrainConfig":
        """Raise :class:`ConfigError` for the first invalid setting; returns ``self``."""

        def need(condition: bool, key: str, reason: str) -> None:
            if not condition:
                raise ConfigError(key, reason, origin)

        need(self.method in PRETRAIN_METHODS, "method", f"must be one of {', '.join(PRETRAIN_METHODS)}")
        need(bool(NAME_PATTERN.match(self.name or "")), "name",
             "give the weights a name of letters, digits, '.', '_' or '-' (e.g. chest-ssl-r18)")
        need(self.model in MODEL_ZOO, "model", f"unknown model {self.model!r}; available: {', '.join(MODEL_ZOO)}")
        need(self.image_size is None or self.image_size >= 16, "image_size", "must be at least 16 px")
        need(self.in_channels in (None, 1, 3), "in_channels", "must be 1, 3 or null")
        need(self.epochs is None or (isinstance(self.epochs, int) and self.epochs >= 1), "epochs", "must be >= 1")
        need(self.batch_size is None or self.batch_size >= 2, "batch_size", "must be >= 2 (pairs of views)")
        need(self.lr is None or self.lr > 0, "lr", "must be > 0")
        need(self.weight_decay >= 0, "weight_decay", "must be >= 0")
        need(self.warmup_epochs >= 0, "warmup_epochs", "must be >= 0")
        need(self.temperature > 0, "temperature", "must be > 0")
        need(self.projection_dim >= 8, "projection_dim", "must be >= 8")
        need(0.05 <= self.crop_scale <= 1, "crop_scale", "must be between 0.05 and 1")
        need(0 <= self.rotation_degrees <= 45, "rotation_degrees", "must be between 0 and 45")
        need(self.precision in PRECISIONS, "precision", f"must be one of {', '.join(PRECISIONS)}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str | None = None) -> "PretrainConfig":
        """Build and validate from a dict; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(unknown[0], f"unknown setting; known settings: {', '.join(sorted(known))}", origin)
        return cls(**data).validate(origin)

    def to_json(self) -> str:
        """The config as indented JSON."""
        return json.dumps(self.to_dict(), indent=2)
