"""Stratified, grouped train/val/test assignment (pure functions, no database).

Grouping (``by``) decides which images always land in one split together:

- ``"patient"``: images with the same PatientID (a model is never tested on
  a patient it was trained on); images without a PatientID are their own unit.
- ``"case"``: one case = one image with everything attached to it (its masks
  and field of view, e.g. a DRIVE image with its ``1st_manual`` and ``mask``
  files); images that share a PatientID, or without one a DICOM study
  (StudyInstanceUID), form one case.
- ``"image"``: every image on its own (no grouping; may leak a patient).

``default_grouping`` picks "patient" when any image has a PatientID, else
"case" for projects with segmentation masks, else "image".

Units are stratified by class (the majority class of their labelled images;
unlabelled units form their own stratum), shuffled with a seeded generator and
handed out greedily to whichever split is furthest below its target share of
the stratum's images. Same input and seed, same result.

Default shares - decided for small data sets: 70 % train, 15 % validation,
15 % test (``DEFAULT_VAL_FRACTION``, ``DEFAULT_TEST_FRACTION``). The greedy
hand-out alone would give a class of 2 images "train, train" and no
validation image; so, within each stratum, the first unit goes to train when
train has none of that class yet, and the next to validation when validation
has none (and its share is > 0). A class of 1 image is training only; of 2,
one train and one validation; of 3-4, train and validation only (test gets
an image once the 15 % share reaches it, from 5 images of a class on). A
validation image per class matters more than a test image on tiny data: the
run selects its best epoch on validation, and a test image can be added by
hand (``medtl split --ids ... --to test``) or comes with more data.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass

import numpy as np

from medtl_gui.core.project.records import SPLITS

#: ways to keep images together in one split
GROUPINGS: tuple[str, ...] = ("patient", "image", "case")
DEFAULT_VAL_FRACTION = 0.15
DEFAULT_TEST_FRACTION = 0.15

_UNLABELLED = "\x00unlabelled"


@dataclass(frozen=True)
class SplitCandidate:
    """One image as the planner sees it."""

    image_id: int
    class_name: str | None
    patient_id: str | None
    split: str | None  # current split
    locked: bool  # True: keep ``split`` (explicit, or kept existing assignment)
    case_id: str | None = None  # e.g. the DICOM StudyInstanceUID; used by ``by="case"``


@dataclass(frozen=True)
class SplitSettings:
    """Shares, grouping and seed of an automatic assignment (``by=None``: :func:`default_grouping`)."""

    val_fraction: float = DEFAULT_VAL_FRACTION
    test_fraction: float = DEFAULT_TEST_FRACTION
    by: str | None = None
    seed: int = 0

    def validate(self) -> "SplitSettings":
        """Raise ``ValueError`` (one line) for shares outside [0, 1) or summing to >= 1, or an unknown grouping."""
        check_fractions(self.val_fraction, self.test_fraction)
        if self.by is not None and self.by not in GROUPINGS:
            raise ValueError(f"grouping must be one of {', '.join(GROUPINGS)}, not {self.by!r}")
        return self

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SplitSettings":
        """Settings from ``as_dict()`` output; unknown keys are ignored, missing ones take the defaults."""
        known = {k: data[k] for k in ("val_fraction", "test_fraction", "by", "seed") if k in data}
        return cls(**known).validate()


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """Raise ``ValueError`` unless both shares are >= 0 and sum to < 1."""
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction and test_fraction must be >= 0 and sum to < 1, got {val_fraction}, {test_fraction}"
        )


def default_grouping(images: list[SplitCandidate], *, has_masks: bool) -> str:
    """"patient" when any image has a PatientID, else "case" with segmentation masks, else "image"."""
    if any(image.patient_id for image in images):
        return "patient"
    return "case" if has_masks else "image"


def plan_splits(
    images: list[SplitCandidate], *, val_fraction: float, test_fraction: float, seed: int, by: str = "patient"
) -> dict[int, str]:
    """The split of every image that is not locked (locked ones are left out)."""
    check_fractions(val_fraction, test_fraction)
    if by not in GROUPINGS:
        raise ValueError(f"grouping must be one of {', '.join(GROUPINGS)}, not {by!r}")
    units: dict[str, list[SplitCandidate]] = defaultdict(list)
    for image in images:
        units[_unit_key(image, by)].append(image)

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
            chosen = _choose(counts, fractions, total)
            counts[chosen] += len(units[key])
            for image in units[key]:
                result[image.image_id] = chosen
    return result


def _choose(counts: dict[str, float], fractions: dict[str, float], total: int) -> str:
    """The split of the next unit: train, then validation first when they have none; else the largest deficit."""
    if counts["train"] == 0 and fractions["train"] > 0:
        return "train"
    if counts["val"] == 0 and fractions["val"] > 0:
        return "val"
    deficits = {s: fractions[s] * total - counts[s] for s in SPLITS}
    return max(SPLITS, key=lambda s: deficits[s])  # ties: train, then val, then test


def _unit_key(image: SplitCandidate, by: str) -> str:
    if by != "image" and image.patient_id:
        return f"patient:{image.patient_id}"
    if by == "case" and image.case_id:
        return f"case:{image.case_id}"
    return f"image:{image.image_id}"


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
