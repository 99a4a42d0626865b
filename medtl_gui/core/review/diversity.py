"""Diversity selection on feature vectors: k-center greedy and the uncertainty + k-center hybrid.

k-center greedy (Sener & Savarese 2018, "core-set" active learning) picks,
one at a time, the candidate farthest from every already chosen point (the
labelled images count as chosen), so a batch covers the feature space
instead of piling up near one decision boundary. Distances are Euclidean
between L2-normalised features (i.e. a cosine geometry), so a backbone's
feature scale does not matter. Pure numpy; memory stays O(n_candidates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class DiversityPick:
    """The order k-center greedy chose candidates in.

    ``order`` are candidate indices, first chosen first; ``distances`` the
    distance of each to its nearest centre at the moment it was chosen (the
    k-center score: large = far from everything already labelled or picked).
    """

    order: np.ndarray
    distances: np.ndarray


def normalised_features(features: np.ndarray) -> np.ndarray:
    """float32 (n, d) rows scaled to unit length (zero rows stay zero)."""
    values = np.asarray(features, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"features must have shape (n, dim), got {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("features contain NaN or infinite values")
    norms = np.linalg.norm(values, axis=1, keepdims=True)
    return values / np.maximum(norms, 1e-12)


def _distances_to(points: np.ndarray, centres: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """For each point, the distance to its nearest centre (chunks bound the memory)."""
    if len(centres) == 0:
        return np.full(len(points), np.inf, dtype=np.float32)
    nearest = np.full(len(points), np.inf, dtype=np.float32)
    point_sq = (points ** 2).sum(axis=1)
    for start in range(0, len(centres), chunk):
        block = centres[start:start + chunk]
        sq = point_sq[:, None] + (block ** 2).sum(axis=1)[None, :] - 2.0 * points @ block.T
        nearest = np.minimum(nearest, np.sqrt(np.maximum(sq, 0.0)).min(axis=1))
    return nearest


def k_center_greedy(features: np.ndarray, n_select: int | None = None,
                    labelled_features: np.ndarray | None = None) -> DiversityPick:
    """Order candidates by k-center greedy; the first ``n_select`` are chosen greedily.

    ``features``: candidates (n, d). ``labelled_features``: (m, d) points
    that are already centres (the labelled images); without them the first
    pick is the candidate nearest the candidates' mean (deterministic).
    Candidates after the first ``n_select`` (default: all) follow in order
    of their distance to the chosen set, farthest first.
    """
    points = normalised_features(features)
    n = len(points)
    if n == 0:
        return DiversityPick(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
    n_select = n if n_select is None else max(0, min(int(n_select), n))
    centres = (normalised_features(labelled_features) if labelled_features is not None
               and len(labelled_features) else np.zeros((0, points.shape[1]), dtype=np.float32))
    if centres.shape[1] != points.shape[1]:
        raise ValueError(f"labelled features have {centres.shape[1]} dimensions, candidates {points.shape[1]}")
    nearest = _distances_to(points, centres)
    chosen = np.zeros(n, dtype=bool)
    order: list[int] = []
    scores: list[float] = []
    for _ in range(n_select):
        if np.isinf(nearest).all():
            pick = int(np.argmin(((points - points.mean(axis=0)) ** 2).sum(axis=1)))
            distance = float("inf")
        else:
            masked = np.where(chosen, -1.0, nearest)
            pick = int(np.argmax(masked))
            distance = float(nearest[pick])
        order.append(pick)
        scores.append(distance)
        chosen[pick] = True
        nearest = np.minimum(nearest, np.sqrt(np.maximum(((points - points[pick]) ** 2).sum(axis=1), 0.0)))
    rest = np.flatnonzero(~chosen)
    rest = rest[np.argsort(-nearest[rest], kind="stable")]
    all_scores = np.concatenate([np.asarray(scores, dtype=np.float32), nearest[rest].astype(np.float32)])
    finite_max = float(np.max(all_scores[np.isfinite(all_scores)], initial=0.0))
    all_scores[~np.isfinite(all_scores)] = finite_max if finite_max > 0 else 1.0
    return DiversityPick(np.concatenate([np.asarray(order, dtype=np.int64), rest]), all_scores)


def hybrid_order(uncertainty: np.ndarray, features: np.ndarray, n_select: int,
                 labelled_features: np.ndarray | None = None, pool_factor: int = 4) -> np.ndarray:
    """Uncertainty first, then diversity: k-center greedy inside the ``pool_factor * n_select`` most uncertain.

    Returns candidate indices: the ``n_select`` picked from the pool, then
    the rest of the pool and the other candidates, by uncertainty (highest first).
    """
    scores = np.asarray(uncertainty, dtype=np.float64)
    if len(scores) != len(features):
        raise ValueError(f"{len(scores)} uncertainty scores for {len(features)} feature vectors")
    by_uncertainty = np.argsort(-scores, kind="stable")
    pool = by_uncertainty[:max(n_select, pool_factor * n_select)]
    picked = pool[k_center_greedy(np.asarray(features)[pool], n_select, labelled_features).order[:n_select]]
    taken = np.zeros(len(scores), dtype=bool)
    taken[picked] = True
    return np.concatenate([picked, by_uncertainty[~taken[by_uncertainty]]]).astype(np.int64)
