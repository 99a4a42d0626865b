"""``ResolvedSettings``: a config's automatic choices made concrete for its data (no torch; every task's
settings are these or extend them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ResolvedSettings:
    """The config's automatic choices made concrete for this data."""

    strategy: Any
    image_size: int
    in_channels: int
    retention: str
    alpha: float
    lr_decay: float
    imbalance: str
    monitor: str
    monitor_mode: str  # "max" | "min"
    train: Any
    val: Any
    test: Any
    val_held_out_of_train: bool

    def to_json(self) -> dict:
        """The resolved values (no image lists) for config.json."""
        return {
            "strategy": self.strategy.name,
            "image_size": self.image_size,
            "in_channels": self.in_channels,
            "retention": self.retention,
            "alpha": self.alpha,
            "lr_decay": self.lr_decay,
            "imbalance": self.imbalance,
            "monitor": self.monitor,
            "monitor_mode": self.monitor_mode,
            "val_held_out_of_train": self.val_held_out_of_train,
        }
