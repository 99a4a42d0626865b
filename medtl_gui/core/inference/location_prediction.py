"""Predict what the command line names: one project folder, or scan files and folders."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.inference.prediction import PredictionRow, predict_scans
from medtl_gui.core.inference.trained_model import TrainedModel

PROJECT_FILE = "project.sqlite"


@dataclass
class LocationPredictions:
    """Rows (one per scan, failures included), paths skipped before reading, and the project if any."""

    rows: list[PredictionRow]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    project: Path | None = None
    scope_note: str | None = None  # the run recorded no scope: nothing was checked
    disagreeing: int = 0  # project images whose prediction differs from their label

    @property
    def out_of_scope(self) -> list[PredictionRow]:
        """Rows skipped because the image is outside the model's scope."""
        return [r for r in self.rows if r.skipped_for_scope]

    @property
    def failures(self) -> list[tuple[str, str]]:
        """(source, reason) of everything that was not predicted."""
        return [(r.source, r.error or "") for r in self.rows if not r.ok] + list(self.skipped)


def predict_locations(trained: TrainedModel, inputs: Sequence[str | os.PathLike], *, split: str | None = None,
                      unlabelled_only: bool = False, device: str = "auto",
                      store_proposals: bool = True, include_out_of_scope: bool = False) -> LocationPredictions:
    """Predict a project's images (stored as proposals) or the scans under file/folder paths.

    Images outside the model's scope are skipped with the reasons unless ``include_out_of_scope``.
    """
    from medtl_gui.core.inference.model_scope import scope_check

    check = scope_check(trained.run_dir, include_out_of_scope)
    paths = [Path(i).expanduser() for i in inputs]
    projects = [p for p in paths if (p / PROJECT_FILE).is_file()]
    if not projects:
        if split or unlabelled_only:
            raise DataError(paths[0], "a split or 'unlabelled only' can only be chosen for a project")
        from medtl_gui.core.inference.scan_discovery import scans_in_paths

        scans, skipped = scans_in_paths(paths)
        return LocationPredictions(predict_scans(trained, scans, device, check=check), skipped,
                                   scope_note=check.note)
    if len(paths) > 1:
        raise DataError(projects[0], "give either one project folder or scan files/folders, not both")
    from medtl_gui.core.inference.project_prediction import predict_project
    from medtl_gui.core.project import Project, ProjectError

    try:
        with Project.open(projects[0]) as project:
            done = predict_project(project, trained, split=split, unlabelled_only=unlabelled_only, device=device,
                                   store_proposals=store_proposals, check=check)
    except ProjectError as exc:
        raise DataError(projects[0], str(exc)) from exc
    return LocationPredictions(done.rows, [], projects[0], check.note, len(done.disagreeing))
