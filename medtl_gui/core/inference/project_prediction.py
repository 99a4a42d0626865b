"""Apply a model to a project's images and store the results as model proposals.

Proposals live apart from the clinicians' labels (``project.set_proposal``):
a prediction never changes a label; a user confirms or corrects it later.
:func:`predict_project` is the one "apply model" that ``medtl predict
PROJECT`` and the GUI's *Apply model* job share: batched (one transaction
per batch of proposals), cancellable between images, with a progress
callback, and with the model's scope check (images outside it are skipped
with the reasons unless the caller includes them). Predictions of labelled
images that differ from the label are counted as disagreements.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.inference.model_scope import ScopeCheck, scope_check
from medtl_gui.core.inference.prediction import PredictionRow, ScanToPredict, iter_predictions
from medtl_gui.core.inference.trained_model import TrainedModel

#: labels that count as the clinician's class when looking for disagreements
USABLE_LABEL_STATUSES = (None, "labelled")


def project_scans(project: Any, split: str | None = None, unlabelled_only: bool = False) -> list[ScanToPredict]:
    """The project's images (optionally one split, or only unlabelled ones) as scans to predict."""
    return [_scan(project, record) for record in project.images(split=split,
                                                                 unlabelled=True if unlabelled_only else None)]


def _scan(project: Any, record: Any) -> ScanToPredict:
    return ScanToPredict(
        source=str(project.image_path(record.id)),
        load=functools.partial(project.read_image, record.id),
        image_id=int(record.id),
        patient_id=record.patient_id,
        study_uid=record.study_uid,
        series_uid=record.series_uid,
    )


def check_classes_match(project: Any, trained: TrainedModel) -> None:
    """Raise :class:`DataError` unless every class the model predicts is a project class."""
    if not trained.class_names:
        return
    project_classes = {c.name for c in project.classes()}
    unknown = [name for name in trained.class_names if name not in project_classes]
    if unknown:
        raise DataError(project.folder, f"the model predicts classes {unknown} that the project does not have "
                        f"(project classes: {sorted(project_classes)}); add them or use a matching run")


@dataclass
class ProjectPredictions:
    """What applying a model to a project did: rows in image order and the counts a summary shows."""

    run_id: str
    rows: list[PredictionRow] = field(default_factory=list)
    total: int = 0
    proposals: list[int] = field(default_factory=list)  # image ids that got a proposal
    disagreeing: list[int] = field(default_factory=list)  # labelled images predicted as another class
    cancelled: bool = False
    scope_note: str | None = None  # the run recorded no scope: nothing was checked

    @property
    def predicted(self) -> int:
        """Images predicted."""
        return sum(1 for row in self.rows if row.ok)

    @property
    def out_of_scope(self) -> list[PredictionRow]:
        """Rows skipped because the image is outside the model's scope."""
        return [row for row in self.rows if row.skipped_for_scope]

    @property
    def unreadable(self) -> list[PredictionRow]:
        """Rows skipped because the image could not be read or prepared."""
        return [row for row in self.rows if not row.ok and not row.skipped_for_scope]

    def text(self) -> str:
        """One line, e.g. ``10 predicted, 3 skipped (2 outside the model's scope, 1 unreadable), 1 disagreeing ...``."""
        skipped = len(self.out_of_scope) + len(self.unreadable)
        parts = [f"{self.predicted} predicted",
                 f"{skipped} skipped {skip_reasons(len(self.out_of_scope), len(self.unreadable))}",
                 f"{len(self.disagreeing)} disagreeing with an existing label"]
        if self.cancelled:
            parts.append(f"stopped after {len(self.rows)} of {self.total}")
        return ", ".join(parts)


def skip_reasons(out_of_scope: int, unreadable: int) -> str:
    """Why images were skipped, e.g. ``(2 outside the model's scope, 1 unreadable)`` (CLI and GUI summaries)."""
    return f"({out_of_scope} outside the model's scope, {unreadable} unreadable)"


def _until_cancelled(scans: list[ScanToPredict], cancel: Any) -> Iterator[ScanToPredict]:
    for scan in scans:
        if cancel is not None and cancel.is_set():
            return
        yield scan


def predict_project(project: Any, trained: TrainedModel, *, split: str | None = None, unlabelled_only: bool = False,
                    device: str = "auto", batch_size: int = 32, store_proposals: bool = True,
                    include_out_of_scope: bool = False, check: ScopeCheck | None = None,
                    progress: Callable[[int, int, str], None] | None = None, cancel: Any = None) -> ProjectPredictions:
    """Predict the project's images; store each class prediction as the image's proposal.

    Labels are left untouched. Regression runs produce rows but no
    proposals. Unreadable images, and images outside the model's scope
    (unless ``include_out_of_scope``), get a row with ``error`` and no
    proposal. ``progress(done, total, source)`` after each image;
    ``cancel`` (a ``threading.Event``) stops between images, keeping the
    proposals stored so far. ``check`` overrides the run's own scope check.
    """
    if store_proposals:
        check_classes_match(project, trained)
    check = check or scope_check(trained.run_dir, include_out_of_scope)
    records = project.images(split=split, unlabelled=True if unlabelled_only else None)
    labels = {r.id: r.label for r in records if r.label and r.label_status in USABLE_LABEL_STATUSES}
    scans = [_scan(project, record) for record in records]
    result = ProjectPredictions(trained.run_id, total=len(scans), scope_note=check.note)
    pending: list[PredictionRow] = []

    def store() -> None:
        """One transaction (one fsync) per batch of proposals, not one per image."""
        with project.transaction():
            for row in pending:
                project.set_proposal(row.image_id, str(row.predicted), row.probabilities, run_id=trained.run_id)
        result.proposals.extend(int(row.image_id) for row in pending)
        pending.clear()

    for row in iter_predictions(trained, _until_cancelled(scans, cancel), device, batch_size, check):
        result.rows.append(row)
        if row.ok and trained.class_names and row.image_id is not None:
            if labels.get(row.image_id) not in (None, row.predicted):
                result.disagreeing.append(row.image_id)
            if store_proposals:
                pending.append(row)
        if len(pending) >= batch_size:
            store()
        if progress is not None:
            progress(len(result.rows), result.total, row.source)
    if pending:
        store()
    result.cancelled = len(result.rows) < result.total
    return result
