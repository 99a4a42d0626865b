"""`medtl ensemble build | train`: ensembles of classification runs.

- ``medtl ensemble build RUN1 RUN2 ... --combine mean|weighted|vote [--data DATA] --out DIR``
  writes an ensemble folder (``ensemble.json``: members' run paths and
  checkpoint checksums, combination, weights, class names). ``weighted``
  fits its weights on DATA's validation split (or, when DATA has none, on
  the training images every member held out); with DATA, the members' and
  the ensemble's validation metrics go into the manifest.
- ``medtl ensemble train DATA --members K [--models resnet18,densenet121 | --seeds 0,1,2]
  --out DIR [--combine C] [train options]`` trains K members one after the
  other with the one engine (into ``DIR/members/``), then builds the
  ensemble in DIR.

An ensemble folder is used like a run folder: ``medtl evaluate DATA --run DIR``
(members' and ensemble's metrics side by side), ``medtl predict ... --run DIR``,
``medtl export --run DIR`` (one TorchScript/ONNX file).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from medtl_gui.commands import UsageError, user_errors as _user_errors
from medtl_gui.commands.job import cancellable_job, exit_code

COMBINE_CHOICES = ("mean", "weighted", "vote")


def register(sub: Any) -> None:
    """Add ``ensemble build`` and ``ensemble train`` to the CLI's sub-parsers."""
    from medtl_gui.commands.engine import TRAIN_OPTIONS
    from medtl_gui.core.training.recipes import RECIPES

    ensemble = sub.add_parser("ensemble", help="build or train an ensemble of classification runs",
                              description="Ensembles combine several classification runs (architectures, seeds, "
                                          "image sizes may differ; classes must match). Use the ensemble folder "
                                          "like a run: medtl evaluate/predict/export --run DIR.")
    esub = ensemble.add_subparsers(dest="ensemble_command", metavar="ACTION")
    esub.required = True
    p = esub.add_parser("build", help="combine finished runs into an ensemble folder")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders (at least 2)")
    p.add_argument("--combine", default="mean", choices=COMBINE_CHOICES,
                   help="mean: average probabilities; weighted: weights fitted on validation (minimum log-loss); "
                        "vote: majority vote")
    p.add_argument("--data", help="project folder or .npz whose validation split fits the weights and is reported")
    p.add_argument("--weights", help="weighted: explicit comma-separated weights instead of fitting them")
    p.add_argument("--out", type=Path, required=True, help="new ensemble folder")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"))
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON on stdout")
    p.set_defaults(func=run_ensemble_build)

    p = esub.add_parser("train", help="train K members with the engine, then build the ensemble",
                        description="Members differ by seed (--seeds, default: seed, seed+1, ...) and/or "
                                    "architecture (--models); each is an ordinary run under OUT/members/.")
    p.add_argument("data", metavar="DATA", help="project folder or .npz file")
    p.add_argument("--members", type=int, help="number of members (default: from --models/--seeds, else 3)")
    p.add_argument("--models", help="comma-separated architectures, one per member (or one for all)")
    p.add_argument("--seeds", help="comma-separated seeds, one per member (or one for all)")
    p.add_argument("--combine", default="mean", choices=COMBINE_CHOICES)
    p.add_argument("--out", type=Path, required=True, help="new ensemble folder (members go to OUT/members/)")
    p.add_argument("--config", type=Path, help="TrainConfig JSON file shared by the members")
    p.add_argument("--recipe", choices=tuple(RECIPES), help="named recipe (default: balanced; not with --config)")
    for option, (field, kind, text) in TRAIN_OPTIONS.items():
        if option not in ("--model", "--seed"):
            p.add_argument(option, dest=field, type=kind, default=None, help=text)
    p.add_argument("--seed", dest="seed", type=int, default=None, help="first seed when --seeds is not given")
    p.add_argument("--weights-dir", type=Path, help="weight store folder (default: $MEDTL_WEIGHTS_DIR or user data)")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run_ensemble_train, model=None, resume=None)


def _print_summary(ensemble: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(ensemble.manifest, indent=2))
        return
    weights = ", ".join(f"{w:.3f}" for w in ensemble.weights)
    print(f"ensemble {ensemble.run_dir}: {len(ensemble.members)} members, {ensemble.combination} (weights {weights}), "
          f"classes {ensemble.class_names}")
    validation = ensemble.manifest.get("validation")
    if validation:
        print(f"  validation ({validation['n']} images)   " + "  ".join(
            f"{m['run_id'][-16:]}: auc {_fmt(m.get('auc'))}" for m in validation["members"])
            + f"  ensemble: auc {_fmt(validation['ensemble'].get('auc'))}")


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


def _parse_weights(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(w) for w in text.split(",")]
    except ValueError as exc:
        raise UsageError(f"--weights: expected comma-separated numbers, got {text!r}") from exc


def run_ensemble_build(args: argparse.Namespace) -> int:
    """Handler of ``medtl ensemble build``."""
    from medtl_gui.core.data.sources import open_data_source
    from medtl_gui.core.inference.ensemble import build_ensemble, validation_split

    weights = _parse_weights(args.weights)
    if weights is not None and args.combine != "weighted":
        raise UsageError("--weights goes with --combine weighted")
    try:
        validation = validation_split(open_data_source(args.data), args.runs) if args.data else None
        ensemble = build_ensemble(args.runs, args.out, combination=args.combine, validation=validation,
                                  checkpoint=args.checkpoint, device=args.device, weights=weights)
    except _user_errors() as exc:
        raise UsageError(str(exc)) from exc
    _print_summary(ensemble, args.json)
    return 0


def member_plan(count: int | None, models: str | None, seeds: str | None, base_model: str,
                base_seed: int) -> list[tuple[str, int]]:
    """(architecture, seed) of each member: lists of one value apply to every member; seeds default to base+k."""
    model_list = [m.strip() for m in models.split(",") if m.strip()] if models else []
    try:
        seed_list = [int(s) for s in seeds.split(",")] if seeds else []
    except ValueError as exc:
        raise UsageError(f"--seeds: expected comma-separated integers, got {seeds!r}") from exc
    lengths = {len(x) for x in (model_list, seed_list) if len(x) > 1}
    if len(lengths) > 1:
        raise UsageError(f"--models lists {len(model_list)} and --seeds {len(seed_list)} members; give as many of each")
    k = count or (lengths.pop() if lengths else 3)
    if lengths and k not in lengths:
        raise UsageError(f"--members {k} does not match the {lengths.pop()} listed in --models/--seeds")
    if k < 2:
        raise UsageError("an ensemble needs at least 2 members")
    chosen_models = model_list if len(model_list) > 1 else [model_list[0] if model_list else base_model] * k
    if len(seed_list) > 1:
        chosen_seeds = seed_list
    elif seed_list:
        chosen_seeds = seed_list * k
    else:
        chosen_seeds = [base_seed + i for i in range(k)] if len(set(chosen_models)) == 1 else [base_seed] * k
    if len(set(zip(chosen_models, chosen_seeds))) < k:
        raise UsageError("members would be identical (same architecture and seed); vary --seeds or --models")
    return list(zip(chosen_models, chosen_seeds))


def run_ensemble_train(args: argparse.Namespace) -> int:
    """Handler of ``medtl ensemble train``: members one after the other, then the ensemble."""
    from medtl_gui.commands import open_data as _open_data, weight_store as _store
    from medtl_gui.commands.engine import _config_from_args, _train_task
    from medtl_gui.core.inference.ensemble import build_ensemble, is_ensemble_folder, validation_split
    from medtl_gui.core.tasks import can
    from medtl_gui.core.training.config import TrainConfig
    from medtl_gui.core.training.engine import train

    out = Path(args.out)
    if is_ensemble_folder(out):
        raise UsageError(f"{out}: already holds an ensemble; choose a new folder")
    member_dirs: list[Path] = []
    with cancellable_job(quiet=args.quiet) as job:
        data = _open_data(args.data)
        base = _config_from_args(args, _train_task(args), data)
        if not can(base.task, "ensemble"):
            raise UsageError(f"ensembles combine classification runs, not {base.task}")
        plan = member_plan(args.members, args.models, args.seeds, base.model, base.seed)
        store = _store(args.weights_dir)
        for k, (model, seed) in enumerate(plan):
            config = TrainConfig.from_dict(base.to_dict() | {"model": model, "seed": seed}, origin="command line")
            run_dir = out / "members" / f"member{k}-{model}-seed{seed}"
            if not args.quiet:
                print(f"member {k + 1}/{len(plan)}: {model}, seed {seed} -> {run_dir}", file=sys.stderr)
            result = train(config, data, job.progress(), job.control, run_dir=run_dir, weight_store=store)
            code = exit_code(result.status)
            if code == 130:
                print(f"cancelled during member {k + 1}; finished members are in {out / 'members'}", file=sys.stderr)
                return code
            if code != 0:
                print(f"member {k + 1} {result.status}; see {run_dir}", file=sys.stderr)
                return code
            member_dirs.append(run_dir)
        validation = validation_split(data, member_dirs)
        ensemble = build_ensemble(member_dirs, out, combination=args.combine, validation=validation,
                                  device=base.device)
    _print_summary(ensemble, args.json)
    return 0
