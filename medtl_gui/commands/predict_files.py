"""Parts of ``medtl predict`` that ``medtl_gui.commands.predict`` delegates here (no sub-commands of its own).

- :func:`run_mask_file_predict`: a run that predicts masks, over scan files and
  folders writes one mask file per scan (``--masks-dir``, ``--mask-format
  png|nifti|dicom-seg``) and a CSV listing them, unreadable files included.
- :func:`report_scope`: the lines on images outside the model's scope
  (skipped, or included with ``--force-scope``) and runs without a scope.
- :func:`deidentified_project_rows` / :func:`log_project_export`: predictions
  of a project's images leave the project de-identified (unless
  ``--identified``) and are recorded in its export log, like
  ``medtl export-labels``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from medtl_gui.commands import UsageError


def run_mask_file_predict(args: argparse.Namespace) -> int:
    """``medtl predict FILES/FOLDERS --run RUN`` (a run that predicts masks): masks written as files; exit 1 if any scan was skipped."""
    from medtl_gui.core.data.errors import DataError
    from medtl_gui.core.inference.prediction_batch import predict_paths
    from medtl_gui.core.masks import MaskFormatError

    if args.split or args.unlabelled:
        raise UsageError("--split and --unlabelled only apply to a project")
    masks_dir = args.masks_dir or (Path(args.out).parent / "masks" if args.out else None)
    if masks_dir is None:
        raise UsageError("a run that predicts masks writes mask files for scan files: give --masks-dir DIR (or --out FILE.csv)")
    try:
        result = predict_paths(args.run, args.inputs, args.out, masks_dir=masks_dir, mask_format=args.mask_format,
                               checkpoint=args.checkpoint, device=args.device)
    except (DataError, MaskFormatError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    if args.json:
        print(json.dumps({"run": str(args.run), "label_names": result.class_names, "mask_format": args.mask_format,
                          "masks_dir": str(result.masks_dir), "predictions": [r.to_json() for r in result.rows],
                          "skipped": [{"source": s, "error": e} for s, e in result.skipped]}, indent=2))
    elif not args.out:
        for row in result.rows:
            print(f"{row.source}\t{row.mask_file or ''}\t{'ok' if row.ok else row.error}")
    for source, reason in result.failures:
        print(f"skipped {source}: {reason}", file=sys.stderr)
    print(f"{result.predicted} masks written to {result.masks_dir} ({args.mask_format}), "
          f"{len(result.failures)} skipped", file=sys.stderr)
    return 1 if result.failures else 0


def deidentified_project_rows(project_folder: Path, rows: list[Any]) -> list[Any]:
    """``rows`` with patient ids, UIDs and paths replaced using the project's de-identification salt."""
    from medtl_gui.core.inference.prediction_table import deidentified_rows
    from medtl_gui.core.privacy import project_salt
    from medtl_gui.core.project import Project

    with Project.open(project_folder) as project:
        salt = project_salt(project)
    return deidentified_rows(rows, salt)


def log_project_export(project_folder: Path, what: str, destination: str | os.PathLike, deidentified: bool,
                       n_items: int) -> None:
    """Record an export out of the project in its append-only export log."""
    from medtl_gui.core.privacy import DEIDENTIFICATION_METHOD
    from medtl_gui.core.project import Project

    with Project.open(project_folder) as project:
        project.record_export(what, Path(destination).expanduser().resolve(), deidentified=deidentified,
                              n_items=n_items, details={"method": DEIDENTIFICATION_METHOD if deidentified else None})


def report_scope(found: Any, forced: bool) -> None:
    """``medtl predict``'s lines on the model's scope: the note of a run without one, or what it skipped/included."""
    if found.scope_note:
        print(f"note: {found.scope_note}", file=sys.stderr)
        return
    outside = found.out_of_scope
    if outside:
        print(f"warning: {len(outside)} image(s) outside the model's scope were skipped; --force-scope predicts "
              "them anyway", file=sys.stderr)
    included = [r for r in found.rows if r.ok and r.outside_scope]
    if forced and included:
        print(f"warning: {len(included)} image(s) outside the model's scope were predicted (--force-scope); "
              "treat their predictions with care", file=sys.stderr)
    if getattr(found, "disagreeing", 0):
        print(f"{found.disagreeing} prediction(s) disagree with an existing label", file=sys.stderr)

