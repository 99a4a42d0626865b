"""Everything an evaluation report shows, gathered from a run folder and its data (no HTML here).

The metric numbers are those of ``medtl evaluate --json``: this module
calls the same functions with the same arguments
(:func:`~medtl_gui.core.evaluation.run_evaluation.evaluate_run`, or
:func:`~medtl_gui.core.evaluation.segmentation_run.evaluate_segmentation_run`
for a segmentation run) and adds only what the figures need: the
probabilities of the same images for ROC / precision-recall / calibration
curves and the gallery of the most confident errors.
"""

from __future__ import annotations

import contextlib

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.runs import RunRecord

#: how many confident errors the gallery shows
GALLERY_SIZE = 8
SPLITS = ("train", "val", "test")


@dataclass
class GalleryItem:
    """One wrongly classified image: thumbnail (``data:`` URI), true and predicted class, probability."""

    image_id: str
    thumbnail: str
    true_class: str
    predicted_class: str
    probability: float
    saliency: str = ""  # Grad-CAM of the predicted class over the image (data URI), when available


@dataclass
class ReportContent:
    """What the report says, section by section (JSON-ready values, thumbnails as data URIs)."""

    run_id: str
    task: str
    split: str
    data_name: str
    generated: str
    identified: bool
    evaluation: dict[str, Any]
    record: dict[str, Any]
    run_report: dict[str, Any]
    data_summary: dict[str, Any]
    patient_check: dict[str, Any]
    model_card: dict[str, Any]
    epochs: list[dict[str, Any]]
    probabilities: np.ndarray | None = None
    targets: np.ndarray | None = None
    gallery: list[GalleryItem] = field(default_factory=list)
    project_folder: Path | None = None


def data_location(run_dir: str | os.PathLike, data: str | os.PathLike | None,
                  note: Callable[[str], None] | None = None) -> str:
    """The data to evaluate on: ``data`` if given, else the data the run trained on, found relative to the run
    when the run lies in its project (a moved or copied project's own data; see ``run_project.py``).
    ``note(text)`` hears, once, when that is not where the run says; DataError when it cannot be found."""
    if data is not None:
        return str(data)
    from medtl_gui.core.training.run_project import run_data_source

    found = run_data_source(run_dir, RunRecord.existing(run_dir).read_config())
    if found.location is None:
        raise DataError(run_dir, f"{found.note.removeprefix(str(Path(run_dir).resolve()) + ': ')}; "
                                 "name the data (--data PROJECT_OR_NPZ)")
    if found.note and note is not None:
        note(found.note)
    return found.location


def _display_name(location: str, identified: bool) -> str:
    """The data's name for the report: the full path when identified, else only its last part."""
    return location if identified else Path(location).name


def _patient_check(project: Any, identified: bool) -> dict[str, Any]:
    """Patients whose images lie in more than one split (a leak between training and test)."""
    splits_of: dict[str, set[str]] = {}
    with_id = without_id = 0
    for record in project.images():
        if record.split not in SPLITS:
            continue
        if not record.patient_id:
            without_id += 1
            continue
        with_id += 1
        splits_of.setdefault(str(record.patient_id), set()).add(record.split)
    leaks = {patient: sorted(s, key=SPLITS.index) for patient, s in splits_of.items() if len(s) > 1}
    if not identified and leaks:
        from medtl_gui.core.privacy import project_salt, pseudonym

        salt = project_salt(project)
        leaks = {pseudonym(patient, salt): s for patient, s in leaks.items()}
    return {"available": True, "n_patients": len(splits_of), "images_with_patient_id": with_id,
            "images_without_patient_id": without_id, "patients_in_several_splits": leaks,
            "passed": not leaks}


def _no_patient_ids(reason: str) -> dict[str, Any]:
    return {"available": False, "reason": reason, "passed": None, "patients_in_several_splits": {}}


def _class_counts(splits: Any) -> dict[str, Any]:
    """Images per class and split of a :class:`DataSplits`."""
    counts: dict[str, list[int]] = {}
    for name in SPLITS:
        images = getattr(splits, name, None)
        if images is not None and len(images):
            counts[name] = images.class_counts().tolist() if images.class_names else [len(images)]
    return {"class_names": list(splits.class_names), "counts": counts}


def _saliency_thumbnail(trained: Any, loaded: Any, plane: np.ndarray, class_index: int, device: str) -> str:
    """Grad-CAM of ``class_index`` blended over ``plane`` as a PNG data URI ("" when it cannot be made)."""
    try:
        from medtl_gui.core.review.heatmap_colors import blend_overlay
        from medtl_gui.core.review.saliency import explain_image
    except ImportError:  # saliency is an optional part of the review package
        return ""
    from medtl_gui.core.reporting.thumbnails import png_data_uri

    try:
        saliency = explain_image(trained, loaded, class_index, device=device)
        return png_data_uri(blend_overlay(plane.astype(np.float32) / 255.0, saliency.heatmap, opacity=0.45))
    except Exception:  # noqa: BLE001 - a map that cannot be made leaves the plain thumbnail
        return ""


def _gallery(images: Any, probabilities: np.ndarray, targets: np.ndarray, predictions: np.ndarray,
             trained: Any, device: str) -> list[GalleryItem]:
    from medtl_gui.core.reporting.curves import most_confident_errors
    from medtl_gui.core.reporting.thumbnails import display_plane, png_data_uri

    class_names = trained.class_names
    items = []
    for index in most_confident_errors(probabilities, targets, predictions, GALLERY_SIZE):
        item = images[index]
        predicted = int(predictions[index])
        thumbnail = saliency = ""
        # an unreadable image keeps its row without a picture
        with contextlib.suppress(Exception):
            loaded = item.load()
            plane = display_plane(loaded)
            thumbnail = png_data_uri(plane)
            saliency = _saliency_thumbnail(trained, loaded, plane, predicted, device)
        items.append(GalleryItem(str(item.id), thumbnail, class_names[int(targets[index])], class_names[predicted],
                                 float(probabilities[index, predicted]), saliency))
    return items


def collect_classification(run_dir: str | os.PathLike, location: str, split: str, *, identified: bool = False,
                           device: str = "auto", checkpoint: str = "best",
                           progress: Callable[[str], None] | None = None) -> ReportContent:
    """Report content of a classification run evaluated on ``split`` of ``location`` (project or .npz)."""
    from medtl_gui.core.data.sources import open_data_source
    from medtl_gui.core.evaluation.classification import predict_labels
    from medtl_gui.core.evaluation.run_evaluation import _target_mapping, evaluate_run
    from medtl_gui.core.inference.model_card import build_model_card
    from medtl_gui.core.inference.prediction import predict_images
    from medtl_gui.core.inference.trained_model import load_trained_model

    say = progress or (lambda _text: None)
    say("reading the data")
    splits = open_data_source(location)
    project = splits.extra.get("project")
    try:
        try:
            images = splits.split(split)
        except KeyError as exc:
            raise DataError(location, exc.args[0]) from exc
        say(f"evaluating {len(images)} {split} images (as medtl evaluate)")
        evaluation = evaluate_run(run_dir, images, threshold=None, confidence_intervals=True, device=device,
                                  checkpoint=checkpoint)
        evaluation["split"] = split
        trained = load_trained_model(run_dir, checkpoint)
        say("probabilities for the curves")
        probabilities = predict_images(trained, images, device)
        content = ReportContent(
            run_id=trained.run_id, task=trained.config.task, split=split,
            data_name=_display_name(location, identified),
            generated=datetime.now(timezone.utc).isoformat(timespec="seconds"), identified=identified,
            evaluation=evaluation, record=trained.record, run_report=trained.report,
            data_summary=_class_counts(splits),
            patient_check=_patient_check(project, identified) if project is not None else
            _no_patient_ids("the data is an .npz file: it records no patient ids, so a patient-level split "
                            "cannot be checked"),
            model_card=build_model_card(trained), epochs=RunRecord(run_dir).read_metrics(),
            project_folder=Path(project.folder) if project is not None else None,
        )
        if trained.class_names:
            targets = _target_mapping(trained.class_names, images.class_names, images.name)[images.targets()]
            content.probabilities, content.targets = probabilities, targets
            say("gallery of confident errors")
            predictions = predict_labels(probabilities, evaluation.get("threshold") or trained.threshold)
            content.gallery = _gallery(images, probabilities, targets, predictions, trained, device)
        return content
    finally:
        if project is not None:
            project.close()


def segmentation_model_card(trained: Any) -> dict[str, Any]:
    """The model-card fields of a segmentation run (architecture, weights, strategy, settings, versions)."""
    record, config = trained.record, trained.config
    weights = record.get("weights")
    source = "random initialisation (trained from scratch)" if not weights else \
        f"{weights.get('name')} ({weights.get('source')}; sha256 {str(weights.get('sha256', ''))[:16]}...)"
    report = RunRecord(trained.run_dir).read_report() or {}
    return {
        "architecture": {"name": config.model, "title": config.model,
                         "n_parameters": record.get("model", {}).get("n_parameters"), "head_kind": "segmentation",
                         "in_channels": record.get("model", {}).get("in_channels")},
        "weights_source": source,
        "output": {"class_names": trained.label_names, "decision_threshold": trained.threshold},
        "training": {"run_id": trained.run_id, "checkpoint": trained.checkpoint, "recipe": config.recipe,
                     "strategy": config.strategy, "epochs": config.epochs,
                     "epochs_completed": report.get("epochs_completed"), "best_epoch": report.get("best_epoch"),
                     "seed": record.get("seed"), "precision": record.get("execution", {}).get("precision"),
                     "code_version": record.get("code_version"), "created": record.get("created"),
                     "versions": record.get("versions", {})},
    }


def collect_segmentation(run_dir: str | os.PathLike, location: str, split: str, *, identified: bool = False,
                         device: str = "auto", checkpoint: str = "best",
                         progress: Callable[[str], None] | None = None) -> ReportContent:
    """Report content of a segmentation run on ``split`` of a project (Dice/IoU/AUC per case)."""
    from medtl_gui.core.data.segmentation import open_project_folder, segmentation_from_project
    from medtl_gui.core.evaluation.segmentation_run import evaluate_segmentation_run
    from medtl_gui.core.inference.segmentation_predict import load_segmentation_run

    say = progress or (lambda _text: None)
    trained = load_segmentation_run(run_dir, checkpoint)
    project = open_project_folder(location)
    try:
        counts = {}
        for name in SPLITS:
            images = segmentation_from_project(project, name, trained.label_names)
            if len(images):
                counts[name] = [len(images)]
        images = segmentation_from_project(project, split, trained.label_names)
        say(f"evaluating {len(images)} {split} images (as medtl evaluate)")
        evaluation = evaluate_segmentation_run(run_dir, images, threshold=None, device=device, checkpoint=checkpoint,
                                               flips=False)
        evaluation["split"] = split
        return ReportContent(
            run_id=trained.run_id, task="segmentation", split=split, data_name=_display_name(location, identified),
            generated=datetime.now(timezone.utc).isoformat(timespec="seconds"), identified=identified,
            evaluation=evaluation, record=trained.record, run_report=RunRecord(run_dir).read_report() or {},
            data_summary={"class_names": ["images with masks"], "counts": counts,
                          "label_names": list(trained.label_names)},
            patient_check=_patient_check(project, identified), model_card=segmentation_model_card(trained),
            epochs=RunRecord(run_dir).read_metrics(), project_folder=Path(project.folder),
        )
    finally:
        project.close()
