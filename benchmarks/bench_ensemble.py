"""An ensemble of 3 seeds vs its best member on PneumoniaMNIST, with and without test-time augmentation (issue 7).

1. Train 3 members with ``medtl train NPZ --recipe balanced --seed S`` (S = 0, 1, 2; ResNet-18 from
   scratch at 64 px, the default recipe) on ../shared/data/medmnist/pneumoniamnist.npz, sequentially,
   timed. Existing finished member runs in ``--work`` are reused (``--train-only`` stops after this).
2. Build three ensembles from the member runs (``build_ensemble``): probability averaging (mean),
   weighted averaging with weights fitted on the validation split (minimum log-loss over the simplex),
   and majority vote.
3. Test split (624 images): ACC, balanced ACC and ROC AUC of every member and every ensemble, with
   percentile-bootstrap 95% intervals (``core/evaluation/bootstrap.py``, 1000 resamples, seed 0), the
   best member being the one with the highest *validation* AUC (chosen without looking at the test
   split) and, for reference, the best on test. The mean ensemble is also evaluated with test-time
   augmentation ``flips`` (identity, left-right, up-down) and ``flips+rot`` (the 8 flips/90-degree
   rotations), and a paired bootstrap gives the interval of the AUC/ACC difference ensemble - best member.

Usage: .venv/bin/python benchmarks/bench_ensemble.py [--work DIR] [--threads 1] [--seeds 0,1,2] [--train-only]
The last line printed is one flat JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "medmnist" / "pneumoniamnist.npz"
RECIPE = "balanced"


def cpu_seconds() -> float:
    """CPU time (user + system, all threads) this process has used so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def train_member(npz: Path, run_dir: Path, seed: int) -> dict[str, float]:
    """Train one member (reused when ``run_dir`` already holds a finished run); its wall and CPU seconds."""
    from medtl_gui.cli import main

    times_file = run_dir / "bench_times.json"
    if (run_dir / "report.json").is_file() and times_file.is_file():
        return json.loads(times_file.read_text())
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    started, cpu_started = time.perf_counter(), cpu_seconds()
    code = main(["train", str(npz), "--recipe", RECIPE, "--seed", str(seed), "--run-dir", str(run_dir), "--quiet"])
    if code != 0:
        raise RuntimeError(f"medtl train exited with {code}; see {run_dir}")
    times = {"wall_s": round(time.perf_counter() - started, 1), "cpu_s": round(cpu_seconds() - cpu_started, 1)}
    times_file.write_text(json.dumps(times))
    return times


def figures(targets, probabilities, threshold: float, class_names: list[str]) -> dict[str, float]:
    """ACC, balanced ACC, AUC with bootstrap 95% intervals."""
    from medtl_gui.core.evaluation.bootstrap import bootstrap_confidence_intervals
    from medtl_gui.core.evaluation.classification import classification_metrics

    metrics = classification_metrics(targets, probabilities, class_names, threshold=threshold)
    ci = bootstrap_confidence_intervals(targets, probabilities, threshold=threshold, seed=0)["intervals"]
    out = {}
    for key, short in (("accuracy", "acc"), ("balanced_accuracy", "bal_acc"), ("auc", "auc")):
        out[short] = round(float(metrics[key]), 4)
        out[f"{short}_ci_low"] = round(float(ci[key][0]), 4)
        out[f"{short}_ci_high"] = round(float(ci[key][1]), 4)
    return out


def paired_difference(targets, first, second, threshold_first: float, threshold_second: float,
                      n_resamples: int = 1000) -> dict[str, float]:
    """Bootstrap 95% interval of AUC and ACC of ``first`` minus ``second`` on the same resamples."""
    import numpy as np

    from medtl_gui.core.evaluation.bootstrap import weighted_metrics

    rng = np.random.default_rng(0)
    n = len(targets)
    draws = rng.integers(0, n, size=(n_resamples, n))
    weights = np.zeros((n_resamples, n))
    np.add.at(weights, (np.arange(n_resamples)[:, None], draws), 1.0)
    a = weighted_metrics(targets, first, weights, threshold_first)
    b = weighted_metrics(targets, second, weights, threshold_second)
    out = {}
    for key, short in (("auc", "auc"), ("accuracy", "acc")):
        diff = a[key] - b[key]
        diff = diff[np.isfinite(diff)]
        out[f"diff_{short}_ci_low"] = round(float(np.quantile(diff, 0.025)), 4)
        out[f"diff_{short}_ci_high"] = round(float(np.quantile(diff, 0.975)), 4)
    return out


def evaluate(npz: Path, work: Path, member_dirs: list[Path]) -> dict[str, Any]:
    """Every member and ensemble on the test split (see the module docstring)."""
    import numpy as np

    from medtl_gui.core.data.sources import open_data_source
    from medtl_gui.core.evaluation.classification import classification_metrics
    from medtl_gui.core.inference.ensemble import build_ensemble
    from medtl_gui.core.inference.ensemble_prediction import ensemble_probabilities
    from medtl_gui.core.inference.prediction import predict_images
    from medtl_gui.core.inference.trained_model import load_trained_model

    data = open_data_source(npz)
    test, val = data.test, data.val
    targets = test.targets()
    names = data.class_names
    out: dict[str, Any] = {"n_test": len(test), "n_val": len(val)}
    member_test, member_val = [], []
    for k, run_dir in enumerate(member_dirs):
        trained = load_trained_model(run_dir)
        p_test = predict_images(trained, test, "cpu")
        p_val = predict_images(trained, val, "cpu")
        member_test.append((p_test, trained.threshold))
        member_val.append(classification_metrics(val.targets(), p_val, names, trained.threshold)["auc"])
        out |= {f"member{k}_{key}": value for key, value in figures(targets, p_test, trained.threshold, names).items()}
        out[f"member{k}_val_auc"] = round(float(member_val[-1]), 4)
    best_val = int(np.argmax(member_val))
    best_test = int(np.argmax([out[f"member{k}_auc"] for k in range(len(member_dirs))]))
    out["best_member_by_val_auc"] = best_val
    out["best_member_by_test_auc"] = best_test
    out |= {f"best_member_{key}": out[f"member{best_val}_{key}"]
            for key in ("acc", "acc_ci_low", "acc_ci_high", "bal_acc", "auc", "auc_ci_low", "auc_ci_high")}
    for combination in ("mean", "weighted", "vote"):
        folder = work / f"ensemble-{combination}"
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        started = time.perf_counter()
        ensemble = build_ensemble(member_dirs, folder, combination=combination,
                                  validation=val if combination == "weighted" else None, device="cpu")
        out[f"{combination}_build_s"] = round(time.perf_counter() - started, 1)
        if combination == "weighted":
            out |= {f"weighted_w{k}": round(float(w), 4) for k, w in enumerate(ensemble.weights)}
        modes = ("none", "flips", "flips+rot") if combination == "mean" else ("none",)
        for tta in modes:
            started = time.perf_counter()
            probabilities = ensemble_probabilities(ensemble, test, device="cpu", tta=tta)
            seconds = time.perf_counter() - started
            prefix = combination if tta == "none" else f"{combination}_tta_{tta.replace('+', '_')}"
            out |= {f"{prefix}_{key}": value
                    for key, value in figures(targets, probabilities, ensemble.threshold, names).items()}
            out[f"{prefix}_predict_s"] = round(seconds, 2)
            best_p, best_thr = member_test[best_val]
            out |= {f"{prefix}_minus_best_{key}": value for key, value in
                    paired_difference(targets, probabilities, best_p, ensemble.threshold, best_thr).items()}
    started = time.perf_counter()
    p_member_tta = predict_images(load_trained_model(member_dirs[best_val], tta="flips"), test, "cpu")
    out["best_member_tta_flips_predict_s"] = round(time.perf_counter() - started, 2)
    out |= {f"best_member_tta_flips_{key}": value
            for key, value in figures(targets, p_member_tta, member_test[best_val][1], names).items()}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one, deleted)")
    parser.add_argument("--seeds", default="0,1,2", help="member seeds, comma-separated")
    parser.add_argument("--threads", type=int, help="torch CPU threads (1 recommended on the shared 2-core machine)")
    parser.add_argument("--train-only", action="store_true", help="train (or reuse) the members, then stop")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"missing {args.data}", file=sys.stderr)
        return 2
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        load_start = round(os.getloadavg()[0], 2)
        member_dirs = [work / f"member-seed{s}" for s in seeds]
        result: dict[str, Any] = {"recipe": RECIPE, "members": len(seeds), "torch_threads": torch.get_num_threads()}
        for k, (seed, run_dir) in enumerate(zip(seeds, member_dirs)):
            times = train_member(args.data, run_dir, seed)
            result[f"member{k}_seed"] = seed
            result[f"member{k}_train_wall_s"] = times["wall_s"]
            result[f"member{k}_train_cpu_s"] = times["cpu_s"]
            print(f"member seed {seed}: {times}", file=sys.stderr, flush=True)
        if not args.train_only:
            started = time.perf_counter()
            result |= evaluate(args.data, work, member_dirs)
            result["evaluate_wall_s"] = round(time.perf_counter() - started, 1)
        result["load_avg_start"] = load_start
        result["load_avg_end"] = round(os.getloadavg()[0], 2)
        result["cpu_count"] = os.cpu_count()
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
