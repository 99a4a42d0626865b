"""PneumoniaMNIST with the CLI's default recipe (issue 3).

1. Import ../shared/data/medmnist/pneumoniamnist.npz into a fresh project
   (``import_sources``: every image written as a PNG, official splits and labels).
2. ``medtl train PROJECT`` with no training options (the default recipe;
   only ``--seed`` changes between seeds), timed.
3. Evaluate the best checkpoint on the test split (``evaluate_run``):
   accuracy, balanced accuracy, ROC AUC with bootstrap 95% intervals,
   sensitivity, specificity at the run's threshold (0.5 after the
   class-weighted loss); and, for comparison, at Youden's J threshold
   chosen on the validation split.

Floor (MedMNIST v2 ResNet-18 at 28 px): ACC 0.854, AUC 0.944; target ACC >= 0.90, AUC >= 0.96.

Usage: .venv/bin/python benchmarks/bench_pneumonia.py [--seeds 3] [--data NPZ] [--work DIR] [--recipe best]
The last line printed is one JSON object (flat keys; with several seeds, ``*_mean``/``*_sd`` too).
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "medmnist" / "pneumoniamnist.npz"

#: MedMNIST v2 / MedMNIST+ test-set results for PneumoniaMNIST (data README)
PUBLISHED = {
    "published_resnet18_28_acc": 0.854, "published_resnet18_28_auc": 0.944,
    "published_resnet18_224_acc": 0.864, "published_resnet18_224_auc": 0.956,
    "published_resnet50_224_acc": 0.884, "published_resnet50_224_auc": 0.962,
    "published_automl_vision_acc": 0.946, "published_automl_vision_auc": 0.991,
    "published_medmnistplus_imagenet_r18_224_acc": 0.911, "published_medmnistplus_imagenet_r18_224_auc": 0.980,
}
FLOOR = {"acc": 0.854, "auc": 0.944}
TARGET = {"acc": 0.90, "auc": 0.96}


def load_average() -> float:
    """The 1-minute load average (how busy the shared machine was)."""
    return round(os.getloadavg()[0], 2)


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def cpu_seconds() -> float:
    """CPU time (user + system, all threads) this process has used: wall time on an idle machine is
    about this divided by the threads torch uses."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def import_project(npz: Path, folder: Path) -> tuple[dict, float]:
    from medtl_gui.core.project import Project, import_sources

    started = time.perf_counter()
    with Project.create(folder, name="pneumoniamnist-bench") as project:
        report = import_sources(project, [npz])
        if report.skipped:
            raise RuntimeError(f"import skipped {report.skipped[:3]}")
        info = project.info()
    return info, time.perf_counter() - started


def threshold_comparison(run_dir: Path, project_dir: Path) -> dict[str, float]:
    """Test metrics at Youden's J threshold chosen on the validation split, and validation metrics at both."""
    from medtl_gui.core.data.sources import open_data_source
    from medtl_gui.core.evaluation.classification import classification_metrics
    from medtl_gui.core.evaluation.thresholds import youden_threshold
    from medtl_gui.core.inference.prediction import predict_images
    from medtl_gui.core.inference.trained_model import load_trained_model

    data = open_data_source(project_dir)
    trained = load_trained_model(run_dir)
    val_p = predict_images(trained, data.val)
    test_p = predict_images(trained, data.test)
    threshold = youden_threshold(data.val.targets(), val_p[:, 1])
    out: dict[str, float] = {"youden_threshold": threshold}
    for name, targets, probs, thr in (("val_at_05", data.val.targets(), val_p, 0.5),
                                      ("val_at_youden", data.val.targets(), val_p, threshold),
                                      ("youden", data.test.targets(), test_p, threshold)):
        m = classification_metrics(targets, probs, data.class_names, threshold=thr)
        for key, short in (("accuracy", "acc"), ("balanced_accuracy", "bal_acc"), ("recall", "sensitivity"),
                           ("specificity", "specificity")):
            out[f"{name}_{short}"] = round(float(m[key]), 4)
    return out


def one_seed(project_dir: Path, work: Path, seed: int, recipe: str | None = None) -> dict[str, float]:
    from medtl_gui.cli import main
    from medtl_gui.core.data.sources import open_data_source
    from medtl_gui.core.evaluation.run_evaluation import evaluate_run

    run_dir = work / f"run-seed{seed}"
    args = ["train", str(project_dir), "--run-dir", str(run_dir), "--quiet"] + (["--seed", str(seed)] if seed else [])
    args += ["--recipe", recipe] if recipe else []
    started, cpu_started = time.perf_counter(), cpu_seconds()
    code = main(args)
    train_s, train_cpu_s = time.perf_counter() - started, cpu_seconds() - cpu_started
    if code != 0:
        raise RuntimeError(f"medtl train exited with {code}; see {run_dir}")
    record = json.loads((run_dir / "config.json").read_text())
    data = open_data_source(project_dir)
    result = evaluate_run(run_dir, data.test, seed=seed)
    ci = result["ci95"]
    figures = {
        "train_wall_s": round(train_s, 1), "train_cpu_s": round(train_cpu_s, 1),
        "acc": result["accuracy"], "acc_ci_low": ci["accuracy"][0], "acc_ci_high": ci["accuracy"][1],
        "bal_acc": result["balanced_accuracy"], "bal_acc_ci_low": ci["balanced_accuracy"][0],
        "bal_acc_ci_high": ci["balanced_accuracy"][1],
        "auc": result["auc"], "auc_ci_low": ci["auc"][0], "auc_ci_high": ci["auc"][1],
        "sensitivity": result["recall"], "specificity": result["specificity"],
        "threshold": result["threshold"] if "threshold" in result else 0.5,
    }
    figures = {k: round(float(v), 4) for k, v in figures.items()}
    figures |= threshold_comparison(run_dir, project_dir)
    figures["_config"] = record["config"]  # type: ignore[assignment]
    figures["_precision"] = record["execution"]["precision"]  # type: ignore[assignment]
    return figures


def summarise(per_seed: list[dict], seeds: int) -> dict:
    first = per_seed[0]
    config = first.pop("_config")
    precision = first.pop("_precision")
    for extra in per_seed[1:]:
        extra.pop("_config"), extra.pop("_precision")
    out: dict = {
        "recipe": config["recipe"], "model": config["model"], "image_size": config["image_size"],
        "epochs": config["epochs"], "batch_size": config["batch_size"], "lr": config["lr"],
        "schedule": config["schedule"], "augmentation": config["augmentation"], "precision": precision,
        "threshold_method": "fixed 0.5 after class-weighted loss (recipe default); youden_* = Youden's J on val",
        "seeds": seeds,
    }
    if seeds == 1:
        out |= first
    else:
        for key in first:
            values = [float(s[key]) for s in per_seed]
            out[f"{key}_mean"] = round(statistics.mean(values), 4)
            out[f"{key}_sd"] = round(statistics.stdev(values), 4)
        out |= {f"seed{i}_{k}": s[k] for i, s in enumerate(per_seed) for k in ("acc", "bal_acc", "auc")}
    acc = out.get("acc", out.get("acc_mean"))
    auc = out.get("auc", out.get("auc_mean"))
    out["meets_floor"] = bool(acc >= FLOOR["acc"] and auc >= FLOOR["auc"])
    out["meets_target"] = bool(acc >= TARGET["acc"] and auc >= TARGET["auc"])
    return out | PUBLISHED


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=1, help="number of seeds (0, 1, ...): mean and sd when > 1")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one, deleted)")
    parser.add_argument("--recipe", help="another recipe than the default (e.g. best), to compare")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice; 1 is faster "
                                                     "when other jobs share the cores)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if not args.data.is_file():
        print(f"PneumoniaMNIST not found at {args.data}", file=sys.stderr)
        return 2
    load_start = load_average()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-pneumonia-") as temp:
        work = args.work or Path(temp)
        info, import_s = import_project(args.data, work / "project")
        print(f"imported {info.get('images')} images in {import_s:.1f}s", file=sys.stderr)
        per_seed = []
        for seed in range(args.seeds):
            per_seed.append(one_seed(work / "project", work, seed, args.recipe))
            print(f"seed {seed}: {json.dumps({k: v for k, v in per_seed[-1].items() if not k.startswith('_')})}",
                  file=sys.stderr)
        out = summarise(per_seed, args.seeds)
    out |= {"import_s": round(import_s, 1), "total_wall_s": round(time.perf_counter() - started, 1),
            "load_avg_start": load_start, "load_avg_end": load_average(), "cpu_count": os.cpu_count(),
            "torch_threads": torch_threads()}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
