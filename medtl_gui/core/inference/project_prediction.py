"""Predict a project's images and store the results as model proposals.

Proposals live apart from the clinicians' labels (``project.set_proposal``):
a prediction never changes a label; a user confirms or corrects it later.
"""

from __future__ import annotations

import functools
from typing import Any

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.inference.prediction import PredictionRow, ScanToPredict, iter_predictions
from medtl_gui.core.inference.trained_model import TrainedModel


def project_scans(project: Any, split: str | None = None, unlabelled_only: bool = False) -> list[ScanToPredict]:
    """The project's images (optionally one split, or only unlabelled ones) as scans to predict."""
    records = project.images(split=split, unlabelled=True if unlabelled_only else None)
    return [
        ScanToPredict(
            source=str(project.image_path(record.id)),
            load=functools.partial(project.read_image, record.id),
            image_id=int(record.id),
            patient_id=record.patient_id,
            study_uid=record.study_uid,
            series_uid=record.series_uid,
        )
        for record in records
    ]


def check_classes_match(project: Any, trained: TrainedModel) -> None:
    """Raise :class:`DataError` unless every class the model predicts is a project class."""
    if not trained.class_names:
        return
    project_classes = {c.name for c in project.classes()}
    unknown = [name for name in trained.class_names if name not in project_classes]
    if unknown:
        raise DataError(project.folder, f"the model predicts classes {unknown} that the project does not have "
                        f"(project classes: {sorted(project_classes)}); add them or use a matching run")


def predict_project(project: Any, trained: TrainedModel, *, split: str | None = None, unlabelled_only: bool = False,
                    device: str = "auto", batch_size: int = 32, store_proposals: bool = True) -> list[PredictionRow]:
    """Predict the project's images; store each class prediction as the image's proposal.

    Labels are left untouched. Regression runs produce rows but no proposals.
    Unreadable images get a row with ``error`` and no proposal.
    """
    if store_proposals:
        check_classes_match(project, trained)
    rows = []
    for row in iter_predictions(trained, project_scans(project, split, unlabelled_only), device, batch_size):
        if store_proposals and row.ok and trained.class_names and row.image_id is not None:
            project.set_proposal(row.image_id, str(row.predicted), row.probabilities, run_id=trained.run_id)
        rows.append(row)
    return rows
