"""Classification's (and regression's) part of what the training panel and the CLI offer and check before a run.

Qt-free and torch-free: the model list (the zoo), which weights a model
starts from, the pre-flight checks of a config against a project's labels
(:class:`~medtl_gui.core.training.setup_checks.DataSummary`), and the
project's labels frozen for one run. :class:`ClassificationTask` delegates
its hooks here; a config with ``task="regression"`` (a regression head on
the same networks) is told what differs.
"""

from __future__ import annotations

from typing import Any

#: a class needs at least this many labelled training images before a run may start
MIN_LABELS_PER_CLASS = 2
#: the config task value of a regression head (everything else here is shared with classification)
REGRESSION = "regression"


def model_choices() -> list[Any]:
    """The zoo's networks (name, title with its size, tip with input size and licence)."""
    from medtl_gui.core.models.zoo import list_models
    from medtl_gui.core.training.setup_checks import ModelChoice

    return [ModelChoice(s.name, f"{s.title}  ({s.n_parameters / 1e6:.1f} M)",
                        f"{s.description} Input {s.input_size} px by default; licence: {s.licence}.",
                        s.min_input_size)
            for s in list_models()]


def weights_architecture(model: str) -> str | None:
    """The zoo architecture itself (None: not a zoo model)."""
    from medtl_gui.core.models.zoo import MODEL_ZOO

    return model if model in MODEL_ZOO else None


def setup_problems(config: Any, summary: Any) -> list[str]:
    """Labels, batch size against the training images, domain adaptation's target images, the model's minimum
    input size (regression: why a project cannot train it, and the input size)."""
    from medtl_gui.core.models.zoo import MODEL_ZOO

    problems: list[str] = []
    regression = config.task == REGRESSION
    if regression:
        problems.append("This project holds class labels, not numeric targets: regression trains from an .npz "
                        "or a CSV with values on the command line (medtl train DATA --task regression).")
    else:
        problems += _label_problems(summary)
        n_train = training_images(summary)
        if n_train and config.batch_size > n_train:
            problems.append(f"Batch size {config.batch_size} is larger than the {n_train} labelled training "
                            f"images: use at most {n_train} (the presets adapt it).")
        problems += _domain_problems(config, summary)
    spec = MODEL_ZOO.get(config.model)
    if spec is not None and config.image_size is not None and config.image_size < spec.min_input_size:
        problems.append(f"{spec.title} needs images of at least {spec.min_input_size} px, not {config.image_size}.")
    return problems


def _label_problems(summary: Any) -> list[str]:
    if not summary.class_names:
        return ["The project has no classes: add classes (Edit ▸ Classes…) and label images."]
    counts = summary.training_class_counts()  # the train split and the images without a split, as the engine
    short = [(name, counts.get(name, 0)) for name in summary.class_names if counts.get(name, 0) < MIN_LABELS_PER_CLASS]
    if not short:
        return []
    listed = ", ".join(f"'{name}' has {n}" for name, n in short)
    return [f"Too few labels: {listed} labelled training image(s). Label at least {MIN_LABELS_PER_CLASS} training "
            f"images of every class (filter the browser by 'Split: train' and 'Unlabelled')."]


def _domain_problems(config: Any, summary: Any) -> list[str]:
    if config.domain_adaptation == "none":
        return []
    n_target = summary.domains.get(config.target_domain, 0)
    if n_target >= 2:
        return []
    known = ", ".join(f"{name} ({n})" for name, n in summary.domains.items()) or "none"
    return [f"Domain adaptation needs at least 2 images in the target domain '{config.target_domain}' (found "
            f"{n_target}; domains: {known}). Mark them with 'medtl domain PROJECT {config.target_domain} --folder "
            f"DIR' or import them with --domain {config.target_domain}."]


def training_images(summary: Any) -> int:
    """Labelled images a run trains on (the train split and the images without a split)."""
    return sum(summary.training_class_counts().values())


def describe_data(summary: Any) -> str:
    """One line for the panel, e.g. ``train 8 (normal 4 · lesion 4) · val 2 · test 0 labelled``."""
    counts = summary.class_counts.get("train", {})
    per_class = " · ".join(f"{name} {counts.get(name, 0)}" for name in summary.class_names)
    return (f"train {summary.labelled('train')} ({per_class}) · val {summary.labelled('val')} · "
            f"test {summary.labelled('test')} labelled")


def project_data(project: Any) -> Any:
    """``DataSplits`` of the project's labelled images (each image's class copied into its item when read)."""
    from medtl_gui.core.data.project_source import project_splits

    splits = project_splits(project)
    splits.extra["project"] = project  # domain adaptation finds the target-domain images through it
    return splits
