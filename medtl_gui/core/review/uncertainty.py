"""Uncertainty scores of class probabilities: higher means "the model is less sure".

All functions take probabilities shaped (n_images, n_classes) (binary
models give two columns, as :func:`medtl_gui.core.training.losses.output_probabilities`
returns them) and return one float score per image. Pure numpy: usable on
probabilities from any source (one model, MC-dropout passes, ensemble
members).
"""

from __future__ import annotations

import numpy as np

#: the uncertainty scores by name, for the CLI and GUI
UNCERTAINTY_SCORES = ("entropy", "margin", "least_confidence")

_EPS = 1e-12


def as_probability_matrix(probabilities: np.ndarray) -> np.ndarray:
    """Check and return ``probabilities`` as float64 (n, classes); a 1-D vector is P(positive) of a binary model."""
    values = np.asarray(probabilities, dtype=np.float64)
    if values.ndim == 1:
        values = np.stack([1.0 - values, values], axis=1)
    if values.ndim != 2 or values.shape[1] < 2:
        raise ValueError(f"probabilities must have shape (n_images, n_classes >= 2), got {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values < -1e-6) or np.any(values > 1 + 1e-6):
        raise ValueError("probabilities must be finite values in [0, 1]")
    return np.clip(values, 0.0, 1.0)


def entropy(probabilities: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) of each row, normalised by log(classes) so it lies in [0, 1]."""
    p = as_probability_matrix(probabilities)
    raw = -(p * np.log(p + _EPS)).sum(axis=1)
    return np.clip(raw / np.log(p.shape[1]), 0.0, 1.0)


def margin(probabilities: np.ndarray) -> np.ndarray:
    """1 - (top probability - second probability): 1 for a tie, 0 for a certain prediction."""
    p = np.sort(as_probability_matrix(probabilities), axis=1)
    return 1.0 - (p[:, -1] - p[:, -2])


def least_confidence(probabilities: np.ndarray) -> np.ndarray:
    """1 - top probability, rescaled by classes/(classes - 1) so it lies in [0, 1]."""
    p = as_probability_matrix(probabilities)
    k = p.shape[1]
    return np.clip((1.0 - p.max(axis=1)) * k / (k - 1), 0.0, 1.0)


def uncertainty_score(probabilities: np.ndarray, method: str) -> np.ndarray:
    """The score called ``method`` (one of :data:`UNCERTAINTY_SCORES`)."""
    functions = {"entropy": entropy, "margin": margin, "least_confidence": least_confidence}
    if method not in functions:
        raise ValueError(f"unknown uncertainty score {method!r}; expected one of {', '.join(functions)}")
    return functions[method](probabilities)


def mean_probabilities(member_probabilities: np.ndarray) -> np.ndarray:
    """The average over members (axis 0) of probabilities shaped (members, n, classes)."""
    stack = np.asarray(member_probabilities, dtype=np.float64)
    if stack.ndim != 3 or stack.shape[0] < 1:
        raise ValueError(f"member probabilities must have shape (members, n_images, n_classes), got {stack.shape}")
    return stack.mean(axis=0)


def disagreement(member_probabilities: np.ndarray) -> np.ndarray:
    """Mutual information (BALD) between the prediction and the member, normalised to [0, 1].

    ``member_probabilities`` is (members, n_images, classes): ensemble
    members or MC-dropout passes. The score is the entropy of the mean
    prediction minus the mean entropy of the members: 0 when every member
    says the same, high when confident members contradict each other.
    """
    stack = np.asarray(member_probabilities, dtype=np.float64)
    mean = mean_probabilities(stack)
    k = stack.shape[2]
    total = -(mean * np.log(mean + _EPS)).sum(axis=1)
    expected = -(stack * np.log(stack + _EPS)).sum(axis=2).mean(axis=0)
    return np.clip((total - expected) / np.log(k), 0.0, 1.0)
