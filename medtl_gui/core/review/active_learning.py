"""Active learning: which unlabelled images should a clinician label next?

Methods (:data:`RANKING_METHODS`):

- ``entropy``, ``margin``, ``least_confidence``: uncertainty of the run's
  predicted class probabilities (see :mod:`uncertainty`).
- ``mc_dropout``: BALD disagreement between passes of the head with its
  dropout active (only for runs trained with ``head_dropout > 0``).
- ``ensemble``: BALD disagreement between ensemble members (several runs,
  or any source of members' probabilities through :func:`rank_by_disagreement`).
- ``kcenter``: k-center greedy on backbone features, the labelled images
  being the initial centres (diversity, see :mod:`diversity`).
- ``hybrid``: the ``pool_factor * top`` most uncertain (entropy), then
  k-center inside that pool.

The pure functions (``rank_by_*``) work on arrays; :func:`rank_project`
runs a model over a project's unlabelled images, ranks them and stores
the order in the project for the browser's "label next" view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medtl_gui.core.review.diversity import hybrid_order, k_center_greedy
from medtl_gui.core.review.uncertainty import (
    UNCERTAINTY_SCORES,
    disagreement,
    entropy,
    mean_probabilities,
    uncertainty_score,
)

#: every ranking method, by name
RANKING_METHODS = (*UNCERTAINTY_SCORES, "mc_dropout", "ensemble", "kcenter", "hybrid")

#: methods that need backbone features
FEATURE_METHODS = ("kcenter", "hybrid")

#: the most labelled images whose features seed k-center (a seeded sample above that)
MAX_LABELLED_CENTRES = 2000


@dataclass(frozen=True)
class RankedImage:
    """One image's place in a ranking: ``rank`` 1 is the most useful to label next.

    ``key`` is the project image id (or the position in the caller's
    arrays); ``score`` the method's score (higher = label sooner);
    ``probabilities`` the (mean) predicted probabilities, when known.
    """

    key: int
    rank: int
    score: float
    probabilities: tuple[float, ...] = ()


@dataclass
class Ranking:
    """A ranking of unlabelled images by one method with one run (or ensemble)."""

    method: str
    run_id: str | None
    items: list[RankedImage]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)

    def keys(self) -> list[int]:
        """Image keys, label-first order."""
        return [item.key for item in self.items]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "method": self.method, "run_id": self.run_id, "class_names": self.class_names,
            "ranking": [{"image_id": i.key, "rank": i.rank, "score": i.score,
                         "probabilities": list(i.probabilities)} for i in self.items],
            "skipped": [{"source": s, "error": e} for s, e in self.skipped],
        }


def _ranked(keys: Sequence[int], order: np.ndarray, scores: np.ndarray,
            probabilities: np.ndarray | None) -> list[RankedImage]:
    items = []
    for rank, index in enumerate(order, start=1):
        probs = tuple(float(p) for p in probabilities[index]) if probabilities is not None else ()
        items.append(RankedImage(int(keys[index]), rank, float(scores[index]), probs))
    return items


def _check_lengths(keys: Sequence[int], n: int, what: str) -> None:
    if len(keys) != n:
        raise ValueError(f"{len(keys)} image keys for {n} rows of {what}")


def rank_by_uncertainty(keys: Sequence[int], probabilities: np.ndarray, method: str = "entropy") -> list[RankedImage]:
    """Most uncertain first (ties keep the input order)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    _check_lengths(keys, len(probabilities), "probabilities")
    scores = uncertainty_score(probabilities, method) if len(probabilities) else np.zeros(0)
    return _ranked(keys, np.argsort(-scores, kind="stable"), scores, probabilities)


def rank_by_disagreement(keys: Sequence[int], member_probabilities: np.ndarray) -> list[RankedImage]:
    """Most disputed first: BALD over (members, n, classes) probabilities (ensembles or MC-dropout passes)."""
    stack = np.asarray(member_probabilities, dtype=np.float64)
    if stack.ndim != 3 or stack.shape[0] < 2:
        raise ValueError(f"disagreement needs (members >= 2, n_images, n_classes) probabilities, got {stack.shape}")
    _check_lengths(keys, stack.shape[1], "member probabilities")
    scores = disagreement(stack)
    return _ranked(keys, np.argsort(-scores, kind="stable"), scores, mean_probabilities(stack))


def rank_by_diversity(keys: Sequence[int], features: np.ndarray, labelled_features: np.ndarray | None = None,
                      n_select: int | None = None, probabilities: np.ndarray | None = None) -> list[RankedImage]:
    """k-center greedy order: each next image is the farthest from everything labelled or already picked."""
    _check_lengths(keys, len(features), "features")
    pick = k_center_greedy(features, n_select, labelled_features)
    scores = np.empty(len(keys), dtype=np.float64)
    scores[pick.order] = pick.distances
    return _ranked(keys, pick.order, scores, probabilities)


def rank_hybrid(keys: Sequence[int], probabilities: np.ndarray, features: np.ndarray, n_select: int,
                labelled_features: np.ndarray | None = None, pool_factor: int = 4) -> list[RankedImage]:
    """Entropy pool of ``pool_factor * n_select`` images, then k-center inside it; scores are the entropies."""
    _check_lengths(keys, len(probabilities), "probabilities")
    scores = entropy(probabilities) if len(probabilities) else np.zeros(0)
    order = hybrid_order(scores, features, n_select, labelled_features, pool_factor)
    return _ranked(keys, order, scores, np.asarray(probabilities))


# --------------------------------------------------------------------------- projects
def _models(trained: Any) -> list[Any]:
    members = list(trained) if isinstance(trained, (list, tuple)) else [trained]
    if not members:
        raise ValueError("no trained model given")
    names = members[0].class_names
    for member in members[1:]:
        if member.class_names != names:
            raise ValueError(f"ensemble members disagree on classes: {names} vs {member.class_names} "
                             f"({member.run_dir})")
    return members


def rank_project(project: Any, trained: Any, method: str = "entropy", *, top: int | None = None,
                 device: str = "cpu", batch_size: int = 64, mc_passes: int = 20, pool_factor: int = 4,
                 seed: int = 0, store: bool = True, progress: Callable[[int, int], None] | None = None,
                 cancelled: Callable[[], bool] | None = None) -> Ranking:
    """Rank the project's unlabelled images with a run (a ``TrainedModel``) or an ensemble (a list of them).

    ``top``: for ``kcenter``/``hybrid``, how many images to pick greedily
    (default 50; the rest follow by distance / uncertainty). The full order
    is returned and, with ``store``, saved in the project (``review_ranking``).
    Unreadable images are listed in ``skipped`` and left out of the order.
    ``progress(done, total)`` counts images (labelled ones too for k-center).
    """
    from medtl_gui.core.inference.project_prediction import project_scans
    from medtl_gui.core.review.model_outputs import collect_outputs
    from medtl_gui.core.review.ranking_store import store_ranking

    if method not in RANKING_METHODS:
        raise ValueError(f"unknown ranking method {method!r}; expected one of {', '.join(RANKING_METHODS)}")
    members = _models(trained)
    if method == "ensemble" and len(members) < 2:
        raise ValueError("ranking by ensemble disagreement needs at least two runs")
    n_select = int(top) if top else 50
    scans = project_scans(project, unlabelled_only=True)
    labelled_scans = []
    if method in FEATURE_METHODS:
        unlabelled_ids = {scan.image_id for scan in scans}
        labelled_scans = [s for s in project_scans(project) if s.image_id not in unlabelled_ids]
        if len(labelled_scans) > MAX_LABELLED_CENTRES:
            chosen = np.random.default_rng(seed).choice(len(labelled_scans), MAX_LABELLED_CENTRES, replace=False)
            labelled_scans = [labelled_scans[i] for i in sorted(chosen)]
    passes = len(members) if method == "ensemble" else 1
    total = len(scans) * passes + len(labelled_scans)
    offset = 0

    def counted(done: int, _total: int) -> None:
        if progress is not None:
            progress(offset + done, total)

    outputs = []
    for member in members[:passes]:
        outputs.append(collect_outputs(member, scans, device=device, batch_size=batch_size,
                                       with_features=method in FEATURE_METHODS,
                                       mc_passes=mc_passes if method == "mc_dropout" else 0, seed=seed,
                                       progress=counted, cancelled=cancelled))
        offset += len(scans)
    first = outputs[0]
    keys = first.keys
    if method in UNCERTAINTY_SCORES:
        items = rank_by_uncertainty(keys, first.probabilities, method)
    elif method == "mc_dropout":
        items = rank_by_disagreement(keys, first.mc_probabilities)
    elif method == "ensemble":
        items = rank_by_disagreement(keys, np.stack([_aligned(o, keys) for o in outputs]))
    else:
        labelled = collect_outputs(members[0], labelled_scans, device=device, batch_size=batch_size,
                                   with_features=True, progress=counted, cancelled=cancelled).features
        if method == "kcenter":
            items = rank_by_diversity(keys, first.features, labelled, n_select, first.probabilities)
        else:
            items = rank_hybrid(keys, first.probabilities, first.features, n_select, labelled, pool_factor)
    run_id = "+".join(m.run_id for m in members[:passes])
    ranking = Ranking(method, run_id, items, first.skipped, list(members[0].class_names))
    if store:
        store_ranking(project, [(item.key, item.score) for item in items], method, run_id)
    return ranking


def _aligned(outputs: Any, keys: list[int]) -> np.ndarray:
    """A member's probabilities in the order of ``keys`` (members read the same scans, so normally equal)."""
    if outputs.keys == keys:
        return outputs.probabilities
    position = {k: i for i, k in enumerate(outputs.keys)}
    missing = [k for k in keys if k not in position]
    if missing:
        raise ValueError(f"an ensemble member could not read images {missing[:5]} that another member read")
    return outputs.probabilities[[position[k] for k in keys]]
