"""Training-engine speed (issue 3), all on PneumoniaMNIST images, each comparison within one run.

(a) The engine (``train()``) against a plain hand-written PyTorch loop: same
    ResNet-18, images, image size, batch size, optimiser, precision and
    memory format; training images/s of the epochs after the first (the
    first builds kernels). Engine and plain loop alternate in rounds; the
    ratio is the median over rounds of each round's engine/plain ratio, so
    slow changes in the load of a shared machine cancel. Target >= 0.95.
(b) Feature extraction: the engine with cached backbone features against a
    naive loop that runs the frozen backbone on every image every epoch,
    224 px ResNet-18; seconds per epoch after the first. Target >= 10x.
(c) bf16 autocast + channels-last against float32, 224 px ResNet-18
    training through the engine, ``--c-seeds`` seeds each: training
    images/s (best epoch after the first), and final validation AUC. The
    noise is the larger of the seed-to-seed spread within one precision
    and the half-width of the bootstrap 95% interval; the metrics agree
    "within noise" when the mean AUCs differ by less. Target >= 1.8x on this CPU.
    With ``--device cuda``: float32 against the engine's automatic mixed
    precision (bf16, or fp16 with a gradient scaler) + channels-last.

Usage: .venv/bin/python benchmarks/bench_engine.py [--device cpu|cuda] [--parts abc] [--data NPZ]
       [--a-images 768 --a-size 64 --a-batch 128 --a-epochs 3 --a-rounds 5]
       [--b-images 256 --b-size 224 --b-batch 64 --b-epochs 3]
       [--c-train 256 --c-val 128 --c-size 224 --c-batch 32 --c-epochs 3 --c-seeds 2]
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

#: sizes per device: (a) images, size, batch, epochs, rounds; (b) images, size, batch, epochs; (c) train, val, ...
DEFAULTS = {
    "cpu": {"a_images": 768, "a_size": 64, "a_batch": 128, "a_epochs": 3, "a_rounds": 5,
            "b_images": 256, "b_size": 224, "b_batch": 64, "b_epochs": 3,
            "c_train": 256, "c_val": 128, "c_size": 224, "c_batch": 32, "c_epochs": 3, "c_seeds": 2},
    "cuda": {"a_images": 3882, "a_size": 224, "a_batch": 256, "a_epochs": 3, "a_rounds": 3,
             "b_images": 3882, "b_size": 224, "b_batch": 256, "b_epochs": 3,
             "c_train": 3882, "c_val": 524, "c_size": 224, "c_batch": 256, "c_epochs": 4, "c_seeds": 2},
}


def subset(images, n: int, seed: int):
    """``n`` images drawn with the class proportions of ``images`` (seeded), in a fixed order."""
    rng = np.random.default_rng(seed)
    targets = images.targets()
    picked: list[int] = []
    for c in range(len(images.class_names)):
        members = np.flatnonzero(targets == c)
        take = max(1, round(n * len(members) / len(targets)))
        picked.extend(rng.choice(members, size=min(take, len(members)), replace=False).tolist())
    return images.subset(sorted(picked[:n]), f"{images.name}[{n}]")


def splits(data, n_train: int, n_val: int, seed: int = 0):
    from medtl_gui.core.data.labelled_images import DataSplits

    return DataSplits(train=subset(data.train, n_train, seed), val=subset(data.val, n_val, seed),
                      source=data.source)


def engine_run(config, data, work: Path, label: str):
    """Train through the engine; returns (result, per-epoch records, event timestamps)."""
    from medtl_gui.core.training import train
    from medtl_gui.core.training.events import Message, RunStarted

    marks: dict[str, float] = {}

    def on_event(event) -> None:
        if isinstance(event, Message) and event.text.startswith("computing backbone features"):
            marks.setdefault("features_start", time.perf_counter())  # the first split's pass starts it
        elif isinstance(event, RunStarted):
            marks["started"] = time.perf_counter()

    marks["called"] = time.perf_counter()
    result = train(config, data, on_event, run_dir=work / label)
    if result.status != "completed":
        raise RuntimeError(f"{label}: run {result.status}: {result.error}")
    lines = (work / label / "metrics.jsonl").read_text().splitlines()
    return result, [json.loads(line) for line in lines], marks


def prepared_tensors(images, image_size: int, in_channels: int = 1):
    """Normalised float32 images (n, C, S, S) and targets, exactly as the engine prepares them."""
    import torch

    from medtl_gui.core.data.preprocessing import Preprocessing
    from medtl_gui.core.models.builder import normalisation_for
    from medtl_gui.core.models.zoo import get_model_spec

    mean, std = normalisation_for(get_model_spec("resnet18"), in_channels)
    prep = Preprocessing(image_size, in_channels, mean, std)
    x = torch.stack([prep.normalise(prep.prepare(item.load())) for item in images])
    return x, torch.as_tensor(images.targets())


def synchronise(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ----------------------------------------------------------------------------------- (a)
def plain_loop(x, y, batch: int, epochs: int, lr: float, plan, seed: int) -> list[float]:
    """A hand-written training loop: images/s per epoch."""
    import torch
    import torch.nn.functional as F

    from medtl_gui.core.models.builder import build_model

    torch.manual_seed(seed)
    model = build_model("resnet18", in_channels=x.shape[1]).model.to(plan.device)
    if plan.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    counts = torch.bincount(y, minlength=2).double()
    weights = (counts.sum() / (2 * counts)).float().to(plan.device)
    scaler = torch.amp.GradScaler("cuda") if plan.needs_grad_scaler() else None
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch, shuffle=True,
                                         generator=torch.Generator().manual_seed(seed))
    rates = []
    model.train()
    for _ in range(epochs):
        synchronise(plan.device)
        started, seen, running = time.perf_counter(), 0, 0.0
        for inputs, targets in loader:
            inputs = inputs.to(plan.device, non_blocking=True)
            if plan.channels_last:
                inputs = inputs.contiguous(memory_format=torch.channels_last)
            targets = targets.to(plan.device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            with plan.autocast():
                logits = model(inputs)
            per_sample = F.binary_cross_entropy_with_logits(logits.float()[:, 0], targets.float(), reduction="none")
            w = weights[targets]
            loss = (per_sample * w).sum() / w.sum()
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            running += loss.item()  # the usual running-loss bookkeeping
            seen += len(targets)
        synchronise(plan.device)
        rates.append(seen / (time.perf_counter() - started))
    return rates


def part_a(data, args, work: Path, device: str) -> dict:
    from medtl_gui.core.training import TrainConfig
    from medtl_gui.core.training.device import plan_execution

    d = splits(data, args.a_images, 64)
    config = TrainConfig(model="resnet18", image_size=args.a_size, batch_size=args.a_batch, epochs=args.a_epochs,
                         lr=2e-3, schedule="onecycle", augmentation="none", device=device, validation_samples=0)
    plan = plan_execution(device, config.precision, config.channels_last)
    x, y = prepared_tensors(d.train, args.a_size)
    engine_rates: list[float] = []
    plain_rates: list[float] = []
    paired: list[float] = []
    for round_index in range(args.a_rounds):
        _, records, _ = engine_run(config, d, work, f"a-engine-{round_index}")
        engine_round = [r["train_images_per_s"] for r in records[1:]]
        plain_round = plain_loop(x, y, args.a_batch, args.a_epochs, 2e-3, plan, seed=round_index)[1:]
        engine_rates += engine_round
        plain_rates += plain_round
        paired.append(statistics.median(engine_round) / statistics.median(plain_round))
        print(f"(a) round {round_index}: engine {statistics.median(engine_round):.1f} img/s, "
              f"plain {statistics.median(plain_round):.1f} img/s", file=sys.stderr)
    return {"a_images": args.a_images, "a_image_size": args.a_size, "a_batch": args.a_batch,
            "a_precision": plan.precision, "a_channels_last": plan.channels_last, "a_rounds": args.a_rounds,
            "a_ratio": round(statistics.median(paired), 3),
            "a_ratio_min": round(min(paired), 3), "a_ratio_max": round(max(paired), 3),
            "a_engine_best_images_per_s": round(max(engine_rates), 1),
            "a_plain_best_images_per_s": round(max(plain_rates), 1),
            "a_ratio_of_best": round(max(engine_rates) / max(plain_rates), 3), "a_target": 0.95}


# ----------------------------------------------------------------------------------- (b)
def naive_frozen_loop(x, y, batch: int, epochs: int, plan, seed: int) -> list[float]:
    """Frozen backbone run on every image every epoch, only the head trains: seconds per epoch."""
    import torch
    import torch.nn.functional as F

    from medtl_gui.core.models.builder import build_model

    torch.manual_seed(seed)
    model = build_model("resnet18", in_channels=x.shape[1]).model.to(plan.device)
    if plan.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.backbone.eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(model.head.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch, shuffle=True,
                                         generator=torch.Generator().manual_seed(seed))
    seconds = []
    for _ in range(epochs):
        synchronise(plan.device)
        started = time.perf_counter()
        for inputs, targets in loader:
            inputs = inputs.to(plan.device)
            if plan.channels_last:
                inputs = inputs.contiguous(memory_format=torch.channels_last)
            with torch.no_grad(), plan.autocast():
                features = model.backbone(inputs)
            logits = model.head(features.float())
            loss = F.binary_cross_entropy_with_logits(logits[:, 0], targets.to(plan.device).float())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        synchronise(plan.device)
        seconds.append(time.perf_counter() - started)
    return seconds


def part_b(data, args, work: Path, device: str) -> dict:
    from medtl_gui.core.training import TrainConfig
    from medtl_gui.core.training.device import plan_execution

    d = splits(data, args.b_images, 64)
    config = TrainConfig(model="resnet18", strategy="feature_extraction", image_size=args.b_size,
                         batch_size=args.b_batch, epochs=args.b_epochs, lr=1e-3, augmentation="none",
                         device=device, validation_samples=0)
    plan = plan_execution(device, config.precision, config.channels_last)
    _, records, marks = engine_run(config, d, work, "b-cached")
    cached = min(r["seconds"] for r in records[1:])
    feature_pass = marks["started"] - marks.get("features_start", marks["called"])
    x, y = prepared_tensors(d.train, args.b_size)
    naive = naive_frozen_loop(x, y, args.b_batch, args.b_epochs, plan, seed=0)
    naive_epoch = min(naive[1:])
    print(f"(b) naive {naive_epoch:.2f} s/epoch, cached {cached:.4f} s/epoch (feature pass {feature_pass:.1f} s)",
          file=sys.stderr)
    return {"b_images": args.b_images, "b_image_size": args.b_size, "b_precision": plan.precision,
            "b_naive_epoch_s": round(naive_epoch, 3), "b_cached_epoch_s": round(cached, 4),
            "b_cached_feature_pass_s": round(feature_pass, 2), "b_speedup": round(naive_epoch / cached, 1),
            "b_target": 10}


# ----------------------------------------------------------------------------------- (c)
def part_c(data, args, work: Path, device: str) -> dict:
    from medtl_gui.core.evaluation.run_evaluation import evaluate_run
    from medtl_gui.core.training import TrainConfig

    d = splits(data, args.c_train, args.c_val)
    base = dict(model="resnet18", image_size=args.c_size, batch_size=args.c_batch, epochs=args.c_epochs, lr=2e-3,
                schedule="onecycle", augmentation="light", device=device, validation_samples=0)
    mixed = "auto" if device.startswith("cuda") else "bf16"
    out: dict = {"c_train": args.c_train, "c_val": args.c_val, "c_image_size": args.c_size,
                 "c_epochs": args.c_epochs, "c_seeds": args.c_seeds}
    aucs: dict[str, list[float]] = {"fp32": [], "mixed": []}
    half_widths: list[float] = []
    for seed in range(args.c_seeds):
        for label, precision, channels_last in (("fp32", "fp32", False), ("mixed", mixed, True)):
            config = TrainConfig(**base, precision=precision, channels_last=channels_last, seed=seed)
            run = f"c-{label}-{seed}"
            _, records, _ = engine_run(config, d, work, run)
            rate = max(r["train_images_per_s"] for r in records[1:])
            key = f"c_{label}_images_per_s"
            out[key] = round(max(rate, out.get(key, 0.0)), 2)
            out[f"c_{label}_precision"] = json.loads((work / run / "config.json").read_text())["execution"]["precision"]
            val = evaluate_run(work / run, d.val, device=device, seed=seed)
            aucs[label].append(val["auc"])
            half_widths.append((val["ci95"]["auc"][1] - val["ci95"]["auc"][0]) / 2)
            out[f"c_{label}_seed{seed}_val_auc"] = round(val["auc"], 4)
            out[f"c_{label}_seed{seed}_val_acc"] = round(val["accuracy"], 4)
            print(f"(c) {label} seed {seed}: {rate:.1f} img/s, val AUC {val['auc']:.4f}", file=sys.stderr)
    mean = {label: statistics.mean(values) for label, values in aucs.items()}
    spread = max((max(v) - min(v)) for v in aucs.values())
    noise = max(spread, statistics.mean(half_widths))
    out |= {"c_fp32_val_auc_mean": round(mean["fp32"], 4), "c_mixed_val_auc_mean": round(mean["mixed"], 4),
            "c_val_auc_difference": round(mean["mixed"] - mean["fp32"], 4),
            "c_val_auc_seed_spread": round(spread, 4), "c_val_auc_ci_half_width": round(statistics.mean(half_widths), 4),
            "c_within_noise": bool(abs(mean["mixed"] - mean["fp32"]) <= noise),
            "c_speedup": round(out["c_mixed_images_per_s"] / out["c_fp32_images_per_s"], 2), "c_target": 1.8}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--parts", default="abc", help="which comparisons to run, e.g. 'ac'")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    for key in DEFAULTS["cpu"]:
        parser.add_argument(f"--{key.replace('_', '-')}", dest=key, type=int)
    args = parser.parse_args()
    defaults = DEFAULTS["cuda" if args.device.startswith("cuda") else "cpu"]
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    import torch

    from medtl_gui.core.data.npz_source import load_npz_splits

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("--device cuda: no CUDA device here", file=sys.stderr)
        return 2
    data = load_npz_splits(args.data)
    out: dict = {"device": args.device, "device_name": torch.cuda.get_device_name(0) if args.device.startswith("cuda")
                 else "cpu", "torch_threads": torch.get_num_threads(), "load_avg_start": round(os.getloadavg()[0], 2)}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as temp:
        work = Path(temp)
        for part, function in (("a", part_a), ("b", part_b), ("c", part_c)):
            if part in args.parts:
                part_started = time.perf_counter()
                out |= function(data, args, work, args.device)
                out[f"{part}_wall_s"] = round(time.perf_counter() - part_started, 1)
    out |= {"total_wall_s": round(time.perf_counter() - started, 1), "load_avg_end": round(os.getloadavg()[0], 2)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
