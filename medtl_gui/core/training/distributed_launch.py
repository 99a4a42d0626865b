"""Starting ``medtl train`` as a distributed job: ``--nproc-per-node N`` and the multi-machine options.

The job is started by torch's own launcher (``torch.distributed.run``, the
code behind ``torchrun``): this module only turns the command-line options
into torchrun options and re-creates the ``medtl train`` arguments each
process runs. What the processes do is described in :mod:`.distributed`.
Importing this module does not import torch.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any

#: help of --nproc-per-node (also the user-facing summary of batch semantics)
NPROC_HELP = ("train with N processes on this machine under torch DistributedDataParallel (one GPU each with "
              "CUDA and NCCL, else CPU processes on gloo). --batch-size stays GLOBAL: each step uses "
              "batch-size images in total, batch-size/N per process, as in a single process (so it must be a "
              "multiple of N). Only rank 0 writes the run folder and prints. The cached-feature fast path of "
              "feature_extraction runs in a single process. Several machines: the same command on each with "
              "--nnodes/--node-rank/--master-addr/--master-port, or torchrun --nproc-per-node N "
              "-m medtl_gui.cli train ...")


@dataclass(frozen=True)
class LaunchPlan:
    """Where the processes of a job run: ``nproc_per_node`` on each of ``nnodes`` machines."""

    nproc_per_node: int
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str | None = None
    master_port: int | None = None

    @property
    def world_size(self) -> int:
        """Processes in the whole job."""
        return self.nproc_per_node * self.nnodes

    def check(self) -> None:
        """Raise ValueError with the reason when the layout is impossible."""
        if self.nproc_per_node < 1:
            raise ValueError(f"--nproc-per-node must be >= 1, got {self.nproc_per_node}")
        if self.nnodes < 1 or not 0 <= self.node_rank < self.nnodes:
            raise ValueError(f"--node-rank must be in 0..{self.nnodes - 1} with --nnodes {self.nnodes}")
        if self.nnodes > 1 and not self.master_addr:
            raise ValueError("--nnodes > 1 needs --master-addr (the address of the node with --node-rank 0)")

    def torchrun_arguments(self) -> list[str]:
        """The same job as ``torchrun`` options."""
        options = ["--nproc-per-node", str(self.nproc_per_node), "--max-restarts", "0"]
        if self.nnodes == 1 and self.master_addr is None:
            return [*options, "--standalone"]
        options += ["--nnodes", str(self.nnodes), "--node-rank", str(self.node_rank),
                    "--master-addr", self.master_addr or "127.0.0.1"]
        return [*options, "--master-port", str(self.master_port or 29500)]


def launched_by_torchrun() -> bool:
    """Whether this process was started by torch's launcher (torchrun / ``--nproc-per-node``)."""
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR"))


def add_launch_options(parser: argparse.ArgumentParser) -> None:
    """Add --nproc-per-node, --nnodes, --node-rank, --master-addr and --master-port to ``parser``."""
    parser.add_argument("--nproc-per-node", type=int, metavar="N", help=NPROC_HELP)
    parser.add_argument("--nnodes", type=int, default=1, help="machines in the job (with --nproc-per-node)")
    parser.add_argument("--node-rank", type=int, default=0, help="this machine's index, 0..nnodes-1")
    parser.add_argument("--master-addr", help="address of the machine with --node-rank 0 (several machines)")
    parser.add_argument("--master-port", type=int, help="free TCP port on that machine (default 29500)")


def launch_plan(args: argparse.Namespace) -> LaunchPlan | None:
    """The job asked for on the command line, or None for a single process."""
    if args.nproc_per_node is None:
        return None
    plan = LaunchPlan(args.nproc_per_node, args.nnodes, args.node_rank, args.master_addr, args.master_port)
    plan.check()
    return None if plan.world_size == 1 else plan


def train_arguments(args: argparse.Namespace, options: dict[str, tuple[str, type, str]]) -> list[str]:
    """The ``medtl train`` arguments of ``args`` without the launch options (what every process runs).

    ``options``: option -> (namespace field, type, help), as ``TRAIN_OPTIONS``.
    """
    argv = ["train", str(args.data)]
    for option, field in (("--config", "config"), ("--recipe", "recipe"), ("--run-dir", "run_dir"),
                          ("--resume", "resume"), ("--weights-dir", "weights_dir"), ("--target-data", "target_data")):
        if getattr(args, field, None) is not None:
            argv += [option, str(getattr(args, field))]
    for option, (field, _, _) in options.items():
        value: Any = getattr(args, field, None)
        if value is not None:
            argv += [option, str(value)]
    return argv + [flag for flag, on in (("--json", args.json), ("--quiet", args.quiet)) if on]


def launch(plan: LaunchPlan, module_arguments: list[str], module: str = "medtl_gui.cli") -> int:
    """Run ``python -m module *module_arguments`` as a distributed job through torch's launcher.

    Returns 0 when every process succeeded, else the exit code of the first
    process that failed (1 when it was killed by a signal); the reason is
    printed on stderr in one line (each process printed its own details).
    """
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    plan.check()
    threads = max(1, (os.cpu_count() or 1) // plan.nproc_per_node)
    saved_threads = os.environ.get("OMP_NUM_THREADS")
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))  # as torchrun does: no oversubscribed cores
    args = torchrun.parse_args([*plan.torchrun_arguments(), "-m", module, *module_arguments])
    try:
        torchrun.run(args)
    except ChildFailedError as exc:
        failed_rank, failure = exc.get_first_failure()
        how = f"exit code {failure.exitcode}" if failure.exitcode >= 0 else f"signal {-failure.exitcode}"
        print(f"distributed training failed: rank {failed_rank} stopped with {how} (its messages are above); "
              f"the other processes were stopped", file=sys.stderr, flush=True)
        return failure.exitcode if failure.exitcode > 0 else 1
    finally:
        if saved_threads is None:
            os.environ.pop("OMP_NUM_THREADS", None)
    return 0
