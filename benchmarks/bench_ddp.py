"""Multi-process training (issue 10, part 6): training images/s of ``medtl train`` with 1 and N processes.

Every configuration is a real ``medtl train`` command line on a synthetic
MedMNIST-style ``.npz`` (phantoms), so process start-up, the launcher and
the engine are all included; the figure is the engine's own
``train_images_per_s`` (images of all processes / seconds of the slowest
process), best epoch after the first (the first builds kernels), plus the
command's wall time. The configurations alternate over ``--rounds`` rounds
and the median per configuration is reported, so changes in the load of a
shared machine hit every configuration alike.

- ``--device cpu`` (default): 1 process against ``--nproc`` processes on
  gloo, each process with ``--threads`` OpenMP threads (so 1 x T against
  N x T cores), and 1 process with N x T threads (the same cores in one
  process). The global batch is the same in every configuration.
- ``--device cuda``: 1 GPU process in float32 against automatic mixed
  precision (bf16, or fp16 with a gradient scaler), and with more than one
  GPU, ``--nproc`` GPU processes (NCCL) in mixed precision.

Usage: .venv/bin/python benchmarks/bench_ddp.py [--device cpu|cuda] [--nproc 2] [--threads 1]
       [--images 512] [--size 32] [--model baseline_cnn] [--batch 64] [--epochs 3] [--rounds 2]
The last line printed is one JSON object with flat keys.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


def run_train(npz: Path, run_dir: Path, args: argparse.Namespace, nproc: int, threads: int,
              device: str, precision: str) -> dict[str, float]:
    """One ``medtl train`` command; its best images/s after the first epoch and its wall time."""
    command = [sys.executable, "-m", "medtl_gui.cli", "train", str(npz), "--model", args.model,
               "--epochs", str(args.epochs), "--batch-size", str(args.batch), "--image-size", str(args.size),
               "--augmentation", "none", "--imbalance", "none", "--strategy", "full", "--device", device,
               "--precision", precision, "--run-dir", str(run_dir), "--quiet"]
    if nproc > 1:
        command += ["--nproc-per-node", str(nproc)]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS=str(threads), KMP_BLOCKTIME="1",
               GOMP_SPINCOUNT="1000")
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO_ROOT)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    epochs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rates = [e["train_images_per_s"] for e in epochs[1:] or epochs if e.get("train_images_per_s")]
    return {"images_per_s": round(max(rates), 1), "wall_s": round(wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="CPU: OpenMP threads per process")
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--model", default="baseline_cnn")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="alternating repetitions (median reported)")
    args = parser.parse_args()

    from medtl_gui.core.data.synthetic import write_synthetic_npz

    results: dict[str, float | int | str] = {
        "device": args.device, "model": args.model, "images": args.images, "size": args.size,
        "batch": args.batch, "epochs": args.epochs, "rounds": args.rounds, "nproc": args.nproc,
        "threads_per_process": args.threads,
        "cpu_count": os.cpu_count() or 0, "machine": platform.machine()}
    with tempfile.TemporaryDirectory(prefix="bench-ddp-") as folder:
        root = Path(folder)
        npz = write_synthetic_npz(root / "set.npz", n_train=args.images, n_val=64, n_test=32, size=args.size)
        if args.device == "cpu":
            configs = {"cpu_1proc": (1, args.threads, "fp32"),
                       f"cpu_{args.nproc}proc": (args.nproc, args.threads, "fp32"),
                       f"cpu_1proc_{args.nproc * args.threads}threads": (1, args.nproc * args.threads, "fp32")}
            device = "cpu"
        else:
            import torch

            configs = {"cuda_1proc_fp32": (1, args.threads, "fp32"), "cuda_1proc_amp": (1, args.threads, "auto")}
            if torch.cuda.device_count() >= args.nproc > 1:
                configs[f"cuda_{args.nproc}proc_amp"] = (args.nproc, args.threads, "auto")
            device = "cuda"
        measured: dict[str, list[dict[str, float]]] = {name: [] for name in configs}
        for round_index in range(args.rounds):
            for name, (nproc, threads, precision) in configs.items():
                figures = run_train(npz, root / f"{name}-{round_index}", args, nproc, threads, device, precision)
                print(f"round {round_index} {name:24s} {figures['images_per_s']:9.1f} images/s   "
                      f"wall {figures['wall_s']:6.1f} s", file=sys.stderr)
                measured[name].append(figures)
        for name, runs in measured.items():
            results[f"{name}_images_per_s"] = round(statistics.median(r["images_per_s"] for r in runs), 1)
            results[f"{name}_wall_s"] = round(statistics.median(r["wall_s"] for r in runs), 1)
    if args.device == "cpu":
        base = float(results["cpu_1proc_images_per_s"])
        parallel = float(results[f"cpu_{args.nproc}proc_images_per_s"])
        results[f"speedup_{args.nproc}proc_vs_1proc"] = round(parallel / base, 2)
    else:
        base = float(results["cuda_1proc_fp32_images_per_s"])
        results["speedup_amp_vs_fp32"] = round(float(results["cuda_1proc_amp_images_per_s"]) / base, 2)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
