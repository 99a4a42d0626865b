"""Evaluate a trained segmentation run on masked images (its own split or another project's).

Another project works as an external test set when it names the same
segmentation labels (its mask values may differ: labels are matched by
name). Metrics are computed inside each image's field of view when it has
one (see :class:`medtl_gui.core.evaluation.segmentation.SegmentationScorer`).
"""

from __future__ import annotations

import os
from typing import Any

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.data.segmentation import SegmentationImages
from medtl_gui.core.data.segmentation_cases import prepare_case
from medtl_gui.core.evaluation.segmentation import SegmentationScorer


def evaluate_segmentation_run(
    run_dir: str | os.PathLike,
    images: SegmentationImages,
    *,
    threshold: float | None = None,
    device: str = "auto",
    checkpoint: str = "best",
    flips: bool = False,
) -> dict[str, Any]:
    """Dice, IoU, pixel ROC AUC, sensitivity, specificity, accuracy (overall, per label, per case).

    ``images`` must use the run's label names in the run's order (build
    them with ``segmentation_from_project(project, split, label_names)``).
    ``flips``: average with horizontally and vertically flipped predictions.
    """
    from medtl_gui.core.inference.segmentation_predict import SegmentationPredictor, load_segmentation_run

    if len(images) == 0:
        raise DataError(images.name or "data", "no images with masks to evaluate")
    trained = load_segmentation_run(run_dir, checkpoint)
    if images.label_names != trained.label_names:
        raise DataError(images.name or "data", f"labels {images.label_names} differ from the model's "
                        f"{trained.label_names}")
    used_threshold = trained.threshold if threshold is None else threshold
    predictor = SegmentationPredictor(trained, device, flips)
    scorer = SegmentationScorer(trained.label_names, used_threshold)
    for item in images:
        case = prepare_case(item, trained.input_spec)
        scorer.add(case.case_id, predictor.probabilities(case), case.labels.numpy(),
                   case.fov.numpy() if case.has_fov else None)
    return {"run": str(trained.run_dir), "checkpoint": trained.checkpoint, "data": images.name,
            "task": "segmentation", "n": len(images), "flips": flips, **scorer.report()}
