"""`medtl train | evaluate | predict | export`: the training engine's sub-commands (weights: weights.py).

- ``medtl train DATA [--config cfg.json] [--model M] [--pretrained NAME|imagenet|none]
  [--strategy S] [--epochs N] [--image-size PX] [--time-budget MINUTES] ... [--run-dir DIR] [--resume DIR]``
  trains on DATA (a project folder or a MedMNIST-style ``.npz``) with a
  progress bar on stderr. Command-line options override the config file.
  Exit 0 when the run completed or stopped early, 1 when it failed, 130
  when cancelled (Ctrl-C stops cleanly after the current batch).
  ``--resume DIR`` refuses (exit 2) when the run's ``last`` checkpoint is
  missing or damaged; ``--resume DIR --restart`` trains it again from its
  first epoch in the same folder (the earlier attempt is kept aside).
- ``medtl evaluate DATA --run DIR [--split test] [--json]``: metrics of a
  run's best checkpoint on a split of DATA (another project with the same
  class names works: external validation). Evaluate, predict and export
  verify the checkpoint's recorded SHA-256 first: a damaged or missing one
  is an error naming the file (exit 2), never replaced by another.
- ``medtl predict PROJECT|PATH... --run DIR [--out FILE.csv] [--json]``:
  predictions (a project's are stored as proposals, labels untouched).
- ``medtl export --run DIR --format torchscript|onnx``: the model plus a
  model card.

Domain adaptation: ``medtl train DATA --domain-adaptation adabn|dsbn|dann``
with target images from ``--target-data FILE.npz`` (unlabelled) or, for a
project, its images in domain ``--target-domain NAME`` (default ``target``;
see ``medtl domain``). The run's ``best``/``last`` checkpoints are for the
source domain; AdaBN and DSBN add a ``target`` checkpoint (target batch-norm
statistics), DANN's ``best`` serves both. ``medtl evaluate|predict ...
--domain target`` picks the target checkpoint (a project's split is then
restricted to the target domain's images).

``medtl train`` without options uses the default recipe (see
``medtl_gui.core.training.recipes``); ``--recipe`` picks another one. A
recipe whose weights are not installed is not refused: it runs on this
project's in-domain weights or from scratch, and says so in one line (see
``medtl_gui.core.training.recipe_choice``). ``--time-budget MINUTES`` lets
the engine choose the epochs from a timed probe (see
``medtl_gui.core.training.time_budget``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from medtl_gui.commands import UsageError, open_data as _open_data, user_errors as _user_errors, weight_store as _store
from medtl_gui.commands.job import bad_input, cancellable_job, exit_code
from medtl_gui.commands.predict import run_export, run_predict

#: TrainConfig fields settable from the command line: option -> (field, type, help)
TRAIN_OPTIONS: dict[str, tuple[str, type, str]] = {
    "--model": ("model", str, "architecture from the model zoo (e.g. resnet18, baseline_cnn)"),
    "--pretrained": ("pretrained", str, "starting weights: 'imagenet', a weight-store name, or 'none'"),
    "--strategy": ("strategy", str, "feature_extraction, finetune_last_n, full, gradual_unfreezing, l2sp, lwf"),
    "--epochs": ("epochs", int, "number of epochs"),
    "--image-size": ("image_size", int, "input size in pixels (default: the model's)"),
    "--batch-size": ("batch_size", int, "images per batch"),
    "--lr": ("lr", float, "learning rate of the head (earlier stages: lr * lr_decay per stage)"),
    "--optimizer": ("optimizer", str, "adamw or sgd"),
    "--schedule": ("schedule", str, "cosine, onecycle or constant"),
    "--augmentation": ("augmentation", str, "none, light, standard or strong"),
    "--imbalance": ("imbalance", str, "auto, weighted_loss, balanced_sampler or none"),
    "--trainable-stages": ("trainable_stages", int, "finetune_last_n: number of stages to train"),
    "--alpha": ("alpha", float, "weight of the retention loss L_pre (l2sp, lwf)"),
    "--beta": ("beta", float, "weight of the task loss L_new"),
    "--early-stopping": ("early_stopping_patience", int, "stop after N epochs without improvement"),
    "--time-budget": ("time_budget_minutes", float, "finish within MINUTES: epochs (and maybe the recipe's image "
                                                    "size) are chosen from a timed probe; 0: off"),
    "--seed": ("seed", int, "random seed"),
    "--device": ("device", str, "auto, cpu, cuda, cuda:N or mps"),
    "--precision": ("precision", str, "auto, fp32, bf16 or fp16"),
    "--workers": ("num_workers", int, "data loader worker processes (default: none on a CPU, up to 8 on a GPU)"),
    "--task": ("task", str, "the task (default: from the data); one of the registered tasks"),
    "--domain-adaptation": ("domain_adaptation", str, "none, adabn, dsbn or dann (needs target-domain images)"),
    "--target-domain": ("target_domain", str, "project: the domain name of the target images (default target)"),
    "--dann-weight": ("dann_weight", float, "dann: weight of the domain-classifier loss"),
}


def _add_task_options() -> None:
    """Each registered task's own options (``Task.cli_options``), its name before their help."""
    from medtl_gui.core.tasks import registered_tasks, task_names

    TRAIN_OPTIONS["--task"] = ("task", str, f"{', '.join(task_names())} (default: from the data)")
    for task in registered_tasks():
        for option, (field, kind, text) in task.cli_options.items():
            TRAIN_OPTIONS.setdefault(option, (field, kind, f"{task.name}: {text}"))


_add_task_options()


def register(sub: Any) -> None:
    """Add train, evaluate and weights to the CLI's sub-parsers."""
    p = sub.add_parser("train", help="train a model on a project or .npz file",
                       description="Fine-tune a model-zoo network on DATA (project folder or .npz). "
                                   "Without --config the default recipe (balanced) is used; options "
                                   "override the recipe or the config file.")
    p.add_argument("data", metavar="DATA", help="project folder or MedMNIST-style .npz file")
    p.add_argument("--config", type=Path, help="TrainConfig JSON file (or the config record of an earlier run's folder)")
    from medtl_gui.core.training.recipes import RECIPES

    p.add_argument("--recipe", choices=tuple(RECIPES),
                   help="named recipe to start from (default: balanced; not with --config)")
    for option, (field, kind, text) in TRAIN_OPTIONS.items():
        p.add_argument(option, dest=field, type=kind, default=None, help=text)
    p.add_argument("--target-data", type=Path, metavar="FILE.npz",
                   help="domain adaptation: its images (every *_images array) are the unlabelled target domain")
    p.add_argument("--run-dir", type=Path, help="folder for this run (default: DATA's runs/<new id>)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue an interrupted run from its last epoch "
                   "(refused when its 'last' checkpoint is missing or damaged: see --restart)")
    p.add_argument("--restart", action="store_true",
                   help="with --resume: train that run again from its first epoch in the same folder (same config "
                        "and splits); its earlier checkpoints and metrics are kept in previous-attempt-<time>/")
    p.add_argument("--weights-dir", type=Path, help="weight store folder (default: $MEDTL_WEIGHTS_DIR or user data)")
    p.add_argument("--json", action="store_true", help="print the final report as JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    from medtl_gui.core.training.distributed_launch import add_launch_options

    add_launch_options(p)  # --nproc-per-node N etc.: the same engine under torch DDP
    p.set_defaults(func=run_train)

    p = sub.add_parser("evaluate", help="evaluate a trained run on a split of a project or .npz")
    p.add_argument("data", metavar="DATA", help="project folder or .npz (may differ from the training data)")
    p.add_argument("--run", type=Path, required=True, help="run folder")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--checkpoint", default="best", choices=("best", "last", "target"))
    p.add_argument("--domain", choices=("source", "target"),
                   help="domain-adaptation run: 'target' evaluates with the target-domain checkpoint (adapted "
                        "batch-norm statistics); a project's split is then restricted to the run's target domain")
    p.add_argument("--threshold", type=float, help="binary decision threshold (default: the run's)")
    p.add_argument("--no-ci", action="store_true", help="skip bootstrap confidence intervals")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.add_argument("--flips", action="store_true", help="average with flipped predictions (= --tta flips)")
    p.add_argument("--tta", default="none", choices=("none", "flips", "flips+rot", "full"),
                   help="test-time augmentation: average over flips, 90-degree rotations, zooms")
    p.set_defaults(func=run_evaluate)

    _register_predict_and_export(sub)


def _register_predict_and_export(sub: Any) -> None:
    p = sub.add_parser("predict", help="predict scans or a project's images with a trained run",
                       description="One row per scan: path, patient/study/series ids, predicted class and "
                                   "probabilities. Unreadable files are listed with the reason and the rest are "
                                   "predicted (exit 1 if any was skipped). For a project, each prediction is "
                                   "stored as the image's model proposal; labels are never changed.")
    p.add_argument("inputs", nargs="+", metavar="PROJECT|PATH", help="one project folder, or scan files/folders")
    p.add_argument("--run", type=Path, required=True, help="run folder")
    p.add_argument("--out", type=Path, help="write the CSV here (default: CSV on stdout)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.add_argument("--checkpoint", default="best", choices=("best", "last", "target"))
    p.add_argument("--domain", choices=("source", "target"),
                   help="domain-adaptation run: 'target' predicts with the target-domain checkpoint")
    p.add_argument("--split", choices=("train", "val", "test", "unassigned"), help="project: only this split")
    p.add_argument("--unlabelled", action="store_true", help="project: only images without a label")
    p.add_argument("--no-proposals", action="store_true", help="project: do not store proposals")
    p.add_argument("--tta", default="none", choices=("none", "flips", "flips+rot", "full"),
                   help="test-time augmentation: average over flips, 90-degree rotations, zooms")
    p.add_argument("--identified", action="store_true",
                   help="project: keep patient ids, UIDs and paths in the output (logged as such)")
    p.add_argument("--force-scope", action="store_true",
                   help="also predict images outside the model's scope (other modality, volume vs 2D, colour vs "
                        "grey, pixel or image size far from the training images); by default they are skipped")
    p.add_argument("--masks-dir", type=Path, help="a run that predicts masks, on files: write masks here (default: "
                                                   "<CSV folder>/masks)")
    p.add_argument("--mask-format", default="png", choices=("png", "nifti", "dicom-seg"),
                   help="a run that predicts masks, on files: mask file format")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=run_predict)

    p = sub.add_parser("export", help="export a run's model (TorchScript or ONNX) with a model card")
    p.add_argument("--run", type=Path, required=True, help="run folder")
    p.add_argument("--format", default="torchscript", choices=("torchscript", "onnx"))
    p.add_argument("--out", type=Path, help="output folder (default: RUN/export)")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"))
    p.set_defaults(func=run_export)


# --------------------------------------------------------------------------- helpers
def _explicit_options(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainConfig settings given on the command line."""
    values: dict[str, Any] = {}
    for _, (field, _, _) in TRAIN_OPTIONS.items():
        given = getattr(args, field, None)
        if given is not None:
            values[field] = None if field == "pretrained" and given.lower() == "none" else given
    return values


def _saved_config(args: argparse.Namespace):
    """The config file's or the resumed run's config (None: neither was given)."""
    from medtl_gui.core.runs import RunRecord
    from medtl_gui.core.training.config import TrainConfig

    if getattr(args, "config", None):
        return TrainConfig.load(args.config)
    if getattr(args, "resume", None):
        return RunRecord.existing(args.resume).train_config()
    return None


def _train_task(args: argparse.Namespace):
    """The task of a ``medtl train`` command line: --task, else the config's, else the data's (registry)."""
    from medtl_gui.core.tasks import task_for_data, task_named

    if getattr(args, "task", None) is not None:
        return task_named(args.task)
    saved = _saved_config(args)
    return task_named(saved.task) if saved is not None else task_for_data(args.data)


def _config_from_args(args: argparse.Namespace, task, data, *, tell: bool = False):
    """The run's config: a config file, the resumed run's, or the task's default recipe; then the options.

    A recipe is resolved against the weight store (see ``recipe_choice``):
    missing weights never refuse the run; with ``tell`` the one-line reason
    of the choice goes to stderr.
    """
    from medtl_gui.core.training.config import TrainConfig

    if getattr(args, "config", None) and args.recipe:
        raise UsageError("--recipe and --config are alternatives: a config file already holds every setting")
    explicit = _explicit_options(args)
    saved = _saved_config(args)
    if saved is None:
        config, note = task.default_config(data, recipe=args.recipe, store=_store(getattr(args, "weights_dir", None)),
                                           **explicit)
        if tell and note:
            print(note, file=sys.stderr)
        return config
    return TrainConfig.from_dict(saved.to_dict() | {"task": task.name} | explicit, origin="command line")


# --------------------------------------------------------------------------- train
def run_train(args: argparse.Namespace) -> int:
    """Handler of ``medtl train``: any registered task, one path."""
    from medtl_gui.core.training import distributed_launch

    try:
        job = distributed_launch.launch_plan(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if args.restart:  # the launcher's processes never get --restart: this process sets the attempt aside once
        _restart(args)
    with bad_input():
        task = _train_task(args)
    if job is not None and not distributed_launch.launched_by_torchrun():
        return _launch_train(args, job, task)
    from medtl_gui.core.training.distributed import process_group
    from medtl_gui.core.training.engine import train

    with bad_input():
        data = task.open_data(args.data)
        if args.target_data is not None:
            from medtl_gui.core.data.target_domain import with_target_npz

            with_target_npz(data, args.target_data)
        config = _config_from_args(args, task, data,
                                   tell=not args.quiet and not distributed_launch.launched_by_torchrun())
        if args.resume is None:
            _preflight(config, args)
    main_rank = True
    try:
        with cancellable_job(quiet=args.quiet) as job:
            with process_group(config.device) as context:  # torchrun's processes join their job here
                main_rank = context is None or context.is_main
                result = train(config, data, job.progress(main_process=main_rank), job.control,
                               run_dir=args.run_dir, resume_from=args.resume, weight_store=_store(args.weights_dir))
    finally:
        task.close_data(data)
    if args.json and main_rank:  # rank 0 alone prints
        print(json.dumps(result.report, indent=2))
    elif not args.quiet and main_rank:
        for split in task.summary_splits:
            if split in result.report:
                print(f"{split}: {task.summary(result.report[split])}", file=sys.stderr)
    return exit_code(result.status)


def _preflight(config, args: argparse.Namespace) -> None:
    """The training panel's checks before a run starts (labels per class, masks, batch size, target domain,
    weights), asked of a project here too: a UsageError with every problem found."""
    from medtl_gui.core.training.setup_checks import project_setup_problems

    problems = project_setup_problems(config, args.data, _store(getattr(args, "weights_dir", None)))
    if problems:
        raise UsageError(f"{args.data}: cannot start this run: " + " ".join(problems))


def _restart(args: argparse.Namespace) -> None:
    """``--resume RUN --restart``: set the run's earlier attempt aside so that it trains again from epoch 1."""
    from medtl_gui.core.runs import RunRecord

    if args.resume is None:
        raise UsageError("--restart needs --resume RUN_DIR: the run to train again from its first epoch")
    folder = RunRecord.existing(args.resume)
    aside = folder.set_aside_attempt()
    if not args.quiet:
        print(f"restarting {folder.path} from its first epoch; the earlier attempt is kept in {aside.name}/",
              file=sys.stderr)


def _launch_train(args: argparse.Namespace, job, task) -> int:
    """``medtl train --nproc-per-node N``: check the settings here, then start the processes with torchrun."""
    from medtl_gui.core.training.distributed_launch import launch, train_arguments

    data = None
    try:
        data = task.open_data(args.data)
        config = _config_from_args(args, task, data)
        config.validate()
        if args.resume is None:
            _preflight(config, args)
    except _user_errors() as exc:
        raise UsageError(str(exc)) from exc
    finally:
        if data is not None:
            task.close_data(data)
    if config.domain_adaptation != "none" or args.target_data is not None:
        raise UsageError("domain adaptation runs in a single process: leave out --nproc-per-node")
    reason = task.single_process_reason(config)
    if reason:
        print(reason, file=sys.stderr)
        args.nproc_per_node = None
        return run_train(args)
    if config.batch_size % job.world_size:
        raise UsageError(f"--batch-size {config.batch_size} is the global batch: it must be a multiple of the "
                         f"{job.world_size} processes")
    return launch(job, train_arguments(args, TRAIN_OPTIONS))


# --------------------------------------------------------------------------- evaluate
def run_evaluate(args: argparse.Namespace) -> int:
    """Handler of ``medtl evaluate``: the run's task evaluates it (registry)."""
    from medtl_gui.core.tasks import task_of

    task = task_of(args.run)
    try:
        result = task.evaluate_run(args.run, args.data, args.split, threshold=args.threshold,
                                   confidence_intervals=not args.no_ci, device=args.device,
                                   checkpoint=args.checkpoint, tta="flips" if args.flips else args.tta,
                                   domain=args.domain)
    except KeyError as exc:  # the data has no such split
        raise UsageError(f"{args.data}: {exc.args[0]}") from exc
    except (*_user_errors(), ValueError) as exc:
        raise UsageError(str(exc)) from exc
    result["split"] = args.split
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print("\n".join(task.evaluation_lines(result)))
    return 0
