"""Predictions as a CSV table: one row per scan, skipped scans included with their reason."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from medtl_gui.core.inference.prediction import PredictionRow

BASE_COLUMNS = ("path", "image_id", "patient_id", "study_uid", "series_uid", "predicted_class")


def prediction_columns(class_names: Sequence[str]) -> list[str]:
    """CSV header: identifiers, predicted class (or value), ``p_<class>`` per class, status, error."""
    predicted = list(BASE_COLUMNS) if class_names else [*BASE_COLUMNS[:-1], "predicted_value"]
    return predicted + [f"p_{name}" for name in class_names] + ["status", "error"]


def write_predictions(stream: TextIO, rows: Sequence[PredictionRow], class_names: Sequence[str],
                      skipped: Sequence[tuple[str, str]] = ()) -> None:
    """Write ``rows`` (and ``skipped`` paths with reasons) as CSV to an open text stream."""
    columns = prediction_columns(class_names)
    writer = csv.writer(stream)
    writer.writerow(columns)
    for row in rows:
        values = [row.source, row.image_id, row.patient_id, row.study_uid, row.series_uid, row.predicted]
        values += [row.probabilities.get(name) for name in class_names]
        values += ["ok" if row.ok else "skipped", row.error or _included_note(row)]
        writer.writerow(["" if v is None else (f"{v:.6f}" if isinstance(v, float) else v) for v in values])
    for source, reason in skipped:
        writer.writerow([source] + [""] * (len(columns) - 3) + ["skipped", reason])


def _included_note(row: PredictionRow) -> str:
    """For a predicted row outside the model's scope (the user included it): why it is outside."""
    if not row.outside_scope:
        return ""
    return "outside the model's scope (included on request): " + "; ".join(row.outside_scope)


def write_predictions_csv(path: str | os.PathLike, rows: Sequence[PredictionRow], class_names: Sequence[str],
                          skipped: Sequence[tuple[str, str]] = ()) -> Path:
    """:func:`write_predictions` into a file (atomically: temp file + rename); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "w", newline="", encoding="utf-8") as stream:
        write_predictions(stream, rows, class_names, skipped)
    os.replace(temp, path)
    return path


def deidentified_rows(rows: Sequence[PredictionRow], salt: str) -> list[PredictionRow]:
    """Copies of ``rows`` for export out of a project: patient ids pseudonymised, UIDs hashed, paths renamed.

    Uses :func:`medtl_gui.core.privacy.deidentify_record` with the project's
    salt, so pseudonyms match the project's other de-identified exports.
    """
    import dataclasses

    from medtl_gui.core.privacy import deidentify_record

    out = []
    for row in rows:
        fields = {"source": row.source, "patient_id": row.patient_id, "study_uid": row.study_uid,
                  "series_uid": row.series_uid}
        out.append(dataclasses.replace(row, **deidentify_record(fields, salt=salt)))
    return out
