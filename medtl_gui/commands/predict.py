"""`medtl predict | export`: a trained run's predictions and its exported model.

- ``medtl predict PROJECT|PATH... --run DIR [--out FILE.csv] [--json]``:
  the run's task says what a prediction is (``Task.prediction_output``):
  a table of classes and probabilities, or masks. A project's predictions
  are stored as proposals (labels and final masks untouched); mask
  predictions of scan files are written as mask files (see
  :mod:`predict_files`).
- ``medtl export --run DIR --format torchscript|onnx``: the model plus a
  model card.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from medtl_gui.commands import UsageError, user_errors as _user_errors


def _is_project(location: str) -> bool:
    from medtl_gui.core.inference.location_prediction import PROJECT_FILE

    return (Path(location) / PROJECT_FILE).is_file()


def _predict_project_masks(args: argparse.Namespace, task) -> int:
    """Masks of a project's images, stored as model proposals (the annotation view shows them to accept or
    correct); final masks are never changed."""
    if getattr(args, "no_proposals", False):
        raise UsageError("a run that predicts masks stores them as mask proposals; drop --no-proposals")
    projects = [Path(i) for i in args.inputs if _is_project(i)]
    if len(args.inputs) != 1 or not projects:
        raise UsageError("a run that predicts masks predicts into one project folder (masks are stored as proposals)")
    from medtl_gui.core.project import Project

    try:
        with Project.open(projects[0]) as project:
            records = project.images(split=args.split) if args.split else project.images()
            ids = [r.id for r in records if not (args.unlabelled and r.has_mask)]
            summary = task.predict_project(args.run, project, ids, checkpoint=args.checkpoint, device=args.device)
    except _user_errors() as exc:
        raise UsageError(str(exc)) from exc
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    for image, reason in summary.failed:
        print(f"skipped image {image}: {reason}", file=sys.stderr)
    print(f"{len(summary.proposals)} mask proposals stored in {projects[0]}, {len(summary.failed)} skipped",
          file=sys.stderr)
    return 1 if summary.failed else 0


def run_predict(args: argparse.Namespace) -> int:
    """Handler of ``medtl predict``: exit 0 when every input was predicted, 1 when some were skipped."""
    from medtl_gui.core.tasks import task_of

    task = task_of(args.run)
    if task.prediction_output is None:
        raise UsageError(f"{args.run}: {task.title} runs cannot predict scans yet; 'medtl evaluate DATA --run RUN' "
                         "measures them on a data file's split")
    if task.prediction_output == "masks":
        if args.tta != "none":
            raise UsageError("--tta is not available for mask predictions yet (medtl evaluate --tta flips is)")
        if not any(_is_project(i) for i in args.inputs):
            from medtl_gui.commands.predict_files import run_mask_file_predict

            return run_mask_file_predict(args)
        return _predict_project_masks(args, task)
    from medtl_gui.core.inference.location_prediction import predict_locations
    from medtl_gui.core.inference.prediction_table import write_predictions, write_predictions_csv
    from medtl_gui.core.inference.trained_model import load_trained_model

    try:
        checkpoint = args.checkpoint
        if args.domain is not None:
            from medtl_gui.core.training.domain_adaptation import checkpoint_for_domain

            try:
                checkpoint = checkpoint_for_domain(args.run, args.domain)
            except ValueError as exc:
                raise UsageError(str(exc)) from exc
        trained = load_trained_model(args.run, checkpoint, tta=args.tta)
        found = predict_locations(trained, args.inputs, split=args.split, unlabelled_only=args.unlabelled,
                                  device=args.device, store_proposals=not args.no_proposals,
                                  include_out_of_scope=args.force_scope)
    except _user_errors() as exc:
        raise UsageError(str(exc)) from exc
    rows, skipped = found.rows, found.skipped
    if found.project is not None and not args.identified:  # leaving the project: de-identified (privacy rules)
        from medtl_gui.commands.predict_files import deidentified_project_rows

        rows = deidentified_project_rows(found.project, rows)
    if args.out:
        write_predictions_csv(args.out, rows, trained.class_names, skipped)
        if found.project is not None:
            from medtl_gui.commands.predict_files import log_project_export

            log_project_export(found.project, "predictions-csv", args.out, not args.identified, len(rows))
    if args.json:
        print(json.dumps({"run": str(trained.run_dir), "class_names": trained.class_names,
                          "threshold": trained.threshold, "scope_note": found.scope_note,
                          "predictions": [r.to_json() for r in rows],
                          "skipped": [{"source": s, "error": e} for s, e in skipped]}, indent=2))
    elif not args.out:
        write_predictions(sys.stdout, rows, trained.class_names, skipped)
    from medtl_gui.commands.predict_files import report_scope

    for source, reason in found.failures:
        print(f"skipped {source}: {reason}", file=sys.stderr)
    stored = f"; proposals stored in {found.project}" if found.project and not args.no_proposals else ""
    print(f"{len(rows) + len(skipped) - len(found.failures)} predicted, {len(found.failures)} skipped{stored}",
          file=sys.stderr)
    report_scope(found, args.force_scope)
    return 1 if found.failures else 0


def run_export(args: argparse.Namespace) -> int:
    """Handler of ``medtl export``."""
    from medtl_gui.core.inference.export import export_run

    try:
        result = export_run(args.run, args.format, args.out, args.checkpoint)
    except _user_errors() as exc:
        raise UsageError(str(exc)) from exc
    print(f"exported {result.model_path} (outputs match the run's model within {result.max_abs_difference:.1e}); "
          f"model card: {result.card_markdown}, {result.card_json}")
    return 0
