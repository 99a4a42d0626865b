"""What a run may be set up with, and what stops it, before any thread starts: shared by the GUI and the CLI.

Qt-free and torch-free. The training panel turns its widgets into a
:class:`TrainConfig` (settings are copied before the worker thread starts);
this module says which values a preset fills, which pretrained weights can
be chosen (and why others cannot), and what is wrong with a configuration
for the project's data. What depends on the task (the model list, the
encoder a model's weights fit, the data checks, the data line) is asked of
the task through the registry (:mod:`medtl_gui.core.tasks`).
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from medtl_gui.core.models.zoo import MODEL_ZOO
from medtl_gui.core.openmp import OPENMP_SPIN_LIMITS, OPENMP_VARIABLES, limit_openmp_spinning  # noqa: F401 (re-exported)
from medtl_gui.core.tasks import registered_tasks, task_for_config, task_named, task_names
from medtl_gui.core.tasks.classification_checks import MIN_LABELS_PER_CLASS  # noqa: F401 (re-exported)
from medtl_gui.core.training.config import ConfigError, TrainConfig
from medtl_gui.core.training.presets import (  # noqa: F401 (re-exported: the panel's presets live in core)
    GUI_VALIDATION_SAMPLES,
    PRESETS,
    PRESETS_BY_NAME,
    TrainingPreset,
    preset_choice,
    preset_config,
)

#: strategies that make no sense without pretrained weights
NEEDS_PRETRAINED = {
    "feature_extraction": "Feature extraction keeps the backbone frozen: without pretrained weights it learns "
                          "nothing. Choose pretrained weights or the 'Full fine-tuning' strategy.",
    "l2sp": "L2-SP keeps the weights near their pretrained values: choose pretrained weights.",
    "lwf": "Learning without Forgetting distils the pretrained network's outputs: choose pretrained weights.",
}


def task_titles() -> dict[str, str]:
    """Config task value -> display title: each task's own name first (registration order), then the other values
    they serve (e.g. regression), each with its ``titles`` entry or the task's ``title``."""
    tasks = [t for t in registered_tasks() if t.trains_on_projects]  # the panel trains on the open project
    names = [t.name for t in tasks] + [n for t in tasks for n in (t.names or (t.name,)) if n != t.name]
    return {name: task_named(name).titles.get(name, task_named(name).title) for name in names}


#: the task choices of the panel, in its order (Classification, Segmentation, Regression)
TASK_TITLES: dict[str, str] = task_titles()


# ------------------------------------------------------------------------------ models
@dataclass(frozen=True)
class ModelChoice:
    """One entry of the model list: config value, display text, tool tip."""

    name: str
    text: str
    tip: str
    min_input_size: int = 16


def model_choices(task: str) -> list[ModelChoice]:
    """The networks that can train for ``task`` (segmentation: U-Nets; otherwise the zoo)."""
    return task_named(task).model_choices()


def weights_architecture(model: str, task: str) -> str | None:
    """The zoo architecture whose weights a model starts from (a U-Net's encoder; None: none can)."""
    return task_named(task).weights_architecture(model)


# ----------------------------------------------------------------------------- weights
@dataclass(frozen=True)
class WeightChoice:
    """One entry of the pretrained-weights list; disabled ones say why and how to fix it in ``reason``."""

    value: str | None  # the config's ``pretrained``
    text: str
    enabled: bool
    reason: str


class NoWeightStore:
    """Stands in for a weight store before one is set: nothing stored."""

    def entries(self) -> list:
        return []

    def missing_message(self, model_name: str, wanted: str) -> str:
        return f"weights {wanted!r} for {model_name} are not in the weight store (none is set up yet)"


def weight_choices(store: Any, model: str, task: str) -> list[WeightChoice]:
    """Random init, the zoo's ImageNet weights and the store's entries, for ``model``.

    Entries of other architectures and ImageNet weights that are not in the
    store are listed disabled with the reason and how to import them.
    """
    choices = [WeightChoice(None, "None (random initialisation)", True,
                            "Train from random weights: no pretrained file needed.")]
    the_task = task_named(task)
    architecture = the_task.weights_architecture(model)
    if architecture is None:
        reason = the_task.random_init_reason(model)
        if reason:
            choices[0] = replace(choices[0], reason=reason)
        return choices
    spec = MODEL_ZOO[architecture]
    try:
        entries = list(store.entries())
    except Exception as exc:  # noqa: BLE001 - a broken manifest must not break the panel
        entries = []
        choices.append(WeightChoice("imagenet", "ImageNet (weight store unreadable)", False,
                                    f"The weight store cannot be read: {exc}"))
        return choices
    if spec.weights is not None:
        present = any(e.name == spec.weights.name for e in entries)
        spoofed = any(e.name == spec.weights.name and getattr(e, "verification", "verified") == "mismatch"
                      for e in entries)
        reason = (f"{spec.weights.source}; {spec.weights.licence}" if present
                  else store.missing_message(architecture, spec.weights.name))
        if spoofed:
            reason = (f"The store's {spec.weights.name} is not torchvision's published file (its SHA-256 does not "
                      "match): it will not be used. Remove it and import the published file.")
        choices.append(WeightChoice("imagenet", f"ImageNet ({spec.weights.name})" + (
            " — unverified, refused" if spoofed else "" if present else " — missing"), present and not spoofed,
            reason))
    imagenet_name = spec.weights.name if spec.weights is not None else None
    for entry in sorted(entries, key=lambda e: (e.architecture != architecture, e.name)):
        if entry.name == imagenet_name:
            continue
        if entry.architecture == architecture:
            state = getattr(entry, "verification", "verified")
            flag = {"unverified": " (unverified)", "mismatch": " (unverified, refused)"}.get(state, "")
            note = {"unverified": "Unverified: a user-supplied file; nothing proves what it was trained on. ",
                    "mismatch": "Refused: it claims to be a published file but its SHA-256 does not match. "}
            choices.append(WeightChoice(entry.name, f"{entry.name} — {entry.source}{flag}", state != "mismatch",
                                        f"{note.get(state, '')}{entry.source}; licence: {entry.licence}"))
        else:
            choices.append(WeightChoice(entry.name, f"{entry.name} ({entry.architecture})", False,
                                        f"These weights are for {entry.architecture}, not {architecture}: "
                                        f"choose the model {entry.architecture} to use them."))
    return choices


# ------------------------------------------------------------------------------- data
#: the summary's name for images without a split (they train with the training split)
UNASSIGNED = "unassigned"


@dataclass(frozen=True)
class DataSummary:
    """What the project holds for training (a snapshot for the panel's checks)."""

    class_names: list[str] = field(default_factory=list)
    class_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> class -> labelled images
    masked: dict[str, int] = field(default_factory=dict)  # split -> images with a mask
    seg_labels: list[str] = field(default_factory=list)
    domains: dict[str, int] = field(default_factory=dict)  # domain -> images ("source" is the default domain)

    def labelled(self, split: str) -> int:
        """Labelled images of a split."""
        return sum(self.class_counts.get(split, {}).values())

    def training_class_counts(self) -> dict[str, int]:
        """Labelled images a run trains on, per class: the train split and, as the engine does, the images
        without a split (never the test split)."""
        return {name: self.class_counts.get("train", {}).get(name, 0)
                + self.class_counts.get(UNASSIGNED, {}).get(name, 0) for name in self.class_names}

    def training_masked(self) -> int:
        """Masked images a segmentation run trains on: the train split and the images without a split."""
        return self.masked.get("train", 0) + self.masked.get(UNASSIGNED, 0)

    def training_images(self, task: str) -> int:
        """Images a run of ``task`` trains and validates on (classification: labelled; segmentation: masked)."""
        return task_named(task).training_images(self)

    def describe(self, task: str) -> str:
        """One line for the panel, e.g. ``train 8 (normal 4 · lesion 4) · val 2 · test 0 labelled``."""
        return task_named(task).describe_data(self)


def summarise_project(project: Any, with_masks: bool = True) -> DataSummary:
    """Class counts per split (one query) and, with ``with_masks``, masked images per split."""
    info = project.info()
    class_names = list(info.get("classes", []))
    counts = {split: {name: int(n) for name, n in values.get("classes", {}).items()}
              for split, values in info.get("splits", {}).items()}
    masked: dict[str, int] = {}
    if with_masks and info.get("masks"):
        for split in ("train", "val", "test", UNASSIGNED):
            masked[split] = len(project.images(split=split, has_mask=True))
    from medtl_gui.core.project.domains import domain_counts

    domains = {name: c["images"] for name, c in domain_counts(project).items()} if hasattr(project, "database") else {}
    return DataSummary(class_names, counts, masked, list(info.get("seg_labels", [])), domains)


def setup_problems(config: TrainConfig, summary: DataSummary, store: Any | None = None) -> list[str]:
    """Why a run with ``config`` cannot start on this project (empty: it can). Clear, actionable sentences.

    The config's own settings first, then the task's checks of the data, then the pretrained weights."""
    problems: list[str] = []
    try:
        config.validate()
    except ConfigError as exc:
        problems.append(f"Setting '{exc.key}': {exc.reason}.")
    if config.task not in task_names():  # validate() said so: nothing else can be checked
        return problems
    problems += task_for_config(config).setup_problems(config, summary)
    problems += _weight_problems(config, store)
    return problems


def project_setup_problems(config: TrainConfig, location: str | Path, store: Any | None = None) -> list[str]:
    """:func:`setup_problems` of a run on the project at ``location`` (``medtl train PROJECT`` asks the panel's
    questions before it starts); empty for data that is not a project (an .npz is checked by the engine)."""
    from medtl_gui.core.inference.location_prediction import PROJECT_FILE
    from medtl_gui.core.project import Project

    if not (Path(location) / PROJECT_FILE).is_file():
        return []
    with Project.open(location) as project:
        summary = summarise_project(project)
    return setup_problems(config, summary, store)


def _weight_problems(config: TrainConfig, store: Any | None) -> list[str]:
    pretrained = None if config.pretrained in (None, "none") else config.pretrained
    problems = []
    retention = config.retention if config.retention not in (None, "none") else None
    needs = NEEDS_PRETRAINED.get(config.strategy) or (NEEDS_PRETRAINED.get(retention) if retention else None)
    if pretrained is None and needs:
        problems.append(needs)
    if pretrained is None or store is None:
        return problems
    architecture = task_for_config(config).weights_architecture(config.model)
    if architecture is None:
        problems.append(f"{config.model} trains from scratch: choose 'None' as pretrained weights.")
        return problems
    try:
        store.resolve(architecture, pretrained)
    except Exception as exc:  # noqa: BLE001 - MissingWeightsError / WeightsError carry the how-to
        problems.append(f"Pretrained weights: {exc}")
    return problems


# ------------------------------------------------------------------------------ devices
def device_choices() -> list[str]:
    """``auto``, ``cpu`` and one ``cuda:N`` per NVIDIA GPU the driver lists (found without importing torch)."""
    choices = ["auto", "cpu"]
    gpus = Path("/proc/driver/nvidia/gpus")
    try:
        n_gpus = len([p for p in gpus.iterdir() if p.is_dir()]) if gpus.is_dir() else 0
    except OSError:
        n_gpus = 0
    choices += [f"cuda:{i}" for i in range(n_gpus)]
    if platform.system() == "Darwin":
        choices.append("mps")
    return choices


def training_threads(cpu_count: int | None = None) -> int:
    """torch CPU threads for a run under the GUI: every core on small machines, one left for the GUI on larger ones.

    On 1-2 cores a thread less would halve the training speed, and the GUI
    thread mostly sleeps (the OS wakes it ahead of the busy training threads);
    with more cores one (two above 8) stays free so redraws never queue.
    """
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    if cores <= 2:
        return max(1, cores)
    return cores - (1 if cores <= 8 else 2)
