"""Apply a trained run to the project's unlabelled images, storing model proposals (background job, no Qt).

Classification: every image without a class label gets a proposal (class
and probabilities) through ``project.set_proposal``; segmentation: every
image without a mask gets a mask proposal. Proposals stay apart from the
clinicians' labels until someone confirms or corrects them. The job reports
progress and stops between images when cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: segmentation images predicted per call of the core (cancel is checked between calls)
SEGMENTATION_CHUNK = 4
#: project setting: the test-time augmentation "Apply model" uses (none, flips, flips+rot, full)
PREDICTION_TTA_KEY = "prediction_tta"


def prediction_tta(project: Any) -> str:
    """The project's test-time augmentation mode for "Apply model" (``none`` when unset or unknown)."""
    from medtl_gui.core.inference.tta import TTA_MODES

    value = project.meta(PREDICTION_TTA_KEY)
    return value if value in TTA_MODES else "none"


def set_prediction_tta(project: Any, mode: str) -> None:
    """Store the project's test-time augmentation mode for "Apply model"."""
    from medtl_gui.core.inference.tta import check_tta_mode

    project.set_meta(PREDICTION_TTA_KEY, check_tta_mode(mode))


@dataclass
class PredictionSummary:
    """What a prediction job stored."""

    run_id: str
    task: str
    total: int = 0
    proposals: list[int] = field(default_factory=list)  # image ids that got a proposal
    failed: list[tuple[str, str]] = field(default_factory=list)  # (image, reason)
    cancelled: bool = False

    def text(self) -> str:
        """One line for the status bar."""
        kind = "mask proposals" if self.task == "segmentation" else "suggested labels"
        parts = [f"{len(self.proposals)} {kind} from run {self.run_id}"]
        if self.failed:
            parts.append(f"{len(self.failed)} image(s) could not be predicted")
        if self.cancelled:
            parts.append("stopped before the end")
        return "; ".join(parts)


def run_task(run_dir: str | Path) -> str:
    """The task a run folder trained (an ensemble folder: classification)."""
    from medtl_gui.core.inference.segmentation_predict import run_task as core_run_task

    if (Path(run_dir) / "ensemble.json").is_file():
        return "classification"
    return core_run_task(run_dir)


def predict_unlabelled(project: Any, run_dir: str | Path, device: str = "auto", batch_size: int = 32,
                       progress: Callable[[int, int, str], None] | None = None,
                       cancel: Any = None, tta: str | None = None) -> PredictionSummary:
    """Proposals for the unlabelled images (classification) or the images without masks (segmentation).

    ``run_dir`` may be an ensemble folder. ``tta``: test-time augmentation
    (default: the project's setting, :func:`prediction_tta`); segmentation
    supports flips only, so any mode other than ``none`` means flips there.
    """
    tta = prediction_tta(project) if tta is None else tta
    if run_task(run_dir) == "segmentation":
        return _predict_masks(project, run_dir, device, progress, cancel, flips=tta != "none")
    return _predict_classes(project, run_dir, device, batch_size, progress, cancel, tta)


def _cancelled(cancel: Any) -> bool:
    return cancel is not None and cancel.is_set()


def _predict_classes(project: Any, run_dir: str | Path, device: str, batch_size: int,
                     progress: Callable[[int, int, str], None] | None, cancel: Any,
                     tta: str = "none") -> PredictionSummary:
    from medtl_gui.core.inference import load_trained_model
    from medtl_gui.core.inference.prediction import iter_predictions
    from medtl_gui.core.inference.project_prediction import check_classes_match, project_scans

    trained = load_trained_model(run_dir, tta=tta)
    check_classes_match(project, trained)
    scans = project_scans(project, unlabelled_only=True)
    summary = PredictionSummary(trained.run_id, "classification", total=len(scans))
    pending: list[Any] = []

    def store() -> None:
        """One transaction (one fsync) per batch of proposals, not one per image."""
        with project.transaction():
            for row in pending:
                project.set_proposal(row.image_id, str(row.predicted), row.probabilities, run_id=trained.run_id)
        summary.proposals.extend(int(row.image_id) for row in pending)
        pending.clear()

    for done, row in enumerate(iter_predictions(trained, _until_cancelled(scans, cancel), device, batch_size), 1):
        if row.ok and row.image_id is not None and trained.class_names:
            pending.append(row)
        elif not row.ok:
            summary.failed.append((row.source, row.error or "unknown error"))
        if len(pending) >= batch_size:
            store()
        if progress is not None:
            progress(done, len(scans), row.source)
    if pending:
        store()
    summary.cancelled = _cancelled(cancel)
    return summary


def _until_cancelled(items: list[Any], cancel: Any):
    for item in items:
        if _cancelled(cancel):
            return
        yield item


def _predict_masks(project: Any, run_dir: str | Path, device: str,
                   progress: Callable[[int, int, str], None] | None, cancel: Any,
                   flips: bool = False) -> PredictionSummary:
    from medtl_gui.core.inference.segmentation_predict import load_segmentation_run, predict_project_masks

    trained = load_segmentation_run(run_dir)
    image_ids = [r.id for r in project.images(has_mask=False)]
    summary = PredictionSummary(trained.run_id, "segmentation", total=len(image_ids))
    for start in range(0, len(image_ids), SEGMENTATION_CHUNK):
        if _cancelled(cancel):
            summary.cancelled = True
            break
        chunk = image_ids[start:start + SEGMENTATION_CHUNK]
        result = predict_project_masks(project, trained, chunk, device=device, flips=flips)
        summary.proposals += sorted({int(p["image_id"]) for p in result.proposals})
        summary.failed += list(result.failed)
        if progress is not None:
            progress(min(start + len(chunk), len(image_ids)), len(image_ids), f"image {chunk[-1]}")
    return summary
