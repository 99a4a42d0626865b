"""How an ensemble turns its members' class probabilities into one prediction (numpy only, no torch).

Members' probabilities are stacked as an array ``(members, n, classes)``.

- ``mean``: the average of the members' probabilities.
- ``weighted``: a weighted average; the weights lie on the simplex (each
  >= 0, sum 1) and are fitted on the validation split by
  :func:`fit_weights`, minimising the log-loss (cross-entropy) of the
  weighted average. Log-loss rewards calibrated probabilities and is smooth,
  so the fit is a small, reliable optimisation (softmax parametrisation,
  L-BFGS from several starts); optimising AUC directly would be a
  piecewise-constant objective that overfits a small validation split.
  A tiny L2 pull towards equal weights keeps the fit stable when members are
  nearly identical.
- ``vote``: majority vote. Each member votes for its predicted class (binary:
  its positive-class probability against its own decision threshold;
  multi-class: argmax). The ensemble's "probability" of a class is its share
  of the votes, with ties broken by the mean probability: ``(votes +
  TIE_BREAK * mean) / (1 + TIE_BREAK)``, which still sums to 1 and ranks
  images with equal votes by the members' mean (so ROC AUC stays meaningful).
  The decision threshold of a binary vote is 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

COMBINATIONS = {
    "mean": "average of the members' class probabilities",
    "weighted": "weighted average, weights fitted on the validation split (minimum log-loss over the simplex)",
    "vote": "majority vote of the members' predicted classes (ties broken by the mean probability)",
}
#: weight of the mean probability in a vote's output (breaks ties, never overturns a majority)
TIE_BREAK = 1e-3
#: strength of the pull of fitted weights towards equal weights
WEIGHT_PRIOR = 1e-4


class CombinationError(ValueError):
    """An unknown combination, or member outputs that cannot be combined."""


def check_combination(name: str) -> str:
    """``name`` if it is a known combination; raises :class:`CombinationError` otherwise."""
    if name not in COMBINATIONS:
        raise CombinationError(f"unknown combination {name!r}; expected one of {', '.join(COMBINATIONS)}")
    return name


def _stacked(member_probabilities: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    stacked = np.asarray(member_probabilities, dtype=np.float64)
    if stacked.ndim != 3 or stacked.shape[0] == 0:
        raise CombinationError(f"member probabilities must have shape (members, n, classes), got {stacked.shape}")
    return stacked


def member_votes(member_probabilities: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """One-hot votes ``(members, n, classes)``: each member's predicted class."""
    stacked = _stacked(member_probabilities)
    members, n, classes = stacked.shape
    if classes == 2:
        positive = stacked[:, :, 1] >= np.asarray(thresholds, dtype=np.float64)[:, None]
        predicted = positive.astype(np.int64)
    else:
        predicted = stacked.argmax(axis=2)
    votes = np.zeros_like(stacked)
    np.put_along_axis(votes, predicted[:, :, None], 1.0, axis=2)
    return votes


def combine_probabilities(member_probabilities: Sequence[np.ndarray] | np.ndarray, combination: str,
                          weights: Sequence[float] | None = None,
                          thresholds: Sequence[float] | None = None) -> np.ndarray:
    """The ensemble's probabilities ``(n, classes)`` from the members' ``(members, n, classes)``.

    ``weights`` are used by ``weighted`` (default: equal); ``thresholds``
    (one per member, default 0.5) by a binary ``vote``.
    """
    stacked = _stacked(member_probabilities)
    check_combination(combination)
    members = stacked.shape[0]
    if combination == "mean":
        return stacked.mean(axis=0)
    if combination == "weighted":
        w = np.full(members, 1.0 / members) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (members,) or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
            raise CombinationError(f"weights must be {members} non-negative numbers summing to 1, got {w.tolist()}")
        return np.tensordot(w, stacked, axes=1)
    thresholds = [0.5] * members if thresholds is None else list(thresholds)
    if len(thresholds) != members:
        raise CombinationError(f"{len(thresholds)} thresholds for {members} members")
    shares = member_votes(stacked, thresholds).mean(axis=0)
    return (shares + TIE_BREAK * stacked.mean(axis=0)) / (1.0 + TIE_BREAK)


def log_loss(probabilities: np.ndarray, targets: np.ndarray) -> float:
    """Mean negative log-probability of the true classes (probabilities clipped at 1e-12)."""
    picked = probabilities[np.arange(len(targets)), targets]
    return float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0))))


def fit_weights(member_probabilities: Sequence[np.ndarray] | np.ndarray, targets: Sequence[int] | np.ndarray,
                starts: int = 4, seed: int = 0) -> np.ndarray:
    """Simplex weights (one per member, >= 0, sum 1) minimising the log-loss of the weighted average on ``targets``.

    Deterministic for a given ``seed``: L-BFGS on softmax logits from equal
    weights and ``starts - 1`` random starts; the best result wins.
    """
    from scipy.optimize import minimize

    stacked = _stacked(member_probabilities)
    labels = np.asarray(targets, dtype=np.int64)
    members, n, _ = stacked.shape
    if labels.shape != (n,):
        raise CombinationError(f"{len(labels)} targets for {n} predictions")
    if n == 0:
        raise CombinationError("no validation images to fit the weights on")
    if members == 1:
        return np.ones(1)
    picked = np.clip(stacked[:, np.arange(n), labels], 1e-12, 1.0)  # (members, n)

    def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
        w = np.exp(z - z.max())
        w /= w.sum()
        mixture = w @ picked  # (n,)
        loss = -np.mean(np.log(mixture)) + WEIGHT_PRIOR * np.sum((w - 1.0 / members) ** 2)
        grad_w = -(picked / mixture).mean(axis=1) + 2 * WEIGHT_PRIOR * (w - 1.0 / members)
        grad_z = w * (grad_w - np.dot(w, grad_w))  # softmax Jacobian
        return float(loss), grad_z

    rng = np.random.default_rng(seed)
    initial = [np.zeros(members)] + [rng.normal(0.0, 1.0, members) for _ in range(max(0, starts - 1))]
    best_loss, best_z = np.inf, initial[0]
    for z0 in initial:
        result = minimize(objective, z0, jac=True, method="L-BFGS-B")
        if result.fun < best_loss:
            best_loss, best_z = float(result.fun), result.x
    weights = np.exp(best_z - best_z.max())
    weights /= weights.sum()
    weights[weights < 1e-6] = 0.0
    return weights / weights.sum()
