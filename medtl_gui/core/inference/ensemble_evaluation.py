"""Evaluate an ensemble: the ensemble's metrics and every member's, side by side, from one pass per member.

The result has the same top-level keys as a run's evaluation (so every
consumer of ``evaluate_run`` keeps working) plus ``members`` (one entry per
member: run, model, the headline metrics and their bootstrap intervals),
``combination``, ``weights`` and ``tta``. Members are judged at their own
decision thresholds; the ensemble at its own (or the one given).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medtl_gui.core.inference.ensemble import EnsembleModel

#: metrics shown per member
MEMBER_KEYS = ("accuracy", "balanced_accuracy", "precision", "recall", "specificity", "f1", "auc")


def evaluate_ensemble(ensemble: EnsembleModel, images: Any, targets: np.ndarray, *, threshold: float | None = None,
                      confidence_intervals: bool = True, device: str = "auto", seed: int = 0) -> dict[str, Any]:
    """Metrics of ``ensemble`` and of each member on ``images`` (targets already mapped to its classes)."""
    from medtl_gui.core.evaluation.bootstrap import bootstrap_confidence_intervals
    from medtl_gui.core.evaluation.classification import classification_metrics
    from medtl_gui.core.inference.ensemble_prediction import member_probabilities

    names = ensemble.class_names
    stacked = member_probabilities(ensemble, images, device)
    probabilities = ensemble.combine(stacked)
    used_threshold = ensemble.threshold if threshold is None else threshold
    result: dict[str, Any] = {"run": str(ensemble.run_dir), "checkpoint": ensemble.checkpoint, "data": images.name,
                              "ensemble": True, "combination": ensemble.combination,
                              "weights": list(ensemble.weights), "tta": ensemble.tta}
    result |= classification_metrics(targets, probabilities, names, threshold=used_threshold)
    result["class_names"] = names
    if confidence_intervals:
        result["ci95"] = bootstrap_confidence_intervals(targets, probabilities, threshold=used_threshold,
                                                        seed=seed)["intervals"]
    members = []
    for member, member_probs in zip(ensemble.members, stacked):
        metrics = classification_metrics(targets, member_probs, names, threshold=member.threshold)
        entry: dict[str, Any] = {"run": str(member.run_dir), "run_id": member.run_id, "model": member.config.model,
                                 "checkpoint": member.checkpoint, "threshold": member.threshold}
        entry |= {key: metrics.get(key) for key in MEMBER_KEYS}
        if confidence_intervals:
            intervals = bootstrap_confidence_intervals(targets, member_probs, threshold=member.threshold,
                                                       seed=seed)["intervals"]
            entry["ci95"] = {key: intervals[key] for key in MEMBER_KEYS if key in intervals}
        members.append(entry)
    result["members"] = members
    return result


def member_table(result: dict[str, Any]) -> list[str]:
    """Text lines: one row per metric, one column per member and the ensemble (for ``medtl evaluate``)."""
    members = result.get("members") or []
    headers = [m["run_id"][-18:] for m in members] + ["ensemble"]
    width = max(10, *(len(h) for h in headers))
    lines = [f"  {'metric':18s} " + " ".join(f"{h:>{width}s}" for h in headers)]
    for key in MEMBER_KEYS:
        values = [m.get(key) for m in members] + [result.get(key)]
        cells = [f"{v:>{width}.4f}" if isinstance(v, (int, float)) else f"{'-':>{width}s}" for v in values]
        lines.append(f"  {key:18s} " + " ".join(cells))
    return lines
