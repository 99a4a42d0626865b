"""Ensembles of finished classification runs: a model like any other (evaluate, predict, export).

An ensemble folder holds one file, ``ensemble.json`` (the manifest)::

    {"format": "medtl-ensemble", "version": 1, "task": "classification",
     "class_names": [...], "combination": "mean" | "weighted" | "vote",
     "weights": [...], "threshold": 0.5,
     "members": [{"run": "../runs/<id>", "run_path": "/abs/runs/<id>", "run_id": ...,
                  "checkpoint": "best", "checkpoint_file": "checkpoints/best.safetensors",
                  "sha256": "...", "model": "resnet18", "image_size": 64, "threshold": 0.5}, ...],
     "validation": {...}, "created": ..., "code_version": ...}

Members are referenced, not copied: each member keeps its own run folder,
architecture and preprocessing (different architectures, seeds and image
sizes may be mixed, as long as the class names are the same). The SHA-256
of each member's checkpoint file is checked when the ensemble is loaded, so
a member retrained or replaced in place is an error, not a silent change.
Member paths are stored relative to the ensemble folder (found first, so a
project moved as a whole keeps working) and absolute.

:func:`load_trained_model` accepts an ensemble folder and returns an
:class:`EnsembleModel`, which prediction, evaluation and export treat like
a run's :class:`~medtl_gui.core.inference.trained_model.TrainedModel`.
The combination rules are in :mod:`ensemble_combination`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from medtl_gui.core.tasks import can
from medtl_gui.core.project.atomic_files import sha256_file as file_sha256
from medtl_gui.core.inference.ensemble_combination import (
    COMBINATIONS,
    CombinationError,
    check_combination,
    combine_probabilities,
    fit_weights,
    log_loss,
)
from medtl_gui.core.runs import RunRecord

MANIFEST = RunRecord.ENSEMBLE
FORMAT = "medtl-ensemble"
VERSION = 1


class EnsembleError(Exception):
    """An ensemble that cannot be built or loaded; names the file or folder and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def is_ensemble_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder holding an ``ensemble.json``."""
    return RunRecord(path).is_ensemble


@dataclass
class EnsembleModel:
    """Loaded members plus how to combine them; quacks like a ``TrainedModel`` for prediction and evaluation.

    ``run_dir`` is the ensemble folder; ``weights`` one per member (equal
    for ``mean``/``vote``); ``threshold`` the binary decision threshold on
    the combined probability; ``tta`` the test-time augmentation every
    member applies (see :mod:`tta`).
    """

    members: list[Any]  # TrainedModel
    combination: str
    weights: list[float]
    class_names: list[str]
    threshold: float
    run_dir: Path
    manifest: dict[str, Any]
    tta: str = "none"
    checkpoint: str = "ensemble"
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        """The ensemble folder's name."""
        return self.run_dir.name

    @property
    def head_kind(self) -> str:
        """binary or multiclass."""
        return "binary" if len(self.class_names) == 2 else "multiclass"

    @property
    def record(self) -> dict[str, Any]:
        """The manifest (a run's ``record`` is its config.json)."""
        return self.manifest

    @property
    def member_thresholds(self) -> list[float]:
        """Each member's own decision threshold (used by a binary vote)."""
        return [float(m.threshold) for m in self.members]

    def combine(self, member_probabilities: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """The ensemble's probabilities ``(n, classes)`` from the members' ``(members, n, classes)``."""
        return combine_probabilities(member_probabilities, self.combination, self.weights, self.member_thresholds)

    def with_tta(self, mode: str) -> "EnsembleModel":
        """The same ensemble predicting with test-time augmentation ``mode`` (members share the objects)."""
        from medtl_gui.core.inference.tta import check_tta_mode

        mode = check_tta_mode(mode)
        return replace(self, tta=mode, members=[replace(m, tta=mode) for m in self.members])


# --------------------------------------------------------------------------- members
def _resolved_checkpoint(run_dir: Path, checkpoint: str) -> str:
    """``checkpoint`` when the run has it; a missing one is an error naming its file (no fallback to another)."""
    from medtl_gui.core.training import checkpoints

    folder = RunRecord(run_dir).checkpoints
    if checkpoints.checkpoint_exists(folder, checkpoint):
        return checkpoint
    raise EnsembleError(folder / f"{checkpoint}.safetensors", f"the run has no '{checkpoint}' checkpoint (did it "
                        "finish an epoch?); no other checkpoint is used in its place")


def _load_members(run_dirs: Sequence[str | os.PathLike], checkpoint: str, origin: Path) -> list[Any]:
    """The members' trained models; raises :class:`EnsembleError` unless they are classifiers of the same classes."""
    from medtl_gui.core.inference.segmentation_predict import run_task
    from medtl_gui.core.inference.trained_model import load_trained_model

    if len(run_dirs) < 2:
        raise EnsembleError(origin, f"an ensemble needs at least 2 member runs, got {len(run_dirs)}")
    members = []
    for run_dir in run_dirs:
        path = Path(run_dir)
        if is_ensemble_folder(path):
            raise EnsembleError(path, "is an ensemble itself; give the runs it is made of")
        try:
            task = run_task(path)
        except (OSError, ValueError) as exc:
            raise EnsembleError(path, f"not a readable run folder ({exc})") from exc
        if not can(task, "ensemble"):
            raise EnsembleError(path, f"is a {task} run; ensembles combine classification runs")
        members.append(load_trained_model(path, _resolved_checkpoint(path, checkpoint)))
    reference = members[0].class_names
    for member in members[1:]:
        if member.class_names != reference:
            raise EnsembleError(member.run_dir, f"predicts classes {member.class_names}, but "
                                f"{members[0].run_dir.name} predicts {reference}; members need the same classes "
                                "in the same order")
    if len(set(map(str, (m.run_dir.resolve() for m in members)))) != len(members):
        raise EnsembleError(origin, "the same run is listed twice")
    return members


def _member_entry(member: Any, folder: Path) -> dict[str, Any]:
    checkpoint_file = Path(RunRecord.CHECKPOINTS) / f"{member.checkpoint}.safetensors"
    absolute = member.run_dir.resolve()
    try:
        relative = os.path.relpath(absolute, folder.resolve())
    except ValueError:  # another drive on Windows
        relative = str(absolute)
    return {
        "run": Path(relative).as_posix(), "run_path": str(absolute), "run_id": member.run_id,
        "checkpoint": member.checkpoint, "checkpoint_file": checkpoint_file.as_posix(),
        "sha256": file_sha256(absolute / checkpoint_file), "model": member.config.model,
        "image_size": member.preprocessing.image_size, "in_channels": member.preprocessing.in_channels,
        "threshold": float(member.threshold), "seed": member.record.get("seed"),
    }


def _ensemble_threshold(combination: str, members: Sequence[Any], weights: Sequence[float]) -> float:
    """0.5 for a vote; the members' common threshold, else their weighted mean, for averages."""
    if combination == "vote":
        return 0.5
    thresholds = [float(m.threshold) for m in members]
    if len(set(thresholds)) == 1:
        return thresholds[0]
    return float(np.dot(weights, thresholds))


def _validation_figures(members: Sequence[Any], member_probs: np.ndarray, ensemble_probs: np.ndarray,
                        targets: np.ndarray, class_names: list[str], threshold: float, name: str) -> dict[str, Any]:
    from medtl_gui.core.evaluation.classification import classification_metrics

    keys = ("accuracy", "balanced_accuracy", "auc", "recall", "specificity", "f1")

    def pick(probabilities: np.ndarray, thr: float) -> dict[str, Any]:
        metrics = classification_metrics(targets, probabilities, class_names, threshold=thr)
        return {k: metrics[k] for k in keys} | {"log_loss": log_loss(probabilities, targets)}

    return {
        "data": name, "n": int(len(targets)),
        "ensemble": pick(ensemble_probs, threshold),
        "members": [{"run_id": m.run_id} | pick(p, m.threshold) for m, p in zip(members, member_probs)],
    }


def validation_targets(images: Any, class_names: list[str]) -> np.ndarray:
    """Targets of labelled ``images`` as indices into the ensemble's ``class_names`` (same names, any order)."""
    unknown = [name for name in images.class_names if name not in class_names]
    if unknown:
        raise EnsembleError(images.name or "data", f"classes {unknown} are unknown to the members, which know "
                            f"{class_names}")
    mapping = np.array([class_names.index(name) for name in images.class_names], dtype=np.int64)
    return mapping[images.targets()]


# --------------------------------------------------------------------------- build and load
def build_ensemble(
    run_dirs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    combination: str = "mean",
    validation: Any = None,
    checkpoint: str = "best",
    device: str = "auto",
    weights: Sequence[float] | None = None,
) -> EnsembleModel:
    """Build an ensemble of the runs ``run_dirs`` in ``out_dir`` (written: ``ensemble.json``) and return it loaded.

    ``combination``: ``mean``, ``weighted`` or ``vote`` (see
    :mod:`ensemble_combination`). ``validation`` (labelled images, e.g. the
    project's validation split) is required for ``weighted`` unless
    ``weights`` are given; with it, the members' and the ensemble's
    validation metrics are stored in the manifest. Raises
    :class:`EnsembleError` for runs that cannot be combined, an existing
    ensemble or run in ``out_dir``, or missing validation data.
    """
    from medtl_gui.core.runs import code_version, utc_now

    folder = Path(out_dir)
    try:
        check_combination(combination)
    except CombinationError as exc:
        raise EnsembleError(folder, str(exc)) from exc
    if is_ensemble_folder(folder) or RunRecord.is_run(folder):
        raise EnsembleError(folder, "already holds an ensemble or a run; choose a new folder")
    members = _load_members(run_dirs, checkpoint, folder)
    class_names = list(members[0].class_names)
    n = len(members)
    member_val = targets = None
    if validation is not None:
        if len(validation) == 0:
            raise EnsembleError(validation.name or "data", "the validation split has no labelled images")
        from medtl_gui.core.inference.prediction import predict_images

        targets = validation_targets(validation, class_names)
        member_val = np.stack([predict_images(m, validation, device) for m in members])
    if weights is not None:
        chosen = np.asarray(weights, dtype=np.float64)
        if chosen.shape != (n,) or np.any(chosen < 0) or chosen.sum() <= 0:
            raise EnsembleError(folder, f"give {n} non-negative weights, got {list(weights)}")
        chosen = chosen / chosen.sum()
        fitted = None
    elif combination == "weighted":
        if member_val is None:
            raise EnsembleError(folder, "weighted averaging fits its weights on a validation split: give the data "
                                "(e.g. --data PROJECT) or explicit weights")
        chosen = fit_weights(member_val, targets)
        fitted = {"objective": "log_loss", "method": "L-BFGS over softmax weights, 4 starts",
                  "data": validation.name, "n": int(len(targets))}
    else:
        chosen, fitted = np.full(n, 1.0 / n), None
    weight_list = [float(w) for w in chosen]
    threshold = _ensemble_threshold(combination, members, weight_list)
    manifest: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "task": "classification", "class_names": class_names,
        "combination": combination, "combination_description": COMBINATIONS[combination],
        "weights": weight_list, "weights_fitted": fitted, "threshold": threshold,
        "members": [_member_entry(m, folder) for m in members],
        "created": utc_now(), "code_version": code_version(),
    }
    ensemble = EnsembleModel(members, combination, weight_list, class_names, threshold, folder, manifest)
    if member_val is not None:
        manifest["validation"] = _validation_figures(members, member_val, ensemble.combine(member_val), targets,
                                                     class_names, threshold, validation.name)
    folder.mkdir(parents=True, exist_ok=True)
    RunRecord(folder).write_ensemble(manifest)
    return ensemble


def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """The ``ensemble.json`` of a folder, checked for its format; raises :class:`EnsembleError`."""
    path = Path(folder) / MANIFEST
    try:
        manifest = RunRecord(folder).read_ensemble()
    except FileNotFoundError as exc:
        raise EnsembleError(folder, f"not an ensemble folder (no {MANIFEST})") from exc
    except (OSError, ValueError) as exc:
        raise EnsembleError(path, f"unreadable manifest ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise EnsembleError(path, f"not a MedTL ensemble manifest (format is not {FORMAT!r})")
    if int(manifest.get("version", 0)) > VERSION:
        raise EnsembleError(path, f"written by a newer MedTL (manifest version {manifest.get('version')})")
    for key in ("members", "combination", "weights", "class_names"):
        if key not in manifest:
            raise EnsembleError(path, f"the manifest has no {key!r}")
    return manifest


def member_folder(entry: dict[str, Any], folder: Path) -> Path:
    """Where a member run is: relative to the ensemble folder if it is there, else its absolute path."""
    relative = (folder / entry.get("run", "")).resolve()
    if RunRecord.is_run(relative):
        return relative
    return Path(entry.get("run_path", relative))


def load_ensemble(folder: str | os.PathLike, tta: str = "none", verify: bool = True) -> EnsembleModel:
    """The ensemble of a folder with its members loaded (eval mode); checksums checked unless ``verify`` is off.

    Raises :class:`EnsembleError` when a member is missing or its
    checkpoint changed since the ensemble was built.
    """
    from medtl_gui.core.inference.trained_model import load_trained_model

    folder = Path(folder)
    manifest = read_manifest(folder)
    members = []
    for entry in manifest["members"]:
        run_dir = member_folder(entry, folder)
        checkpoint_file = run_dir / entry.get("checkpoint_file", "checkpoints/best.safetensors")
        if not checkpoint_file.is_file():
            raise EnsembleError(folder / MANIFEST, f"member {entry.get('run_id')} is missing: no {checkpoint_file}")
        if verify and file_sha256(checkpoint_file) != entry.get("sha256"):
            raise EnsembleError(checkpoint_file, f"the checkpoint of member {entry.get('run_id')} changed since the "
                                "ensemble was built (SHA-256 differs); rebuild the ensemble")
        members.append(load_trained_model(run_dir, entry.get("checkpoint", "best")))
    try:
        check_combination(manifest["combination"])
    except CombinationError as exc:
        raise EnsembleError(folder / MANIFEST, str(exc)) from exc
    if len(manifest["weights"]) != len(members):
        raise EnsembleError(folder / MANIFEST, f"{len(manifest['weights'])} weights for {len(members)} members")
    names = list(manifest["class_names"])
    for member in members:
        if member.class_names != names:
            raise EnsembleError(member.run_dir, f"predicts {member.class_names}, the ensemble {names}")
    report = {"val": manifest.get("validation", {}).get("ensemble")} if manifest.get("validation") else {}
    ensemble = EnsembleModel(members, manifest["combination"], [float(w) for w in manifest["weights"]], names,
                             float(manifest.get("threshold", 0.5)), folder, manifest, report=report)
    return ensemble.with_tta(tta) if tta != "none" else ensemble


def validation_split(data: Any, run_dirs: Sequence[str | os.PathLike]) -> Any:
    """The labelled images to fit weights and report validation metrics on.

    ``data``'s own validation split when it has one; otherwise the training
    images that every member held out for validation (recorded in each
    run's ``config.json``), so that no member has trained on them. Raises
    :class:`EnsembleError` when there are none.
    """
    if data.val is not None and len(data.val):
        return data.val
    held_out: set[str] | None = None
    for run_dir in run_dirs:
        record = RunRecord(run_dir).read_config()
        ids = set(map(str, record.get("data", {}).get("splits", {}).get("val") or []))
        held_out = ids if held_out is None else held_out & ids
    index = {image_id: i for i, image_id in enumerate(data.train.ids)}
    chosen = sorted(index[i] for i in (held_out or set()) if i in index)
    if not chosen:
        raise EnsembleError(data.source or "data", "has no validation split, and the members held out no common "
                            "validation images; give data with a validation split")
    return data.train.subset(chosen, f"{data.train.name}[held out by every member]")
