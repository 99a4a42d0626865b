"""Active learning on PneumoniaMNIST with a simulated annotator (issue 8).

The annotator is the data set's own labels: each round the strategy picks
images from the unlabelled training pool and "receives" their labels.

- Start: 50 labels drawn at random from the 3882-image training pool
  (seeded; redrawn when a draw holds only one class).
- 5 rounds, +50 labels each: by uncertainty (``entropy`` of the current
  model's probabilities, via ``medtl_gui.core.review.active_learning``;
  optionally ``hybrid`` = entropy pool then k-center on backbone
  features) or at random. Round 0 is shared (same labels, same model).
- Every round trains a fresh model through the one engine
  (``core.training.engine.train``) on in-memory data: baseline CNN from
  scratch at 28 px, fp32 on the CPU, class-weighted loss (``imbalance=auto``),
  best epoch chosen on the official validation split, test AUC on the
  official test split (624 images).

Figures: per-round mean test AUC over seeds (``<strategy>_auc_r0..r5``),
their SDs, label counts per round, and how many labels uncertainty
sampling needs to reach random sampling's final mean AUC (first round
whose mean reaches it, and a linear interpolation between rounds).

Usage: .venv/bin/python benchmarks/bench_active_learning.py [--seeds 3] [--rounds 5] [--initial 50] [--step 50]
       [--strategies entropy,hybrid] [--epochs 20] [--threads 1] [--data NPZ] [--work DIR]
The last line printed is one flat JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "medmnist" / "pneumoniamnist.npz"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--work", type=Path, help="folder for the runs (default: a temporary folder)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--initial", type=int, default=50)
    parser.add_argument("--step", type=int, default=50)
    parser.add_argument("--strategies", default="entropy",
                        help="comma list of entropy, margin, hybrid (random always runs)")
    parser.add_argument("--model", default="baseline_cnn")
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    return parser.parse_args()


def initial_labels(targets: np.ndarray, n: int, rng: np.random.Generator) -> list[int]:
    """``n`` random pool indices holding both classes (redrawn otherwise)."""
    while True:
        picked = rng.choice(len(targets), size=n, replace=False)
        if len(np.unique(targets[picked])) > 1:
            return sorted(int(i) for i in picked)


def train_round(data, labelled: list[int], args, seed: int, run_dir: Path):
    """Train on the labelled pool images; returns (test AUC, run folder)."""
    from medtl_gui.core.data.labelled_images import DataSplits
    from medtl_gui.core.training import train
    from medtl_gui.core.training.config import TrainConfig

    splits = DataSplits(train=data.train.subset(labelled, f"pool[{len(labelled)}]"), val=data.val,
                        test=data.test, source=data.source)
    config = TrainConfig(model=args.model, pretrained=None, image_size=args.image_size, in_channels=1,
                         epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, augmentation="light",
                         imbalance="auto", seed=seed, device=args.device, precision="fp32",
                         channels_last=False, validation_samples=0)
    result = train(config, splits, run_dir=run_dir)
    if result.status not in ("completed", "early_stopped"):
        raise RuntimeError(f"{run_dir.name}: run {result.status}: {result.error}")
    return float(result.report["test"]["auc"]), result.run_dir


def select_next(strategy: str, data, labelled: list[int], run_dir: Path, step: int, rng: np.random.Generator,
                device: str) -> list[int]:
    """The next ``step`` pool indices to label."""
    unlabelled = np.setdiff1d(np.arange(len(data.train)), labelled)
    if strategy == "random":
        return sorted(int(i) for i in rng.choice(unlabelled, size=step, replace=False))
    from medtl_gui.core.inference.prediction import ScanToPredict
    from medtl_gui.core.inference.trained_model import load_trained_model
    from medtl_gui.core.review.active_learning import rank_by_uncertainty, rank_hybrid
    from medtl_gui.core.review.model_outputs import collect_outputs

    trained = load_trained_model(run_dir)
    items = data.train
    scans = [ScanToPredict(source=items[i].id, load=items[i].load, image_id=int(i)) for i in unlabelled]
    labelled_scans = [ScanToPredict(source=items[i].id, load=items[i].load, image_id=int(i)) for i in labelled]
    outputs = collect_outputs(trained, scans, device=device, batch_size=256, with_features=strategy == "hybrid")
    if strategy in ("entropy", "margin"):
        ranked = rank_by_uncertainty(outputs.keys, outputs.probabilities, strategy)
    elif strategy == "hybrid":
        centres = collect_outputs(trained, labelled_scans, device=device, batch_size=256, with_features=True)
        ranked = rank_hybrid(outputs.keys, outputs.probabilities, outputs.features, step, centres.features)
    else:
        raise ValueError(f"unknown strategy {strategy!r}")
    return [item.key for item in ranked[:step]]


def labels_to_reach(curve: list[float], counts: list[int], target: float) -> tuple[int | None, float | None]:
    """First label count whose AUC >= target, and the linear interpolation between rounds."""
    for r, value in enumerate(curve):
        if value >= target:
            if r == 0:
                return counts[0], float(counts[0])
            previous = curve[r - 1]
            fraction = (target - previous) / (value - previous) if value > previous else 1.0
            return counts[r], float(counts[r - 1] + fraction * (counts[r] - counts[r - 1]))
    return None, None


def main() -> int:
    args = parse_args()
    if not args.data.is_file():
        print(f"no data at {args.data}: this benchmark needs ../shared/data", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    from medtl_gui.core.data.npz_source import load_npz_splits

    data = load_npz_splits(args.data)
    targets = data.train.targets()
    strategies = ["random"] + [s for s in args.strategies.split(",") if s]
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_al_"))
    counts = [args.initial + r * args.step for r in range(args.rounds + 1)]
    curves: dict[str, list[list[float]]] = {s: [] for s in strategies}
    positives: dict[str, list[list[float]]] = {s: [] for s in strategies}
    started = time.perf_counter()
    n_trainings = 0
    for seed in range(args.seeds):
        start = initial_labels(targets, args.initial, np.random.default_rng(1000 + seed))
        auc0, run0 = train_round(data, start, args, seed, work / f"seed{seed}-r0")
        n_trainings += 1
        for strategy in strategies:
            rng = np.random.default_rng(2000 + seed)
            labelled, run_dir, curve = list(start), run0, [auc0]
            share = [float(np.mean(targets[labelled] == 0))]
            for r in range(1, args.rounds + 1):
                labelled = sorted(labelled + select_next(strategy, data, labelled, run_dir, args.step, rng,
                                                          args.device))
                auc, run_dir = train_round(data, labelled, args, seed, work / f"seed{seed}-{strategy}-r{r}")
                n_trainings += 1
                curve.append(auc)
                share.append(float(np.mean(targets[labelled] == 0)))
                print(f"seed {seed} {strategy} round {r}: {len(labelled)} labels, test AUC {auc:.4f}, "
                      f"normal share {share[-1]:.2f} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
            curves[strategy].append(curve)
            positives[strategy].append(share)
    out: dict[str, object] = {"seeds": args.seeds, "rounds": args.rounds, "initial_labels": args.initial,
                              "labels_per_round": args.step, "model": args.model, "image_size": args.image_size,
                              "epochs": args.epochs, "threads": args.threads, "trainings": n_trainings}
    for r, n in enumerate(counts):
        out[f"labels_r{r}"] = n
    for strategy in strategies:
        means = [statistics.fmean(c[r] for c in curves[strategy]) for r in range(args.rounds + 1)]
        for r in range(args.rounds + 1):
            out[f"{strategy}_auc_r{r}"] = round(means[r], 4)
            values = [c[r] for c in curves[strategy]]
            out[f"{strategy}_auc_sd_r{r}"] = round(statistics.stdev(values), 4) if len(values) > 1 else 0.0
            out[f"{strategy}_normal_share_r{r}"] = round(statistics.fmean(s[r] for s in positives[strategy]), 3)
        curves[strategy] = [means]  # keep the mean curve for the comparison below
    random_final = curves["random"][0][-1]
    out["random_final_auc"] = round(random_final, 4)
    out["random_final_labels"] = counts[-1]
    for strategy in strategies[1:]:
        first, interpolated = labels_to_reach(curves[strategy][0], counts, random_final)
        out[f"{strategy}_labels_to_random_final"] = first
        out[f"{strategy}_labels_to_random_final_interp"] = round(interpolated, 1) if interpolated is not None else None
        out[f"{strategy}_final_auc_gain"] = round(curves[strategy][0][-1] - random_final, 4)
    out["wall_s"] = round(time.perf_counter() - started, 1)
    out["load_avg_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
