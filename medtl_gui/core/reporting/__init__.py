"""Evaluation reports: one self-contained HTML file per run, for a colleague or an ethics board.

:func:`generate_report` evaluates a run on a split of its data with the
same code as ``medtl evaluate`` and writes an HTML report with a data
summary (counts per class and split, patient-level split check), the model
card, metrics with bootstrap 95% intervals, confusion matrix, ROC and
precision-recall curves, a calibration plot, per-class figures, the most
confident errors and the training curves (segmentation runs: Dice, IoU
and AUC per case). De-identified unless ``identified=True``; a report of a
project's data is recorded in the project's export log. No Qt here: the
PDF/PNG rendering lives in the GUI layer
(:mod:`medtl_gui.gui.training.report_rendering`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medtl_gui.core.project.atomic_files import atomic_write_bytes
from medtl_gui.core.reporting.html_report import render_html, section_titles
from medtl_gui.core.reporting.report_data import ReportContent, data_location

__all__ = ["ReportResult", "default_report_path", "generate_report", "render_html", "section_titles"]


@dataclass
class ReportResult:
    """A written report: its path, the evaluation it shows (as ``medtl evaluate --json``) and its sections."""

    path: Path
    evaluation: dict[str, Any]
    sections: dict[str, str]
    content: ReportContent
    export_logged: bool = False


def default_report_path(run_dir: str | os.PathLike, split: str = "test") -> Path:
    """Where a report goes by default: ``<run>/report-<split>.html``."""
    return Path(run_dir) / f"report-{split}.html"


def _write_atomically(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def generate_report(
    run_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    data: str | os.PathLike | None = None,
    split: str = "test",
    identified: bool = False,
    device: str = "auto",
    checkpoint: str = "best",
    progress: Callable[[str], None] | None = None,
) -> ReportResult:
    """Evaluate ``run_dir`` on ``split`` of ``data`` (default: the run's own data) and write the HTML report.

    Raises :class:`~medtl_gui.core.data.errors.DataError` for data that
    cannot be evaluated and ``FileNotFoundError`` for a folder that is not
    a run.
    """
    from medtl_gui.core.tasks import task_of

    location = data_location(run_dir, data)
    task = task_of(run_dir)
    content = task.collect_report(run_dir, location, split, identified=identified, device=device,
                                  checkpoint=checkpoint, progress=progress)
    path = Path(out) if out is not None else default_report_path(run_dir, split)
    _write_atomically(path, render_html(content))
    logged = False
    if content.project_folder is not None:
        from medtl_gui.core.privacy import DEIDENTIFICATION_METHOD
        from medtl_gui.core.project import Project

        with Project.open(content.project_folder) as project:
            project.record_export("report", path.expanduser().resolve(), deidentified=not identified,
                                  n_items=int(content.evaluation.get("n") or 0),
                                  details={"run": content.run_id, "split": split,
                                           "method": None if identified else DEIDENTIFICATION_METHOD})
        logged = True
    return ReportResult(path, content.evaluation, dict(task.report_titles), content, logged)
