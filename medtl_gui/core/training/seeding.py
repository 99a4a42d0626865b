"""Deterministic seeding: one seed per run, derived seeds per epoch and purpose."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed derived from ``seed`` and labels such as ("epoch", 3)."""
    text = ":".join([str(seed), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") & ((1 << 63) - 1)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA) RNGs."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def make_deterministic() -> None:
    """Ask cuDNN for deterministic kernels (CPU kernels used here are deterministic already)."""
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
