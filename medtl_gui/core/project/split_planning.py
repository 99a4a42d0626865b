"""Stratified, patient-level train/val/test assignment (a pure function, no database).

Images of one patient (same PatientID) always land in one split, so a model is
never tested on a patient it was trained on. Images without a PatientID are
their own unit. Units are stratified by class (the majority class of their
labelled images; unlabelled units form their own stratum), shuffled with a
seeded generator and handed out greedily to whichever split is furthest below
its target share of the stratum's images. Same input and seed, same result.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from medtl_gui.core.project.records import SPLITS

_UNLABELLED = "\x00unlabelled"


@dataclass(frozen=True)
class SplitCandidate:
    """One image as the planner sees it."""

    image_id: int
    class_name: str | None
    patient_id: str | None
    split: str | None  # current split
    locked: bool  # True: keep ``split`` (explicit, or kept existing assignment)


def plan_splits(
    images: list[SplitCandidate], *, val_fraction: float, test_fraction: float, seed: int
) -> dict[int, str]:
    """The split of every image that is not locked (locked ones are left out)."""
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction and test_fraction must be >= 0 and sum to < 1, got {val_fraction}, {test_fraction}"
        )
    units: dict[str, list[SplitCandidate]] = defaultdict(list)
    for image in images:
        key = f"patient:{image.patient_id}" if image.patient_id else f"image:{image.image_id}"
        units[key].append(image)

    strata: dict[str, list[str]] = defaultdict(list)
    for key in sorted(units):
        strata[_unit_stratum(units[key])].append(key)

    rng = np.random.default_rng(seed)
    fractions = {"train": 1.0 - val_fraction - test_fraction, "val": val_fraction, "test": test_fraction}
    result: dict[int, str] = {}
    for stratum in sorted(strata):
        keys = strata[stratum]
        total = sum(len(units[k]) for k in keys)
        counts = {split: 0.0 for split in SPLITS}
        free_keys: list[str] = []
        for key in keys:
            fixed = _unit_fixed_split(units[key])
            if fixed is None:
                free_keys.append(key)
                continue
            counts[fixed] += len(units[key])
            for image in units[key]:
                if not image.locked:
                    result[image.image_id] = fixed
        order = rng.permutation(len(free_keys)) if free_keys else []
        for position in order:
            key = free_keys[int(position)]
            deficits = {s: fractions[s] * total - counts[s] for s in SPLITS}
            chosen = max(SPLITS, key=lambda s: deficits[s])  # ties: train, then val, then test
            counts[chosen] += len(units[key])
            for image in units[key]:
                result[image.image_id] = chosen
    return result


def _unit_stratum(unit: list[SplitCandidate]) -> str:
    votes = Counter(image.class_name for image in unit if image.class_name is not None)
    if not votes:
        return _UNLABELLED
    best = max(votes.values())
    return min(name for name, count in votes.items() if count == best)


def _unit_fixed_split(unit: list[SplitCandidate]) -> str | None:
    votes = Counter(image.split for image in unit if image.locked and image.split is not None)
    if not votes:
        return None
    best = max(votes.values())
    return next(split for split in SPLITS if votes.get(split) == best)
