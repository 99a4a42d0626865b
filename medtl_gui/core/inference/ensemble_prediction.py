"""Prediction with an ensemble: every member with its own preprocessing, then the combination.

:func:`member_probabilities` / :func:`ensemble_probabilities` work on a
labelled set (evaluation, weight fitting, benchmarks);
:class:`EnsembleRunner` is what :func:`~medtl_gui.core.inference.prediction.iter_predictions`
uses for scans read one by one: each scan is read once and prepared once
per distinct member preprocessing (members with the same image size and
normalisation share the tensor).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medtl_gui.core.inference.ensemble import EnsembleModel


def member_probabilities(ensemble: EnsembleModel, images: Any, device: str = "auto",
                         batch_size: int = 64) -> np.ndarray:
    """Every member's probabilities on labelled ``images``: ``(members, n, classes)`` (with the ensemble's TTA)."""
    from medtl_gui.core.inference.prediction import predict_images

    return np.stack([predict_images(member, images, device, batch_size) for member in ensemble.members])


def ensemble_probabilities(ensemble: EnsembleModel, images: Any, device: str = "auto", tta: str | None = None,
                           batch_size: int = 64) -> np.ndarray:
    """The ensemble's probabilities ``(n, classes)`` on labelled ``images``; ``tta`` overrides the ensemble's mode."""
    if tta is not None and tta != ensemble.tta:
        ensemble = ensemble.with_tta(tta)
    return ensemble.combine(member_probabilities(ensemble, images, device, batch_size))


class EnsembleRunner:
    """The members placed on a device; prepares a scan for each of them and combines their probabilities."""

    def __init__(self, ensemble: EnsembleModel, device: str = "auto"):
        from medtl_gui.core.inference.prediction import ModelRunner

        self.trained = ensemble
        self.runners = [ModelRunner(member, device) for member in ensemble.members]
        self.preprocessings = list(dict.fromkeys(member.preprocessing for member in ensemble.members))
        self.input_of = [self.preprocessings.index(member.preprocessing) for member in ensemble.members]

    def prepare(self, loaded: Any) -> tuple[Any, ...]:
        """One normalised tensor per distinct member preprocessing."""
        return tuple(prep.normalise(prep.prepare(loaded)) for prep in self.preprocessings)

    def batch_probabilities(self, prepared: list[tuple[Any, ...]]) -> np.ndarray:
        """Combined probabilities ``(n, classes)`` of prepared scans."""
        import torch

        batches = [torch.stack([item[k] for item in prepared]) for k in range(len(self.preprocessings))]
        stacked = np.stack([runner.probabilities(batches[self.input_of[m]]) for m, runner in enumerate(self.runners)])
        return self.trained.combine(stacked)
