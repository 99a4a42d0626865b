"""Class balance: detecting imbalance, class weights, balanced sampling."""

from __future__ import annotations

import numpy as np

#: the largest/smallest class ratio above which a training set counts as imbalanced
IMBALANCE_RATIO = 1.5

IMBALANCE_MODES = {
    "auto": "class-weighted loss when the training classes are imbalanced, else nothing",
    "weighted_loss": "weight each class's loss by the inverse of its frequency",
    "balanced_sampler": "draw training images so that every class is equally frequent",
    "none": "use the data as it is",
}


def imbalance_ratio(counts: np.ndarray) -> float:
    """Largest over smallest non-zero class count (1.0 when balanced)."""
    present = counts[counts > 0]
    if present.size < 2:
        return 1.0
    return float(present.max() / present.min())


def is_imbalanced(counts: np.ndarray, threshold: float = IMBALANCE_RATIO) -> bool:
    """Whether the ratio of class counts exceeds ``threshold``."""
    return imbalance_ratio(counts) > threshold


def resolve_imbalance_mode(mode: str, counts: np.ndarray) -> str:
    """The concrete handling for a config's ``imbalance`` value and the training counts."""
    if mode not in IMBALANCE_MODES:
        raise ValueError(f"unknown imbalance mode {mode!r}; expected one of {', '.join(IMBALANCE_MODES)}")
    if mode == "auto":
        return "weighted_loss" if is_imbalanced(counts) else "none"
    return mode


def inverse_frequency_weights(counts: np.ndarray) -> np.ndarray:
    """Per-class weights ``n / (k * count)``: 1.0 for every class when balanced."""
    counts = counts.astype(np.float64)
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def balanced_sample_weights(targets: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-image sampling weights that make every class equally likely."""
    counts = np.bincount(targets, minlength=n_classes)
    return inverse_frequency_weights(counts)[targets]
