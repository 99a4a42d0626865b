"""VesselMNIST3D with the CLI's default 3D recipe (issue 16, 3D classification).

1. ``medtl train ../shared/data/medmnist3d/vesselmnist3d.npz`` with no training options: the registry finds
   the 3D classification task from the volumes and its default recipe trains (only ``--seed`` changes
   between seeds), timed; each run must end within 10 minutes on a 2-core CPU.
2. ``medtl evaluate`` of the best checkpoint on the official test split (382 volumes, 43 aneurysms):
   accuracy, balanced accuracy, sensitivity, specificity, ROC AUC with bootstrap 95% intervals, at the
   run's decision threshold.

Published (MedMNIST v2, test split): ResNet-18+3D AUC 0.874 (ACC 0.877); ResNet-50+3D ACC 0.918 / AUC 0.907.
Target: AUC >= 0.92 with balanced accuracy >= 0.80.

Usage: .venv/bin/python benchmarks/bench_vessel3d.py [--seeds 3] [--data NPZ] [--work DIR] [--threads N]
The last line printed is one JSON object (flat keys; with several seeds, ``*_mean``/``*_sd`` and per seed).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "medmnist3d" / "vesselmnist3d.npz"

PUBLISHED = {"published_resnet18_3d_auc": 0.874, "published_resnet18_3d_acc": 0.877,
             "published_resnet50_3d_acc": 0.918, "published_resnet50_3d_auc": 0.907}
TARGET = {"auc": 0.92, "bal_acc": 0.80}
TIME_LIMIT_S = 600


def cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_seed(data: Path, work: Path, seed: int) -> dict:
    from medtl_gui.cli import main

    run_dir = work / f"run-seed{seed}"
    args = ["train", str(data), "--run-dir", str(run_dir), "--quiet"] + (["--seed", str(seed)] if seed else [])
    started, cpu_started = time.perf_counter(), cpu_seconds()
    code = main(args)
    train_s, train_cpu_s = time.perf_counter() - started, cpu_seconds() - cpu_started
    if code != 0:
        raise RuntimeError(f"medtl train exited with {code}; see {run_dir}")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["evaluate", str(data), "--run", str(run_dir), "--split", "test", "--json"])
    if code != 0:
        raise RuntimeError(f"medtl evaluate exited with {code}")
    result = json.loads(out.getvalue())
    record = json.loads((run_dir / "config.json").read_text())
    report = json.loads((run_dir / "report.json").read_text())
    ci = result["ci95"]
    figures = {
        "train_wall_s": round(train_s, 1), "train_cpu_s": round(train_cpu_s, 1),
        "acc": result["accuracy"], "bal_acc": result["balanced_accuracy"],
        "bal_acc_ci_low": ci["balanced_accuracy"][0], "bal_acc_ci_high": ci["balanced_accuracy"][1],
        "sensitivity": result["recall"], "specificity": result["specificity"],
        "auc": result["auc"], "auc_ci_low": ci["auc"][0], "auc_ci_high": ci["auc"][1],
        "threshold": report.get("decision_threshold", 0.5), "best_epoch": report["best_epoch"],
        "val_auc_best": report["best_metric"],
    }
    figures = {k: round(float(v), 4) for k, v in figures.items()}
    figures["within_time_limit"] = bool(train_s <= TIME_LIMIT_S)
    figures["_task"] = record["task"]
    figures["_config"] = record["config"]
    figures["_precision"] = record["execution"]["precision"]
    return figures


def summarise(per_seed: list[dict]) -> dict:
    first = per_seed[0]
    config, task, precision = first["_config"], first["_task"], first["_precision"]
    per_seed = [{k: v for k, v in s.items() if not k.startswith("_")} for s in per_seed]
    out: dict = {"task": task, "model": config["model"], "epochs": config["epochs"],
                 "batch_size": config["batch_size"], "lr": config["lr"], "schedule": config["schedule"],
                 "augmentation": config["augmentation"], "imbalance": config["imbalance"],
                 "threshold_policy": config["threshold_policy"], "precision": precision, "seeds": len(per_seed)}
    numeric = [k for k in per_seed[0] if isinstance(per_seed[0][k], float)]
    for key in numeric:
        values = [s[key] for s in per_seed]
        out[f"{key}_mean"] = round(statistics.mean(values), 4)
        out[f"{key}_sd"] = round(statistics.stdev(values), 4) if len(values) > 1 else 0.0
    for i, s in enumerate(per_seed):
        out |= {f"seed{i}_{k}": s[k] for k in ("acc", "bal_acc", "sensitivity", "specificity", "auc", "train_wall_s")}
    out["all_within_time_limit"] = all(s["within_time_limit"] for s in per_seed)
    out["meets_target"] = bool(out["auc_mean"] >= TARGET["auc"] and out["bal_acc_mean"] >= TARGET["bal_acc"])
    return out | PUBLISHED


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one, deleted)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if not args.data.is_file():
        print(f"VesselMNIST3D not found at {args.data}", file=sys.stderr)
        return 2
    load_start = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-vessel3d-") as temp:
        work = args.work or Path(temp)
        per_seed = []
        for seed in range(args.seeds):
            per_seed.append(one_seed(args.data, work, seed))
            print(f"seed {seed}: {json.dumps({k: v for k, v in per_seed[-1].items() if not k.startswith('_')})}",
                  file=sys.stderr, flush=True)
        out = summarise(per_seed)
    import torch

    out |= {"total_wall_s": round(time.perf_counter() - started, 1), "load_avg_start": load_start,
            "load_avg_end": round(os.getloadavg()[0], 2), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
