"""Batch prediction of scan files and folders into a CSV (and mask files for segmentation runs).

:func:`predict_paths` is the one entry point that the GUI's "Predict
folder…" job and ``medtl predict FILES/FOLDERS`` share: it finds the scans
(every DICOM series as one scan), predicts them with the run in order,
reports ``progress(done, total, source)``, stops between scans when
``cancel`` is set, writes the CSV and returns what happened, unreadable
files listed with their reasons.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medtl_gui.core.inference.prediction import ScanToPredict


@dataclass
class BatchPredictionResult:
    """What a batch prediction did.

    ``rows``: :class:`~medtl_gui.core.inference.prediction.PredictionRow`
    (classification, regression) or
    :class:`~medtl_gui.core.inference.prediction_masks.MaskPredictionRow`
    (segmentation), one per scan reached; ``skipped``: (path, reason) found
    before reading (missing paths, unsupported files).
    """

    run_id: str
    task: str
    class_names: list[str]
    rows: list[Any] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    total: int = 0
    csv_path: Path | None = None
    masks_dir: Path | None = None
    mask_format: str | None = None
    cancelled: bool = False
    scope_note: str | None = None  # the run recorded no scope: nothing was checked

    @property
    def out_of_scope(self) -> list[Any]:
        """Rows skipped because the scan is outside the model's scope."""
        return [row for row in self.rows if getattr(row, "skipped_for_scope", False)]

    @property
    def predicted(self) -> int:
        """Number of scans predicted (and, for segmentation, whose mask was written)."""
        return sum(1 for row in self.rows if row.ok)

    @property
    def failures(self) -> list[tuple[str, str]]:
        """(source, reason) of everything that was not predicted."""
        return [(row.source, row.error or "") for row in self.rows if not row.ok] + list(self.skipped)

    def text(self) -> str:
        """One line: how many were predicted and skipped, and where the CSV went."""
        outside = len(self.out_of_scope)
        parts = [f"{self.predicted} predicted", f"{len(self.failures)} skipped"
                 + (f" ({outside} outside the model's scope)" if outside else "")]
        if self.cancelled:
            parts.append(f"stopped after {len(self.rows)} of {self.total}")
        if self.csv_path is not None:
            parts.append(f"CSV: {self.csv_path}")
        return ", ".join(parts)


def _until_cancelled(scans: Iterable[ScanToPredict], cancel: threading.Event | None) -> Iterator[ScanToPredict]:
    for scan in scans:
        if cancel is not None and cancel.is_set():
            return
        yield scan


def predict_paths(
    run_dir: str | os.PathLike,
    inputs: Sequence[str | os.PathLike],
    csv_path: str | os.PathLike | None,
    *,
    masks_dir: str | os.PathLike | None = None,
    mask_format: str = "png",
    checkpoint: str = "best",
    device: str = "auto",
    batch_size: int = 32,
    tta: str = "none",
    progress: Callable[[int, int, str], None] | None = None,
    cancel: threading.Event | None = None,
    include_out_of_scope: bool = False,
) -> BatchPredictionResult:
    """Predict the scans under ``inputs`` (files, folders, DICOM series folders) with run ``run_dir``.

    Classification and regression runs give one CSV row per scan (path,
    patient/study/series ids, predicted class or value, probabilities).
    Segmentation runs also write one mask per scan into ``masks_dir``
    (default: ``<csv folder>/masks``) in ``mask_format`` (``png``,
    ``nifti`` or ``dicom-seg``) and list the mask files in the CSV. The CSV
    (``csv_path``; None: not written) holds the scans reached before a
    cancel, and every skipped file with its reason. ``tta``: test-time
    augmentation (``none``, ``flips``, ``flips+rot``, ``full``; segmentation:
    ``none`` or ``flips``). Classification and regression: scans outside the
    model's scope are skipped with the reasons unless ``include_out_of_scope``.
    """
    from medtl_gui.core.inference.scan_discovery import scans_in_paths
    from medtl_gui.core.inference.segmentation_predict import run_task
    from medtl_gui.core.tasks import task_named

    if not inputs:
        raise ValueError("name at least one file or folder to predict")
    scans, skipped = scans_in_paths(inputs)
    task = run_task(run_dir)
    if task_named(task).prediction_output == "masks":
        if tta not in ("none", "flips"):
            raise ValueError(f"mask predictions support test-time augmentation 'none' or 'flips', not {tta!r}")
        return _predict_masks(run_dir, scans, skipped, csv_path, masks_dir, mask_format, checkpoint, device,
                              progress, cancel, flips=tta == "flips")
    from medtl_gui.core.inference.model_scope import scope_check
    from medtl_gui.core.inference.prediction import iter_predictions
    from medtl_gui.core.inference.prediction_table import write_predictions_csv
    from medtl_gui.core.inference.trained_model import load_trained_model

    trained = load_trained_model(run_dir, checkpoint, tta=tta)
    check = scope_check(run_dir, include_out_of_scope)
    result = BatchPredictionResult(trained.run_id, task, list(trained.class_names), skipped=list(skipped),
                                   total=len(scans), scope_note=check.note)
    _collect(result, iter_predictions(trained, _until_cancelled(scans, cancel), device, batch_size, check),
             progress)
    if csv_path is not None:
        result.csv_path = write_predictions_csv(csv_path, result.rows, trained.class_names, result.skipped)
    return result


def _collect(result: BatchPredictionResult, rows, progress: Callable[[int, int, str], None] | None) -> None:
    """Append the predicted rows to ``result`` with progress; fewer rows than scans means cancelled."""
    for row in rows:
        result.rows.append(row)
        if progress is not None:
            progress(len(result.rows), result.total, row.source)
    result.cancelled = len(result.rows) < result.total


def _predict_masks(run_dir: str | os.PathLike, scans: list[ScanToPredict], skipped: list[tuple[str, str]],
                   csv_path: str | os.PathLike | None, masks_dir: str | os.PathLike | None, mask_format: str,
                   checkpoint: str, device: str, progress: Callable[[int, int, str], None] | None,
                   cancel: threading.Event | None, flips: bool = False) -> BatchPredictionResult:
    from medtl_gui.core.inference.prediction_masks import (
        check_mask_format,
        iter_mask_predictions,
        write_mask_predictions_csv,
    )
    from medtl_gui.core.inference.segmentation_predict import load_segmentation_run

    check_mask_format(mask_format)
    if masks_dir is None:
        if csv_path is None:
            raise ValueError("a segmentation run writes mask files: name a masks folder or a CSV path")
        masks_dir = Path(csv_path).parent / "masks"
    trained = load_segmentation_run(run_dir, checkpoint)
    result = BatchPredictionResult(trained.run_id, "segmentation", list(trained.label_names), skipped=list(skipped),
                                   total=len(scans), masks_dir=Path(masks_dir), mask_format=mask_format)
    _collect(result, iter_mask_predictions(trained, scans, masks_dir, mask_format, device=device, flips=flips,
                                           cancel=cancel), progress)
    if csv_path is not None:
        result.csv_path = write_mask_predictions_csv(csv_path, result.rows, trained.label_names, result.skipped)
    return result
