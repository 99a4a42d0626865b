"""A 10-minute time budget against the default recipe on 500 PneumoniaMNIST training images (issue 14).

The data are fixed before anything runs: 500 training images drawn once
(seed 0, stratified, so the training split's class mix is kept) from
``../shared/data/medmnist/pneumoniamnist.npz``; validation is the official
val split (524), test the official test split (624). Everything goes through
the command line, as a user would, in child processes:

1. ``medtl import PROJECT subset.npz``
2. ``medtl train PROJECT --epochs 10 --batch-size 128`` (the default recipe
   as it was before it adapted to small data: the run that "stops after
   about 45 s"), ``medtl train PROJECT`` (the default recipe, sized for 500
   images) and ``medtl train PROJECT --time-budget 10`` (the same recipe;
   the engine chooses epochs, and maybe the image size, from a timed probe
   and re-plans from the measured epochs), each timed;
3. ``medtl evaluate PROJECT --run RUN --json`` on the test split.

Usage: .venv/bin/python benchmarks/bench_time_budget.py [--budget 10] [--n-train 500] [--work DIR]
The last line printed is one flat JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "medmnist" / "pneumoniamnist.npz"


def medtl(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
    """``python -m medtl_gui.cli ARGS`` in a child process; raises with its stderr when it fails."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "medtl_gui.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"medtl {' '.join(args)} exited with {done.returncode}:\n{done.stderr[-3000:]}")
    return done


def subset_npz(source: Path, target: Path, n_train: int, seed: int = 0) -> dict[str, int]:
    """``n_train`` training images (stratified, fixed seed) plus the official val and test splits."""
    data = np.load(source)
    labels = data["train_labels"].reshape(-1)
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        take = round(n_train * len(members) / len(labels))
        chosen += rng.choice(members, size=take, replace=False).tolist()
    chosen = sorted(chosen)[:n_train]
    np.savez(target, train_images=data["train_images"][chosen], train_labels=data["train_labels"][chosen],
             val_images=data["val_images"], val_labels=data["val_labels"],
             test_images=data["test_images"], test_labels=data["test_labels"])
    picked = labels[chosen]
    return {"n_train": len(chosen), "n_train_normal": int((picked == 0).sum()),
            "n_train_pneumonia": int((picked == 1).sum()), "n_val": len(data["val_labels"]),
            "n_test": len(data["test_labels"])}


def train_and_evaluate(project: Path, run_dir: Path, extra: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    trained = medtl("train", str(project), "--run-dir", str(run_dir), *extra)
    wall = time.perf_counter() - started
    record = json.loads((run_dir / "config.json").read_text())
    report = json.loads((run_dir / "report.json").read_text())
    evaluated = json.loads(medtl("evaluate", str(project), "--run", str(run_dir), "--json").stdout)
    budget = report.get("time_budget") or {}
    return {
        "wall_s": round(wall, 1), "engine_s": round(float(report.get("seconds", 0.0)), 1),
        "epochs": record["config"]["epochs"], "epochs_completed": report.get("epochs_completed"),
        "image_size": record["resolved"]["image_size"], "batch_size": record["config"]["batch_size"],
        "best_epoch": report.get("best_epoch"),
        "stopped_by_budget": budget.get("stopped_by_budget"), "replans": len(budget.get("replans") or []),
        "acc": round(float(evaluated["accuracy"]), 4), "auc": round(float(evaluated["auc"]), 4),
        "bal_acc": round(float(evaluated["balanced_accuracy"]), 4),
        "auc_ci_low": round(float(evaluated["ci95"]["auc"][0]), 4),
        "auc_ci_high": round(float(evaluated["ci95"]["auc"][1]), 4),
        "_reason": trained.stderr.splitlines()[0] if trained.stderr else "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--n-train", type=int, default=500)
    parser.add_argument("--budget", type=float, default=10.0, help="minutes")
    parser.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"PneumoniaMNIST not found at {args.data}", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-time-budget-"))
    work.mkdir(parents=True, exist_ok=True)
    npz = work / f"pneumonia-{args.n_train}.npz"
    counts = subset_npz(args.data, npz, args.n_train)
    project = work / "project"
    medtl("import", str(project), str(npz))
    out: dict[str, object] = {"bench": "time_budget", "cpu_count": os.cpu_count(), "budget_min": args.budget}
    out |= counts
    arms = (("previous", ["--epochs", "10", "--batch-size", "128"]), ("default", []),
            ("budget", ["--time-budget", f"{args.budget:g}"]))
    for name, extra in arms:
        figures = train_and_evaluate(project, work / f"run-{name}", extra)
        print(f"{name}: {figures.pop('_reason')}", file=sys.stderr)
        print(f"{name}: {json.dumps(figures)}", file=sys.stderr)
        out |= {f"{name}_{key}": value for key, value in figures.items()}
    out["gain_auc"] = round(float(out["budget_auc"]) - float(out["default_auc"]), 4)
    out["gain_bal_acc"] = round(float(out["budget_bal_acc"]) - float(out["default_bal_acc"]), 4)
    out["gain_acc"] = round(float(out["budget_acc"]) - float(out["default_acc"]), 4)
    out["gain_auc_vs_previous"] = round(float(out["budget_auc"]) - float(out["previous_auc"]), 4)
    out["gain_bal_acc_vs_previous"] = round(float(out["budget_bal_acc"]) - float(out["previous_bal_acc"]), 4)
    out["budget_used_share"] = round(float(out["budget_engine_s"]) / (60.0 * args.budget), 3)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
