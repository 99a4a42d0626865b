"""In-domain pretraining: self-supervised (SimCLR) on a project's own images, or supervised on a source project.

The result is a backbone in the weight store that ``medtl train
--pretrained NAME`` (or the GUI) uses like ImageNet weights. Light at
import time: the config and method names need no torch; the training
functions load it on first use.
"""

from __future__ import annotations

from typing import Any

from medtl_gui.core.pretraining.config import PRETRAIN_METHODS, SSL_DEFAULTS, PretrainConfig

_LAZY = {
    "pretrain_ssl": "ssl_training",
    "PretrainResult": "ssl_training",
    "pretrain_supervised": "supervised",
    "pretrain_location": "launch",
    "open_pretraining_images": "image_sources",
    "ContrastiveViews": "views",
    "nt_xent_loss": "contrastive",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"medtl_gui.core.pretraining.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["PRETRAIN_METHODS", "SSL_DEFAULTS", "PretrainConfig", *sorted(_LAZY)]
