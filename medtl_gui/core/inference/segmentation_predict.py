"""Apply a trained segmentation run: rebuild it from its folder, predict whole images, store proposals.

Predicted masks are written as *model proposals* (``project.set_mask_proposal``,
kept apart from the clinician's final masks, with the run id), which the
annotation view shows as an overlay that the user accepts or corrects with
the brush. Images are predicted with the same sliding-window inference as
validation (see :mod:`medtl_gui.core.training.segmentation_inference`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.data.segmentation import ImagePlane, SegmentationItem, seg_label_values
from medtl_gui.core.data.segmentation_cases import PreparedCase, SegmentationInput, prepare_case
from medtl_gui.core.evaluation.segmentation import label_probabilities, predicted_labels
from medtl_gui.core.training import checkpoints
from medtl_gui.core.training.config import TrainConfig
from medtl_gui.core.runs import RunRecord


@dataclass
class TrainedSegmentationModel:
    """A segmentation run's network with what is needed to feed it and read its outputs."""

    model: Any  # SegmentationModel, in eval mode
    config: TrainConfig
    input_spec: SegmentationInput
    patch_size: int
    label_names: list[str]
    threshold: float
    checkpoint: str
    run_dir: Path
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        """The run folder's name."""
        return self.run_dir.name


def run_task(run_dir: str | os.PathLike) -> str:
    """The task ("classification", "regression", "segmentation") of a run folder."""
    return RunRecord.task_of(RunRecord.existing(run_dir).read_config())


def load_segmentation_run(run_dir: str | os.PathLike, checkpoint: str = "best") -> TrainedSegmentationModel:
    """The network of checkpoint ``checkpoint`` (default ``best``) of a segmentation run.

    The checkpoint is verified first; a damaged or missing one raises
    :class:`~medtl_gui.core.training.checkpoint_integrity.CheckpointError`
    naming the file (no fallback to another checkpoint).
    """
    from medtl_gui.core.models.segmentation.builder import build_segmentation_model

    folder = RunRecord.existing(run_dir)
    record = folder.read_config()
    config = folder.train_config(record)
    if config.task != "segmentation":
        raise DataError(folder.path, f"this run trained a {config.task} model, not a segmentation model")
    state = checkpoints.load_model_state(folder.checkpoints, checkpoint)  # verified; no fallback to another
    labels = list(record["data"]["label_names"])
    bundle = build_segmentation_model(config.model, n_labels=len(labels),
                                      in_channels=int(record["model"]["in_channels"]),
                                      base_channels=config.base_channels)
    bundle.model.load_state_dict(state)
    bundle.model.eval()
    prep = record["preprocessing"]
    report = folder.read_report() or {}
    threshold = float(report.get("decision_threshold") or config.threshold)
    return TrainedSegmentationModel(bundle.model, config, SegmentationInput.from_json(prep), int(prep["patch_size"]),
                                    labels, threshold, checkpoint, folder.path, record)


class SegmentationPredictor:
    """Predicts probability maps and label masks of whole images with a trained run."""

    def __init__(self, trained: TrainedSegmentationModel, device: str = "auto", flips: bool = False):
        import torch

        from medtl_gui.core.training.device import plan_execution

        self.trained = trained
        self.flips = flips
        self.plan = plan_execution(device, trained.config.precision, trained.config.channels_last)
        self.model = trained.model.to(self.plan.device).eval()
        if self.plan.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)

    def probabilities(self, case: PreparedCase) -> np.ndarray:
        """Per-pixel output probabilities (outputs, H, W) of a prepared image."""
        from medtl_gui.core.training.segmentation_inference import predict_case

        config = self.trained.config
        _, probabilities = predict_case(self.model, case, self.trained.patch_size, config.sliding_window_overlap,
                                        config.batch_size, self.plan, self.flips, self.trained.input_spec.scale)
        return probabilities

    def predict_plane(self, plane: ImagePlane, fov: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Label indices (uint8, H, W; 0 outside ``fov``) and per-label probabilities (labels, H, W)."""
        item = SegmentationItem("image", "image", lambda: plane, lambda: None, lambda: fov)
        probabilities = self.probabilities(prepare_case(item, self.trained.input_spec, with_mask=False))
        labels = predicted_labels(probabilities, self.trained.threshold)
        if fov is not None:
            labels[~np.asarray(fov, bool)] = 0
        return labels, label_probabilities(probabilities, len(self.trained.label_names))


@dataclass
class ProposalSummary:
    """What :func:`predict_project_masks` stored."""

    run_id: str
    proposals: list[dict[str, Any]] = field(default_factory=list)  # image_id, slice, foreground pixels
    failed: list[tuple[str, str]] = field(default_factory=list)  # (image, reason)
    total: int = 0  # images asked for
    cancelled: bool = False  # stopped before the last image

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"run_id": self.run_id, "proposals": self.proposals,
                "failed": [{"image": i, "reason": r} for i, r in self.failed]}


def _label_values(project: Any, label_names: Sequence[str]) -> np.ndarray:
    """Lookup from the model's label indices to the project's mask values."""
    names, index_of_value = seg_label_values(project)
    value_of_name = {name: value for value, name in zip(sorted(index_of_value), names)}
    missing = [name for name in label_names if name not in value_of_name]
    if missing:
        raise DataError(getattr(project, "folder", "project"), f"segmentation labels {missing} of the model are not "
                        f"in the project (it has {names}); add them first")
    return np.array([0, *[value_of_name[name] for name in label_names]], dtype=np.uint8)


def predict_project_masks(
    project: Any,
    trained: TrainedSegmentationModel,
    image_ids: Sequence[int] | None = None,
    *,
    device: str = "auto",
    flips: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
    cancel: Any = None,
) -> ProposalSummary:
    """Predict masks of project images (default: every image without a final mask) as proposals.

    Volumes are predicted slice by slice (one proposal per slice that
    holds any foreground). Images that cannot be read are listed in
    ``failed``; the others are stored even when one fails. ``cancel`` (a
    ``threading.Event``) is checked before each image: what was stored stays,
    and the summary says ``cancelled``. ``progress(done, total, text)``
    follows each image.
    """
    values = _label_values(project, trained.label_names)
    if image_ids is None:
        image_ids = [r.id for r in project.images(has_mask=False)]
    predictor = SegmentationPredictor(trained, device, flips)
    summary = ProposalSummary(trained.run_id, total=len(image_ids))
    for done, image_id in enumerate(image_ids, start=1):
        if cancel is not None and cancel.is_set():
            summary.cancelled = True
            break
        try:
            scan = project.read_image(image_id)
            pixels = np.asarray(scan.pixels)
            fov = project.fov_mask(image_id)
            fov = None if fov is None else fov > 0
            volume = getattr(scan, "n_frames", 1) > 1
            planes = [(z, pixels[z]) for z in range(pixels.shape[0])] if volume else [(None, pixels)]
            for slice_index, plane in planes:
                labels, _ = predictor.predict_plane(ImagePlane(plane, getattr(scan, "window", None)),
                                                    None if volume else fov)
                if volume and not labels.any():
                    continue
                project.set_mask_proposal(image_id, values[labels], slice_index, run_id=trained.run_id)
                summary.proposals.append({"image_id": int(image_id), "slice": slice_index,
                                          "foreground_pixels": int(np.count_nonzero(labels))})
        except Exception as exc:  # noqa: BLE001 - one unreadable image must not stop the others
            summary.failed.append((str(image_id), f"{type(exc).__name__}: {exc}"))
        if progress is not None:
            progress(done, len(image_ids), f"image {image_id}")
    return summary
