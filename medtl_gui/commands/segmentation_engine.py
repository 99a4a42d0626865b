"""Segmentation paths of ``medtl train``, ``medtl evaluate`` and ``medtl predict``.

``medtl_gui.commands.engine`` hands a command here when it concerns
segmentation: ``train`` with ``--task segmentation`` (or a config whose
task is segmentation, or a project that has masks and segmentation labels
but no classes), ``evaluate`` and ``predict`` with a segmentation run.

- ``medtl train PROJECT --task segmentation [--model unet_small|unet|resnet34 ...]``
  trains through the same engine (run folders, events, checkpoints, cancel,
  strategies); without ``--config`` it starts from
  :func:`default_segmentation_config`.
- ``medtl evaluate PROJECT --run DIR [--split test] [--flips] [--json]``:
  ``dice``, ``iou``, ``auc``, ``sensitivity``, ``specificity``, accuracy,
  per label and per case; PROJECT may be another project with the same
  segmentation label names (an external test set).
- ``medtl predict PROJECT --run DIR [--split S]``: predicted masks are
  stored as model proposals (the annotation view shows them as overlays to
  accept or correct); final masks are never changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from medtl_gui.commands import UsageError, user_errors as _user_errors
from medtl_gui.commands.job import bad_input, cancellable_job, exit_code


def default_segmentation_config():
    """The segmentation recipe ``medtl train --task segmentation`` starts from.

    A small U-Net from scratch on 96 px patches (no pretrained weights
    needed, fast on a CPU), Dice + cross-entropy, strong augmentation
    (elastic included), AdamW with a one-cycle schedule; measured on DRIVE
    in ``benchmarks/RESULTS.md`` (40 epochs: Dice 0.823 / AUC 0.983 on 5 held-out DRIVE cases after
    12 minutes of training on a 2-core CPU; 1,800 patches per epoch there).
    """
    from medtl_gui.core.training.config import TrainConfig

    return TrainConfig(task="segmentation", model="unet_small", image_size=96, epochs=40, patches_per_image=120,
                       batch_size=16, lr=3e-3, schedule="onecycle", augmentation="strong")


def wants_segmentation(args: argparse.Namespace) -> bool:
    """Whether a ``medtl train`` command line asks for a segmentation run."""
    from medtl_gui.core.data.segmentation import is_segmentation_project
    from medtl_gui.core.training.config import TrainConfig

    task = getattr(args, "task", None)
    if task is not None:
        return task == "segmentation"
    source = args.config or (Path(args.resume) / "config.json" if args.resume else None)
    if source is not None:
        try:
            return TrainConfig.load(source).task == "segmentation"
        except Exception:  # noqa: BLE001 - the classification path reports a broken config
            return False
    return is_segmentation_project(args.data)


def is_segmentation_run(run_dir: Path) -> bool:
    """Whether a run folder holds a segmentation run (False for anything unreadable)."""
    from medtl_gui.core.inference.segmentation_predict import run_task

    try:
        return run_task(run_dir) == "segmentation"
    except (OSError, ValueError):
        return False


def _config(args: argparse.Namespace, options: dict[str, tuple[str, type, str]]):
    from medtl_gui.core.training.config import TrainConfig

    if args.config:
        config = TrainConfig.load(args.config)
    elif args.resume:
        config = TrainConfig.load(Path(args.resume) / "config.json")
    else:
        config = default_segmentation_config()
    values = config.to_dict() | {"task": "segmentation"}
    for field, _, _ in options.values():
        given = getattr(args, field, None)
        if given is not None:
            values[field] = None if field == "pretrained" and given.lower() == "none" else given
    return TrainConfig.from_dict(values, origin="command line")


def run_segmentation_train(args: argparse.Namespace, options: dict[str, tuple[str, type, str]]) -> int:
    """``medtl train`` for segmentation; ``options`` are the engine command's config options."""
    from medtl_gui.core.data.segmentation import open_segmentation_source
    from medtl_gui.core.models.weights import WeightStore
    from medtl_gui.core.training.distributed import process_group
    from medtl_gui.core.training.engine import train

    main_rank = True
    with bad_input():
        config = _config(args, options)
        data = open_segmentation_source(args.data)
    try:
        with cancellable_job(quiet=args.quiet) as job:
            with process_group(config.device) as context:  # torchrun's processes join their job here
                main_rank = context is None or context.is_main
                result = train(config, data, job.progress(main_process=main_rank), job.control,
                               run_dir=args.run_dir, resume_from=args.resume,
                               weight_store=WeightStore(args.weights_dir))
    finally:
        data.extra["project"].close()
    if main_rank and args.json:  # rank 0 alone prints
        print(json.dumps(result.report, indent=2))
    elif main_rank and not args.quiet:
        for split in ("val", "test"):
            if split in result.report:
                print(f"{split}: {_summary(result.report[split])}", file=sys.stderr)
    return exit_code(result.status)


def launch_segmentation_train(args: argparse.Namespace, job, options: dict[str, tuple[str, type, str]]) -> int:
    """``medtl train --task segmentation --nproc-per-node N``: check the settings here, then start the
    processes through torch's launcher (each runs :func:`run_segmentation_train` in the process group)."""
    from medtl_gui.core.training.distributed_launch import launch, train_arguments

    try:
        config = _config(args, options)
    except _user_errors() as exc:
        raise UsageError(str(exc)) from exc
    if config.batch_size % job.world_size:
        raise UsageError(f"--batch-size {config.batch_size} is the global batch (patches per step): it must be a "
                         f"multiple of the {job.world_size} processes")
    return launch(job, train_arguments(args, options))


def _summary(metrics: dict[str, Any]) -> str:
    keys = ("dice", "iou", "auc", "sensitivity", "specificity")
    return ", ".join(f"{k} {metrics[k]:.4f}" for k in keys if metrics.get(k) is not None)


def run_segmentation_evaluate(args: argparse.Namespace) -> int:
    """``medtl evaluate`` with a segmentation run (any project with the same label names)."""
    from medtl_gui.core.data.segmentation import open_project_folder, segmentation_from_project
    from medtl_gui.core.evaluation.segmentation_run import evaluate_segmentation_run
    from medtl_gui.core.inference.segmentation_predict import load_segmentation_run

    try:
        trained = load_segmentation_run(args.run, args.checkpoint)
        project = open_project_folder(args.data)
        try:
            images = segmentation_from_project(project, args.split, trained.label_names)
            result = evaluate_segmentation_run(args.run, images, threshold=args.threshold, device=args.device,
                                               checkpoint=args.checkpoint, flips=getattr(args, "flips", False))
        finally:
            project.close()
    except _user_errors() as exc:
        raise UsageError(str(exc)) from exc
    result["split"] = args.split
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['data']} ({result['n_images']} images, {result['n_cases']} cases), run {result['run']}"
          + (" (inside the field of view)" if result["inside_fov"] else ""))
    for key in ("dice", "iou", "auc", "sensitivity", "specificity", "accuracy", "dice_pooled", "auc_pooled"):
        if result.get(key) is not None:
            print(f"  {key:18s} {result[key]:.4f}")
    for case in result["per_case"]:
        print(f"  case {case['case']:>8s}: dice {case['dice']:.4f}, iou {case['iou']:.4f}")
    return 0


def run_segmentation_predict(args: argparse.Namespace) -> int:
    """``medtl predict`` with a segmentation run: masks of a project's images become proposals."""
    from medtl_gui.core.data.segmentation import open_project_folder
    from medtl_gui.core.inference.segmentation_predict import load_segmentation_run, predict_project_masks

    if getattr(args, "no_proposals", False):
        raise UsageError("a segmentation run's predictions are stored as mask proposals; drop --no-proposals")
    projects = [Path(i) for i in args.inputs if (Path(i) / "project.sqlite").is_file()]
    if len(args.inputs) != 1 or not projects:
        raise UsageError("a segmentation run predicts into one project folder (masks are stored as proposals)")
    try:
        trained = load_segmentation_run(args.run, args.checkpoint)
        project = open_project_folder(projects[0])
        try:
            records = project.images(split=args.split) if args.split else project.images()
            ids = [r.id for r in records if not (args.unlabelled and r.has_mask)]
            summary = predict_project_masks(project, trained, ids, device=args.device)
        finally:
            project.close()
    except _user_errors() as exc:
        raise UsageError(str(exc)) from exc
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    for image, reason in summary.failed:
        print(f"skipped image {image}: {reason}", file=sys.stderr)
    print(f"{len(summary.proposals)} mask proposals stored in {projects[0]}, {len(summary.failed)} skipped",
          file=sys.stderr)
    return 1 if summary.failed else 0
