"""DRIVE retinal-vessel segmentation benchmark (issue 6).

1. Imports an image+mask folder pair with DRIVE's layout (default
   ``../shared/data/drive/training/``: ``images/``, ``1st_manual/``,
   ``mask/``) into a new project through the normal importer (the same as
   ``medtl import``): the vessel masks become label masks ("vessel"), the
   FOV masks field-of-view masks.
2. Fixed split by case id: the first 15 cases in id order train (DRIVE:
   21-35), the last 5 validate (DRIVE: 36-40). DRIVE's official test half
   (cases 01-20, with its second observer) is not available here, so the
   5 held-out training cases are the test set. They are never used to
   choose anything: the run monitors the training loss (the checkpoint
   kept is the one with the lowest training loss), the threshold is fixed
   at 0.5, and the recipe below was fixed before the final run.
3. Trains through the engine (``medtl train`` does the same) and reports
   Dice/F1, IoU, ROC AUC, accuracy, sensitivity and specificity of vessel
   pixels inside the FOV masks, pooled over all test pixels (as the DRIVE
   literature reports them) and as means over the 5 cases, next to the
   published values (official test set, so not the same images).

Usage::

    .venv/bin/python benchmarks/bench_drive.py [--data DIR] [--work DIR] [--epochs N] [--model M] [--tune] ...

Any folder with the same layout works (``--data``). An encoder U-Net starts
from imported weights with e.g. ``--model resnet34 --pretrained imagenet``
(the weight store must hold them: ``medtl weights import FILE``; nothing is
downloaded). Input options: ``--colour-channel``, ``--contrast``,
``--input-scale``, ``--base-channels`` (see ``medtl train --help``). The last line printed
is one JSON object with flat numeric keys.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DRIVE = ROOT.parent / "shared" / "data" / "drive" / "training"

#: literature values on DRIVE's official test set (vessel pixels inside the FOV)
PUBLISHED = {
    "unet": {"dice": 0.814, "auc": 0.976, "accuracy": 0.953},
    "r2unet": {"dice": 0.817, "auc": 0.978},
    "iternet": {"dice": 0.821, "auc": 0.982},
    "sa_unet": {"dice": 0.826, "auc": 0.986},
    "second_observer": {"dice": 0.788, "accuracy": 0.947},
}

#: the product's DRIVE recipe, chosen on a tuning split inside the 15 training cases (train 21-32,
#: validate 33-35; see benchmarks/RESULTS.md), never on the 5 test cases
RECIPE = {
    "task": "segmentation",
    "model": "unet_small",
    "epochs": 40,
    "image_size": 96,
    "patches_per_image": 120,
    "foreground_fraction": 0.5,
    "batch_size": 16,
    "lr": 3e-3,
    "schedule": "onecycle",
    "augmentation": "strong",
    "weight_decay": 1e-4,
    "monitor": "train_loss",
    "sliding_window_overlap": 0.5,
    "precision": "auto",
    "colour_channel": "all",
    "contrast": "none",
    "dice_weight": 1.0,
    "input_scale": 1.0,
    "seed": 0,
}


def import_pairs(data: Path, project_dir: Path, tune: bool = False):
    """Import the folder pair into a new project and fix the 15/5 split by case id.

    ``tune``: the recipe-tuning split instead: the first 12 cases train, the next 3 validate,
    the last 5 (the test cases) are left out of the project's splits entirely.
    """
    from medtl_gui.core.project import Project
    from medtl_gui.core.project.importing import import_sources

    project = Project.create(project_dir, name="DRIVE benchmark")
    report = import_sources(project, [data], seg_label_name="vessel")
    records = sorted(project.images(), key=lambda r: Path(r.path).name)
    if len(records) < 6 or report.masks_imported < len(records):
        raise SystemExit(f"{data}: expected image+mask pairs, imported {len(records)} images and "
                         f"{report.masks_imported} masks ({report.summary()})")
    n_test = 5
    with project.transaction():
        for index, record in enumerate(records):
            split = "val" if index >= len(records) - n_test else "train"
            if tune:
                split = None if index >= len(records) - n_test else "val" if index >= len(records) - n_test - 3 \
                    else "train"
            project.set_split(record.id, split)
    names = {split: [Path(r.path).name for r in records if project.image(r.id).split == split]
             for split in ("train", "val")}
    return project, names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DRIVE, help="image+mask folder pair (DRIVE layout)")
    parser.add_argument("--work", type=Path, help="folder for the project and run (default: a temporary one)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--flips", action="store_true", default=True, help="test-time flips (default on)")
    parser.add_argument("--no-flips", dest="flips", action="store_false")
    parser.add_argument("--tune", action="store_true",
                        help="recipe-tuning split: train on the first 12 cases, test on the next 3 (never the last 5)")
    parser.add_argument("--base-channels", type=int, help="plain U-Net width (default: the model's)")
    parser.add_argument("--pretrained", help="encoder weights from the weight store for an encoder U-Net, e.g. "
                        "--model resnet34 --pretrained imagenet (import them first: medtl weights import)")
    parser.add_argument("--weights-dir", type=Path, help="weight store folder (default: $MEDTL_WEIGHTS_DIR or user data)")
    for key, value in RECIPE.items():
        if key not in ("task",):
            parser.add_argument(f"--{key.replace('_', '-')}", dest=key, type=type(value), default=value)
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"{args.data}: no such folder (DRIVE lives in ../shared/data/drive/training)")

    from medtl_gui.core.data.segmentation import open_segmentation_source
    from medtl_gui.core.evaluation.segmentation_run import evaluate_segmentation_run
    from medtl_gui.core.training import TrainConfig, train
    from medtl_gui.core.training.console_progress import ConsoleProgress

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-drive-"))
    project, names = import_pairs(args.data, work / "project", args.tune)
    project.close()
    print(f"train {names['train']}\ntest  {names['val']}", file=sys.stderr)
    config = TrainConfig.from_dict({**RECIPE, **{k: getattr(args, k) for k in RECIPE if k != "task"},
                                    "device": args.device, "base_channels": args.base_channels,
                                    "pretrained": args.pretrained})
    data = open_segmentation_source(work / "project")
    started = time.perf_counter()
    from medtl_gui.commands import user_errors, weight_store

    try:
        result = train(config, data, ConsoleProgress(), run_dir=work / "run", weight_store=weight_store(args.weights_dir))
    except user_errors() as exc:
        raise SystemExit(f"bench_drive: {exc}") from None
    train_s = time.perf_counter() - started
    if not result.ok:
        raise SystemExit(f"training failed: {result.error}")
    started = time.perf_counter()
    scores = evaluate_segmentation_run(work / "run", data.val, device=args.device, flips=args.flips)
    eval_s = time.perf_counter() - started
    vessel = scores["labels"]["vessel"]
    figures = {
        "train_cases": len(names["train"]), "test_cases": len(names["val"]),
        "dice": vessel["dice_pooled"], "iou": vessel["iou_pooled"], "auc": vessel["auc_pooled"],
        "accuracy": vessel["accuracy_pooled"], "sensitivity": vessel["sensitivity_pooled"],
        "specificity": vessel["specificity_pooled"],
        "dice_case_mean": vessel["dice"], "auc_case_mean": vessel["auc"],
        "dice_without_flips": result.report["val"]["labels"]["vessel"]["dice_pooled"],
        "auc_without_flips": result.report["val"]["labels"]["vessel"]["auc_pooled"],
        "train_seconds": round(train_s, 1), "eval_seconds": round(eval_s, 1),
        "epochs": result.epochs_completed, "patches_per_image": config.patches_per_image,
        "patch_size": config.image_size, "precision_bf16": int(result.report.get("precision") == "bf16"),
        "published_unet_dice": PUBLISHED["unet"]["dice"], "published_unet_auc": PUBLISHED["unet"]["auc"],
        "published_sa_unet_dice": PUBLISHED["sa_unet"]["dice"], "published_sa_unet_auc": PUBLISHED["sa_unet"]["auc"],
    }
    project = data.extra["project"]
    for case in scores["per_case"]:
        name = Path(project.image(int(case["case"])).path).name
        print(f"{name}: dice {case['dice']:.4f} auc {case['auc']:.4f}", file=sys.stderr)
    print(f"run folder: {work / 'run'} ({config.model}, {result.report.get('device')}, "
          f"{result.report.get('precision')})", file=sys.stderr)
    print(json.dumps({k: (round(v, 5) if isinstance(v, float) else v) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
