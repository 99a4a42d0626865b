"""Domain shift on PneumoniaMNIST: plain fine-tuning vs AdaBN, DSBN and DANN (issue 7).

Source domain: the PneumoniaMNIST training split (``../shared/data/medmnist/
pneumoniamnist.npz``), with its unshifted validation split for model
selection. Target domain: the val and test images passed through a
simulated "other scanner" (:func:`scanner_shift`, fixed seed):

1. lower detector resolution: area-downsampled to ``--low-res`` px and
   bilinearly upsampled back to 28 px;
2. a softer modulation transfer: Gaussian blur (sigma ``--blur`` px);
3. a different grey-level curve: gamma ``--gamma`` on [0, 1] intensities
   (and a raised black level: 0.1 + 0.8 x; linear parts are undone by the
   per-image percentile windowing, the gamma is not);
4. quantum and electronic noise: Poisson noise at ``--photons`` photons per
   unit intensity, plus Gaussian noise of sigma ``--noise`` (of the range).

Runs (same recipe and seed; ``--recipe`` balanced with ``--epochs`` epochs):

- ``adabn`` run: ordinary training, whose ``best`` checkpoint is the plain
  fine-tuning baseline, and whose ``target`` checkpoint is AdaBN (BN
  statistics re-estimated on the unlabelled shifted *val* images);
- ``dsbn`` run: domain-specific BN, target BN tracked on the shifted val images;
- ``dann`` run: adversarial training with the shifted val images as
  unlabelled target images.

Each model is tested on the shifted test images (its target checkpoint) and
on the unshifted test images (its source checkpoint, as it would be used on
source images; the target checkpoint's unshifted figure is given too).
Lost AUC = plain unshifted AUC - plain shifted AUC; a method's recovered
fraction = (method shifted AUC - plain shifted AUC) / lost AUC.
Target: best recovered fraction >= 0.5; no method loses > 0.01 on unshifted test.

Usage: .venv/bin/python benchmarks/bench_domain_shift.py [--epochs 8] [--threads 1] [--methods adabn,dsbn,dann]
The last line printed is one flat JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "medmnist" / "pneumoniamnist.npz"


def scanner_shift(images: np.ndarray, seed: int, *, low_res: int = 14, blur: float = 0.7, gamma: float = 0.5,
                  photons: float = 60.0, noise: float = 0.04) -> np.ndarray:
    """The simulated other scanner (see the module docstring); uint8 in, uint8 out, reproducible from ``seed``."""
    import torch
    import torch.nn.functional as F
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    x = torch.from_numpy(images.astype(np.float32) / 255.0)[:, None]
    size = images.shape[-1]
    if low_res < size:
        x = F.interpolate(x, size=(low_res, low_res), mode="area")
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    out = x[:, 0].numpy()
    if blur > 0:
        out = np.stack([gaussian_filter(image, blur) for image in out])
    out = 0.1 + 0.8 * np.clip(out, 0, 1) ** gamma
    if photons > 0:
        out = rng.poisson(out * photons) / photons
    out = out + rng.normal(0.0, noise, size=out.shape)
    return (np.clip(out, 0, 1) * 255).round().astype(np.uint8)


def write_shifted(npz: Path, work: Path, seed: int, shift: dict) -> tuple[Path, Path]:
    """``shifted.npz`` (shifted val/test with labels) and ``target.npz`` (shifted val images only, unlabelled)."""
    with np.load(npz) as archive:
        arrays = {k: archive[k] for k in archive.files}
    val = scanner_shift(arrays["val_images"], seed, **shift)
    test = scanner_shift(arrays["test_images"], seed + 1, **shift)
    shifted = work / "shifted.npz"
    np.savez(shifted, class_names=np.array(["normal", "pneumonia"]),
             train_images=val[:4], train_labels=arrays["val_labels"][:4],  # train split: required key only
             val_images=val, val_labels=arrays["val_labels"], test_images=test, test_labels=arrays["test_labels"])
    target = work / "target.npz"
    np.savez(target, images=val)
    return shifted, target


def train_run(method: str, args: argparse.Namespace, target: Path, run_dir: Path) -> dict:
    from medtl_gui.core.data.npz_source import load_npz_splits
    from medtl_gui.core.data.target_domain import with_target_npz
    from medtl_gui.core.training import train
    from medtl_gui.core.training.recipes import recipe_for_data

    data = with_target_npz(load_npz_splits(args.data), target)
    overrides = {"epochs": args.epochs, "seed": args.seed, "domain_adaptation": method}
    if args.image_size:
        overrides["image_size"] = args.image_size
    config = recipe_for_data(args.recipe, data, **overrides)
    started, cpu = time.perf_counter(), _cpu_seconds()
    result = train(config, data, None, run_dir=run_dir)
    if result.status != "completed":
        raise RuntimeError(f"{method} run ended {result.status}: {result.error}")
    return {"train_wall_s": round(time.perf_counter() - started, 1), "train_cpu_s": round(_cpu_seconds() - cpu, 1),
            "best_epoch": result.best_epoch}


def evaluate(run_dir: Path, npz: Path, checkpoint: str) -> dict:
    from medtl_gui.core.data.npz_source import from_npz
    from medtl_gui.core.evaluation.run_evaluation import evaluate_run

    result = evaluate_run(run_dir, from_npz(npz, "test"), checkpoint=checkpoint, device="cpu")
    ci = result.get("ci95", {}).get("auc") or [None, None]
    return {"auc": round(result["auc"], 4), "auc_ci_low": _round(ci[0]), "auc_ci_high": _round(ci[1]),
            "acc": round(result["accuracy"], 4), "bal_acc": round(result["balanced_accuracy"], 4)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--recipe", default="balanced")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--image-size", type=int, help="default: the recipe's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shift-seed", type=int, default=2026)
    parser.add_argument("--low-res", type=int, default=14)
    parser.add_argument("--blur", type=float, default=0.7)
    parser.add_argument("--gamma", type=float, default=0.5)
    parser.add_argument("--photons", type=float, default=60.0)
    parser.add_argument("--noise", type=float, default=0.04)
    parser.add_argument("--methods", default="adabn,dsbn,dann", help="runs to train (adabn gives plain too)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (1 on a shared machine)")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"{args.data}: not found (the shared PneumoniaMNIST file)")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    shift = {"low_res": args.low_res, "blur": args.blur, "gamma": args.gamma, "photons": args.photons,
             "noise": args.noise}
    figures: dict = {"recipe": args.recipe, "epochs": args.epochs, "seed": args.seed, "shift_seed": args.shift_seed,
                     **{f"shift_{k}": v for k, v in shift.items()}, "torch_threads": torch.get_num_threads(),
                     "cpu_count": os.cpu_count(), "load_avg_start": round(os.getloadavg()[0], 2)}
    started = time.perf_counter()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_domain_shift_"))
    work.mkdir(parents=True, exist_ok=True)
    shifted, target = write_shifted(args.data, work, args.shift_seed, shift)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    rows: dict[str, dict] = {}
    for method in methods:
        run = work / method
        timing = train_run(method, args, target, run)
        figures |= {f"{method}_{k}": v for k, v in timing.items()}
        target_tag = "best" if method == "dann" else "target"
        if method == "adabn":
            rows["plain"] = {"shifted": evaluate(run, shifted, "best"), "unshifted": evaluate(run, args.data, "best")}
        rows[method] = {"shifted": evaluate(run, shifted, target_tag), "unshifted": evaluate(run, args.data, "best")}
        if target_tag != "best":
            rows[method]["unshifted_target_checkpoint"] = evaluate(run, args.data, target_tag)
        print(f"{method}: {json.dumps(rows[method])}", file=sys.stderr, flush=True)
    for name, row in rows.items():
        for domain, metrics in row.items():
            figures |= {f"{name}_{domain}_{k}": v for k, v in metrics.items()}
    if "plain" in rows:
        plain_unshifted, plain_shifted = rows["plain"]["unshifted"]["auc"], rows["plain"]["shifted"]["auc"]
        lost = plain_unshifted - plain_shifted
        figures["auc_lost_to_shift"] = round(lost, 4)
        recovered = {}
        for name in methods:
            auc = rows[name]["shifted"]["auc"]
            recovered[name] = round((auc - plain_shifted) / lost, 3) if lost > 0 else None
            figures[f"{name}_recovered_fraction"] = recovered[name]
            figures[f"{name}_unshifted_auc_change"] = round(rows[name]["unshifted"]["auc"] - plain_unshifted, 4)
        valid = {k: v for k, v in recovered.items() if v is not None}
        if valid:
            best = max(valid, key=valid.get)
            figures["best_method"] = best
            figures["best_recovered_fraction"] = valid[best]
            figures["meets_target_recovery"] = valid[best] >= 0.5
        losses = [-figures[f"{m}_unshifted_auc_change"] for m in methods]
        figures["max_unshifted_auc_loss"] = round(max(0.0, *losses), 4)
        figures["meets_unshifted_limit"] = figures["max_unshifted_auc_loss"] <= 0.01
    figures["total_wall_s"] = round(time.perf_counter() - started, 1)
    figures["load_avg_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
