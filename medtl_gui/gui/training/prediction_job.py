"""Apply a trained run to the project's unlabelled images, storing model proposals (background job, no Qt).

Classification: :func:`medtl_gui.core.inference.project_prediction.predict_project`
(the same code as ``medtl predict PROJECT``) gives every image without a
class label a proposal (class and probabilities), skipping images outside
the model's scope unless the user includes them; segmentation: every image
without a mask gets a mask proposal. Proposals stay apart from the
clinicians' labels until someone confirms or corrects them. The job reports
progress and stops between images when cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medtl_gui.core.tasks import task_named

#: project setting: the test-time augmentation "Apply model" uses (none, flips, flips+rot, full)
PREDICTION_TTA_KEY = "prediction_tta"
#: project setting: "1" when "Apply model" also predicts images outside the model's scope
INCLUDE_OUT_OF_SCOPE_KEY = "prediction_include_out_of_scope"


def prediction_tta(project: Any) -> str:
    """The project's test-time augmentation mode for "Apply model" (``none`` when unset or unknown)."""
    from medtl_gui.core.inference.tta import TTA_MODES

    value = project.meta(PREDICTION_TTA_KEY)
    return value if value in TTA_MODES else "none"


def set_prediction_tta(project: Any, mode: str) -> None:
    """Store the project's test-time augmentation mode for "Apply model"."""
    from medtl_gui.core.inference.tta import check_tta_mode

    project.set_meta(PREDICTION_TTA_KEY, check_tta_mode(mode))


def include_out_of_scope_setting(project: Any) -> bool:
    """Whether "Apply model" predicts images outside the model's scope too (default: no, they are skipped)."""
    return project.meta(INCLUDE_OUT_OF_SCOPE_KEY) == "1"


def set_include_out_of_scope(project: Any, include: bool) -> None:
    """Store the project's choice for images outside the model's scope."""
    project.set_meta(INCLUDE_OUT_OF_SCOPE_KEY, "1" if include else "0")


@dataclass
class PredictionSummary:
    """What a prediction job stored, and what it skipped."""

    run_id: str
    task: str
    total: int = 0
    proposals: list[int] = field(default_factory=list)  # image ids that got a proposal
    failed: list[tuple[str, str]] = field(default_factory=list)  # (image, reason): unreadable
    cancelled: bool = False
    out_of_scope: list[tuple[str, str]] = field(default_factory=list)  # (image, reasons): skipped for the scope
    disagreeing: list[int] = field(default_factory=list)  # labelled images the model puts in another class
    scope_note: str | None = None  # the run recorded no scope: nothing was checked
    included_out_of_scope: int = 0  # images outside the scope predicted because the user included them

    @property
    def masks(self) -> bool:
        """Whether the run's task predicts masks (segmentation) rather than a class per image."""
        return task_named(self.task).prediction_output == "masks"

    def text(self) -> str:
        """One line for the status bar."""
        kind = "mask proposals" if self.masks else "suggested labels"
        parts = [f"{len(self.proposals)} {kind} from run {self.run_id}"]
        if self.out_of_scope:
            parts.append(f"{len(self.out_of_scope)} image(s) outside the model's scope skipped")
        if self.failed:
            parts.append(f"{len(self.failed)} image(s) could not be predicted")
        if self.disagreeing:
            parts.append(f"{len(self.disagreeing)} disagree with an existing label")
        if self.cancelled:
            parts.append("stopped before the end")
        return "; ".join(parts)

    def counts_text(self) -> str:
        """The summary dialog's counts: predicted, skipped (outside the scope, unreadable), disagreeing."""
        if self.total == 0:
            thing, made = ("a mask", "masks") if self.masks else ("a label", "classes")
            return f"Nothing to predict: every image has {thing}. Apply model suggests {made} for images without one."
        from medtl_gui.core.inference.project_prediction import skip_reasons  # torch: loaded on use only

        skipped = len(self.out_of_scope) + len(self.failed)
        lines = [f"Predicted: {len(self.proposals)} of {self.total} image(s)",
                 f"Skipped: {skipped} {skip_reasons(len(self.out_of_scope), len(self.failed))}",
                 f"Disagreeing with an existing label: {len(self.disagreeing)}"]
        if self.included_out_of_scope:
            lines.append(f"Predicted although outside the model's scope (you included them): "
                         f"{self.included_out_of_scope}")
        if self.cancelled:
            lines.append("Stopped before the end: the proposals stored so far are kept.")
        if self.scope_note:
            lines.append(f"Note: {self.scope_note}.")
        return "\n".join(lines)


def run_task(run_dir: str | Path) -> str:
    """The task a run folder trained (an ensemble folder: classification)."""
    from medtl_gui.core.inference.segmentation_predict import run_task as core_run_task
    from medtl_gui.core.runs import RunRecord

    if RunRecord(run_dir).is_ensemble:
        return "classification"
    return core_run_task(run_dir)


def predict_unlabelled(project: Any, run_dir: str | Path, device: str = "auto", batch_size: int = 32,
                       progress: Callable[[int, int, str], None] | None = None,
                       cancel: Any = None, tta: str | None = None, include_out_of_scope: bool | None = None,
                       all_images: bool = False) -> PredictionSummary:
    """Proposals for the unlabelled images (classification) or the images without masks (segmentation).

    ``run_dir`` may be an ensemble folder. ``tta``: test-time augmentation
    (default: the project's setting, :func:`prediction_tta`); segmentation
    supports flips only, so any mode other than ``none`` means flips there.
    Classification: images outside the model's scope are skipped unless
    ``include_out_of_scope`` (default: the project's setting,
    :func:`include_out_of_scope_setting`); ``all_images`` predicts labelled
    images too and counts those the model puts in another class.
    """
    tta = prediction_tta(project) if tta is None else tta
    if task_named(run_task(run_dir)).prediction_output == "masks":
        return _predict_masks(project, run_dir, device, progress, cancel, flips=tta != "none")
    include = include_out_of_scope_setting(project) if include_out_of_scope is None else include_out_of_scope
    return _predict_classes(project, run_dir, device, batch_size, progress, cancel, tta, include, all_images)


def _predict_classes(project: Any, run_dir: str | Path, device: str, batch_size: int,
                     progress: Callable[[int, int, str], None] | None, cancel: Any,
                     tta: str = "none", include_out_of_scope: bool = False,
                     all_images: bool = False) -> PredictionSummary:
    """The core's "apply model" (batched, cancellable, scope-checked), summarised for the GUI."""
    from medtl_gui.core.inference import load_trained_model
    from medtl_gui.core.inference.project_prediction import predict_project

    trained = load_trained_model(run_dir, tta=tta)
    done = predict_project(project, trained, unlabelled_only=not all_images, device=device, batch_size=batch_size,
                           include_out_of_scope=include_out_of_scope, progress=progress, cancel=cancel)
    return PredictionSummary(
        trained.run_id, "classification", total=done.total, proposals=list(done.proposals),
        failed=[(r.source, r.error or "unknown error") for r in done.unreadable], cancelled=done.cancelled,
        out_of_scope=[(r.source, "; ".join(r.outside_scope)) for r in done.out_of_scope],
        disagreeing=list(done.disagreeing), scope_note=done.scope_note,
        included_out_of_scope=sum(1 for r in done.rows if r.ok and r.outside_scope))


def _predict_masks(project: Any, run_dir: str | Path, device: str,
                   progress: Callable[[int, int, str], None] | None, cancel: Any,
                   flips: bool = False) -> PredictionSummary:
    from medtl_gui.core.tasks import task_of

    task = task_of(run_dir)
    done = task.predict_project(run_dir, project, device=device, flips=flips, progress=progress, cancel=cancel)
    return PredictionSummary(done.run_id, task.name, total=done.total,
                             proposals=sorted({int(p["image_id"]) for p in done.proposals}),
                             failed=list(done.failed), cancelled=done.cancelled)
