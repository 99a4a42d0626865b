"""In-domain self-supervised pretraining against training from scratch with 100 labels (issue 3).

1. SimCLR pretraining (``pretrain_ssl``) of ResNet-18 on every PneumoniaMNIST
   training image (3,882), labels never read; the backbone goes into a
   temporary weight store.
2. For each seed: 100 labelled training images (50 per class, drawn with the
   seed), a 100-image validation subset of the official validation split
   for checkpoint selection, and the full official test split (624). The
   default recipe trains twice on exactly these images, once from random
   weights and once from the SimCLR backbone; nothing else differs.
3. Test AUC (and accuracy, balanced accuracy) per seed, the mean of the seeds
   for each, and whether pretraining wins on mean test AUC.

Usage: .venv/bin/python benchmarks/bench_transfer.py [--seeds 3] [--ssl-epochs 20] [--ft-epochs 40]
       [--labelled 100] [--image-size 64] [--device cpu|cuda] [--data NPZ]
The last line printed is one JSON object with flat keys.
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
WEIGHTS_NAME = "pneumonia-simclr"


def balanced_subset(images, n: int, seed: int, name: str):
    """``n`` images, as equal per class as possible, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    targets = images.targets()
    per_class = n // len(images.class_names)
    picked: list[int] = []
    for c in range(len(images.class_names)):
        members = np.flatnonzero(targets == c)
        picked.extend(rng.choice(members, size=min(per_class, len(members)), replace=False).tolist())
    return images.subset(sorted(picked), name)


def stratified_subset(images, n: int, seed: int, name: str):
    """``n`` images with the class proportions of ``images``, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))[:n]
    return images.subset(sorted(order.tolist()), name)


def pretrain(data, args, store, work: Path) -> dict:
    from medtl_gui.core.pretraining import PretrainConfig
    from medtl_gui.core.pretraining.image_sources import split_images
    from medtl_gui.core.pretraining.ssl_training import pretrain_ssl

    images = split_images({"train": data.train}, include_test=False, name="pneumoniamnist.npz:train (no labels)")
    config = PretrainConfig(name=WEIGHTS_NAME, model=args.model, image_size=args.image_size, epochs=args.ssl_epochs,
                            batch_size=args.ssl_batch, lr=args.ssl_lr, temperature=args.temperature,
                            device=args.device, seed=0)
    started = time.perf_counter()
    result = pretrain_ssl(config, images, source_name="PneumoniaMNIST train split (labels unused)",
                          run_dir=work / "ssl", weight_store=store)
    if result.status != "completed":
        raise RuntimeError(f"SSL pretraining {result.status}: {result.error}")
    metrics = [json.loads(line) for line in (work / "ssl" / "metrics.jsonl").read_text().splitlines()]
    return {"ssl_images": len(images), "ssl_epochs": args.ssl_epochs, "ssl_batch": args.ssl_batch,
            "ssl_wall_s": round(time.perf_counter() - started, 1),
            "ssl_first_loss": round(metrics[0]["train_loss"], 4), "ssl_final_loss": round(metrics[-1]["train_loss"], 4),
            "ssl_final_contrastive_accuracy": round(metrics[-1]["contrastive_accuracy"], 4),
            "ssl_images_per_s": round(statistics.median(m["train_images_per_s"] for m in metrics), 1)}


def fine_tune(data, args, store, work: Path, seed: int, pretrained: str | None) -> dict:
    from medtl_gui.core.data.labelled_images import DataSplits
    from medtl_gui.core.training import train
    from medtl_gui.core.training.recipes import DEFAULT_RECIPE, recipe_config

    labelled = DataSplits(
        train=balanced_subset(data.train, args.labelled, seed, f"train[{args.labelled} labelled, seed {seed}]"),
        val=stratified_subset(data.val, args.val, seed, f"val[{args.val}, seed {seed}]"),
        test=data.test, source=data.source)
    config = recipe_config(DEFAULT_RECIPE, n_train=len(labelled.train), model=args.model, pretrained=pretrained,
                           image_size=args.image_size, epochs=args.ft_epochs, seed=seed, device=args.device,
                           validation_samples=0)
    label = f"{'ssl' if pretrained else 'scratch'}-seed{seed}"
    result = train(config, labelled, run_dir=work / label, weight_store=store)
    if result.status != "completed":
        raise RuntimeError(f"{label}: {result.status}: {result.error}")
    test = result.report["test"]
    figures = {"auc": test["auc"], "acc": test["accuracy"], "bal_acc": test["balanced_accuracy"]}
    print(f"{label}: {json.dumps({k: round(v, 4) for k, v in figures.items()})}", file=sys.stderr)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--labelled", type=int, default=100)
    parser.add_argument("--val", type=int, default=100, help="validation images for checkpoint selection")
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--ssl-epochs", type=int, default=20)
    parser.add_argument("--ssl-batch", type=int, default=128)
    parser.add_argument("--ssl-lr", type=float, default=1e-3)
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--ft-epochs", type=int, default=40)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--work", type=Path, help="working folder (default: temporary)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice; 1 is faster "
                                                     "when other jobs share the cores)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from medtl_gui.core.data.npz_source import load_npz_splits
    from medtl_gui.core.models.weights import WeightStore

    load_start = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    data = load_npz_splits(args.data)
    with tempfile.TemporaryDirectory(prefix="bench-transfer-") as temp:
        work = args.work or Path(temp)
        store = WeightStore(work / "weights", hub_dirs=[])
        out: dict = {"model": args.model, "image_size": args.image_size, "labelled": args.labelled,
                     "val_images": args.val, "test_images": len(data.test), "ft_epochs": args.ft_epochs,
                     "seeds": args.seeds, "device": args.device}
        out |= pretrain(data, args, store, work)
        print(f"pretrained: {json.dumps(out)}", file=sys.stderr)
        results: dict[str, list[dict]] = {"scratch": [], "ssl": []}
        for seed in range(args.seeds):
            results["scratch"].append(fine_tune(data, args, store, work, seed, None))
            results["ssl"].append(fine_tune(data, args, store, work, seed, WEIGHTS_NAME))
    for arm, runs in results.items():
        for key in ("auc", "acc", "bal_acc"):
            values = [r[key] for r in runs]
            out[f"{arm}_test_{key}_mean"] = round(statistics.mean(values), 4)
            out[f"{arm}_test_{key}_sd"] = round(statistics.stdev(values), 4) if len(values) > 1 else 0.0
            for seed, value in enumerate(values):
                out[f"{arm}_seed{seed}_test_{key}"] = round(value, 4)
    out["ssl_minus_scratch_auc"] = round(out["ssl_test_auc_mean"] - out["scratch_test_auc_mean"], 4)
    out["ssl_beats_scratch"] = bool(out["ssl_minus_scratch_auc"] > 0)
    out["ssl_wins_seeds"] = sum(s["auc"] > c["auc"] for s, c in zip(results["ssl"], results["scratch"]))
    import torch

    out |= {"total_wall_s": round(time.perf_counter() - started, 1), "load_avg_start": load_start,
            "torch_threads": torch.get_num_threads(),
            "load_avg_end": round(os.getloadavg()[0], 2)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
