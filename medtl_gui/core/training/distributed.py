"""Several processes, one engine: :func:`~medtl_gui.core.training.engine.train` under torch.distributed DDP.

``medtl train DATA --nproc-per-node N`` (see :mod:`.distributed_launch`) starts N
copies of ``medtl train`` through torch's own elastic launcher (what
``torchrun`` runs); each copy finds the process group in its environment
(:func:`process_group`) and calls the same engine, which asks this module
at a few points what to do differently:

- **data**: :class:`DistributedImageBatches` gives each process its share of
  the training set (a ``DistributedSampler``, re-shuffled every epoch with
  ``set_epoch``; a :class:`DistributedWeightedSampler` for the balanced
  sampler) and a contiguous shard of the validation and test sets.
  ``batch_size`` stays *global*: each process takes ``batch_size / N``
  images per step, so a step sees as many images as a single process.
- **model**: :class:`DistributedStepRunner` runs the training forward pass
  through ``DistributedDataParallel`` (gradients averaged across processes);
  prediction runs on the plain model.
- **results**: predictions of the shards are gathered on every process
  (:func:`gather_predictions`), so metrics, best-epoch and early-stopping
  decisions are those of the whole validation set and the same everywhere.
- **files**: only rank 0 writes the run folder, checkpoints and console
  output; the other ranks get a :class:`RankRunRecord` whose writes do
  nothing, and read checkpoints through rank 0 (:func:`load_model_state`,
  :func:`restore_training_state`), so machines need no shared disk.

Each process seeds its augmentation and dropout with (run seed, epoch,
rank). Batch-norm statistics are computed per process (on ``batch_size / N``
images), as usual with DDP. The cached-feature fast path of
feature extraction runs in a single process. Segmentation runs share their
patches the same way (see ``SegmentationBatches``); their whole-image
validation runs unsharded in every process. A failure in one process ends
the job: the launcher stops the others and ``medtl train`` exits non-zero;
a collective that waits longer than ``MEDTL_DDP_TIMEOUT_S`` (default 600 s)
raises instead of hanging.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, Sampler, Subset

from medtl_gui.core.data.sampling import balanced_sample_weights
from medtl_gui.core.training import checkpoints
from medtl_gui.core.training.config import ConfigError
from medtl_gui.core.training.distributed_launch import launched_by_torchrun
from medtl_gui.core.training.epoch_loop import EpochOutcome, Predictions, StepRunner
from medtl_gui.core.training.run_data import ImageBatches
from medtl_gui.core.runs import RunRecord
from medtl_gui.core.training.seeding import derive_seed, seed_everything

#: seconds a collective may wait for the other processes before it fails
TIMEOUT_ENV = "MEDTL_DDP_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 600.0
#: test hook: ``<rank>:<step>`` makes that rank fail at that training step
FAIL_ENV = "MEDTL_TEST_FAIL_RANK"

T = TypeVar("T")


class DistributedError(RuntimeError):
    """Something went wrong on another process (the message says what and where)."""


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in the job."""

    rank: int
    world_size: int
    local_rank: int
    backend: str

    @property
    def is_main(self) -> bool:
        """True on rank 0 (the process that writes files and prints)."""
        return self.rank == 0


# ------------------------------------------------------------------ process group
def is_distributed() -> bool:
    """Whether a process group with more than one process is active."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of processes (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """True on rank 0 and when not distributed."""
    return rank() == 0


def timeout_s() -> float:
    """How long a collective waits (``MEDTL_DDP_TIMEOUT_S``, default 600 s)."""
    value = os.environ.get(TIMEOUT_ENV, "")
    try:
        return float(value) if value else DEFAULT_TIMEOUT_S
    except ValueError as exc:
        raise ConfigError(TIMEOUT_ENV, f"must be a number of seconds, got {value!r}") from exc


@contextmanager
def process_group(device: str = "auto") -> Iterator[DistributedContext | None]:
    """Join the job described by torchrun's environment variables for the ``with`` block.

    Yields None outside torchrun or with a single process. Backend: NCCL
    with one GPU per local rank when CUDA is used, else gloo (CPU).
    """
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) < 2:
        yield None
        return
    local_rank = int(os.environ["LOCAL_RANK"])
    device = (device or "auto").lower()
    if device.startswith("cuda:"):
        raise ConfigError("device", f"{device!r}: with several processes each uses its own GPU; use 'cuda' or 'auto'")
    if device == "mps":
        raise ConfigError("device", "'mps' is not supported with several processes; use 'cpu'")
    use_cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local_rank)
    backend = "nccl" if use_cuda else "gloo"
    dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s()))
    try:
        yield DistributedContext(dist.get_rank(), dist.get_world_size(), local_rank, backend)
    finally:
        dist.destroy_process_group()


def _from_main(read: Callable[[], T]) -> T:
    """Run ``read`` on rank 0 and hand its result (or its error) to every process."""
    if not is_distributed():
        return read()
    box: list[Any] = [None]
    error: Exception | None = None
    if is_main_process():
        try:
            box[0] = ("ok", read())
        except Exception as exc:  # noqa: BLE001 - re-raised below, on every rank
            error = exc
            box[0] = ("error", f"{type(exc).__name__}: {exc}")  # text: not every exception pickles
    dist.broadcast_object_list(box, src=0)
    status, value = box[0]
    if error is not None:
        raise error
    if status == "error":
        raise DistributedError(f"rank 0 failed: {value}")
    return value


# ------------------------------------------------------------------ run folder and checkpoints
class RankRunRecord(RunRecord):
    """The run folder as ranks other than 0 see it: same path, every write skipped (rank 0 writes)."""

    def write_config(self, record: dict[str, Any]) -> None:
        """Rank 0 writes config.json."""

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Rank 0 writes metrics.jsonl."""

    def truncate_metrics(self, epochs_kept: int) -> None:
        """Rank 0 writes metrics.jsonl."""

    def write_report(self, report: dict[str, Any]) -> None:
        """Rank 0 writes report.json."""

    def write_error(self, text: str) -> None:
        """A failure on this rank goes to stderr (the run folder is rank 0's)."""
        print(f"[rank {rank()}] {text}", file=sys.stderr, flush=True)


def main_process_folder(open_folder: Callable[[], RunRecord]) -> RunRecord:
    """The run folder: opened (and written) by rank 0; the others get a :class:`RankRunRecord` on its path."""
    if not is_distributed():
        return open_folder()
    opened: dict[str, RunRecord] = {}

    def open_on_main() -> str:
        opened["folder"] = open_folder()
        return str(opened["folder"].path)

    path = _from_main(open_on_main)
    return opened["folder"] if is_main_process() else RankRunRecord(path)


def save_checkpoint(folder: Path, tag: str, model: torch.nn.Module, state: dict[str, Any],
                    optimizer: torch.optim.Optimizer | None = None, scheduler: Any = None) -> None:
    """:func:`checkpoints.save_checkpoint` on rank 0 only."""
    if is_main_process():
        checkpoints.save_checkpoint(folder, tag, model, state, optimizer, scheduler)


def checkpoint_exists(folder: Path, tag: str) -> bool:
    """:func:`checkpoints.checkpoint_exists` as rank 0 sees it."""
    return _from_main(lambda: checkpoints.checkpoint_exists(folder, tag))


def load_model_state(folder: Path, tag: str) -> dict[str, torch.Tensor]:
    """:func:`checkpoints.load_model_state`, read by rank 0 and sent to every process."""
    return _from_main(lambda: checkpoints.load_model_state(folder, tag))


def restore_training_state(folder: Path, tag: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                           scheduler: Any) -> dict[str, Any]:
    """:func:`checkpoints.restore_training_state`: rank 0 recovers and reads, every process applies."""
    if not is_distributed():
        return checkpoints.restore_training_state(folder, tag, model, optimizer, scheduler)

    def read() -> checkpoints.TrainingState:
        checkpoints.recover_checkpoints(folder)
        return checkpoints.read_training_state(folder, tag)

    return checkpoints.apply_training_state(_from_main(read), model, optimizer, scheduler)


# ------------------------------------------------------------------ data
class DistributedWeightedSampler(Sampler[int]):
    """Balanced sampling over several processes.

    Every process draws the same weighted sample (with replacement, seeded
    by ``seed``) of ``ceil(n / replicas) * replicas`` indices and keeps every
    ``replicas``-th one from position ``rank``: together the processes see
    exactly one weighted draw per epoch.
    """

    def __init__(self, weights: torch.Tensor, replicas: int, rank_: int, seed: int):
        self.weights = torch.as_tensor(weights, dtype=torch.double)
        self.replicas, self.rank, self.seed = replicas, rank_, seed
        self.per_replica = math.ceil(len(self.weights) / replicas)

    def __len__(self) -> int:
        return self.per_replica

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed)
        drawn = torch.multinomial(self.weights, self.per_replica * self.replicas, replacement=True,
                                  generator=generator)
        return iter(drawn[self.rank::self.replicas].tolist())


class DistributedImageBatches(ImageBatches):
    """:class:`ImageBatches` for one process of N: a share of each training epoch, a shard of val/test."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.replicas, self.rank = world_size(), rank()
        if self.batch_size % self.replicas:
            raise ConfigError("batch_size", f"{self.batch_size} images per step cannot be shared evenly by "
                                            f"{self.replicas} processes; choose a multiple of {self.replicas}")
        self.local_batch_size = self.batch_size // self.replicas

    def _local_train_size(self) -> int:
        return math.ceil(len(self.datasets["train"]) / self.replicas)

    def _drop_last(self) -> bool:
        n, b = self._local_train_size(), self.local_batch_size
        return n > b and n % b == 1  # a 1-image batch breaks batch norm

    def batches_per_epoch(self) -> int:
        """Training steps per epoch (the same on every process)."""
        n, b = self._local_train_size(), self.local_batch_size
        return n // b if self._drop_last() else -(-n // b)

    def train_loader(self, epoch: int) -> DataLoader:
        """This process's share of epoch ``epoch`` (seeds augmentation and dropout per rank)."""
        seed_everything(derive_seed(self.seed, "epoch", epoch, "rank", self.rank))
        dataset = self.datasets["train"]
        images = self.splits["train"]
        sampler: Sampler[int]
        if self.balanced:
            weights = torch.as_tensor(balanced_sample_weights(images.targets(), len(images.class_names)))
            sampler = DistributedWeightedSampler(weights, self.replicas, self.rank,
                                                 derive_seed(self.seed, "order", epoch))
        else:
            sampler = DistributedSampler(dataset, self.replicas, self.rank, shuffle=True,
                                         seed=derive_seed(self.seed, "order"), drop_last=False)
            sampler.set_epoch(epoch)
        generator = torch.Generator().manual_seed(derive_seed(self.seed, "workers", epoch, self.rank))
        return DataLoader(dataset, batch_size=self.local_batch_size, sampler=sampler,
                          num_workers=self.num_workers, generator=generator, drop_last=self._drop_last())

    def eval_loader(self, split: str) -> DataLoader | None:
        """This process's contiguous shard of ``split`` (see :func:`gather_predictions`)."""
        dataset = self.datasets.get(split)
        if dataset is None:
            return None
        n = len(dataset)
        shard = Subset(dataset, range(n * self.rank // self.replicas, n * (self.rank + 1) // self.replicas))
        return DataLoader(shard, batch_size=max(self.batch_size, 64), shuffle=False, num_workers=self.num_workers)


def image_batches(*args: Any, **kwargs: Any) -> ImageBatches:
    """:class:`ImageBatches`, or :class:`DistributedImageBatches` in a distributed job (same arguments)."""
    return DistributedImageBatches(*args, **kwargs) if is_distributed() else ImageBatches(*args, **kwargs)


def gather_predictions(predictions: Predictions | None) -> Predictions | None:
    """Join the shards' predictions in rank order (= split order), on every process."""
    if predictions is None or not is_distributed():
        return predictions
    shards: list[Any] = [None] * world_size()
    dist.all_gather_object(shards, (predictions.probabilities, predictions.targets, predictions.loss,
                                    len(predictions.targets)))
    present = [s for s in shards if s[3] > 0]
    if not present:
        return predictions
    counts = [s[3] for s in present]
    return Predictions(np.concatenate([s[0] for s in present]), np.concatenate([s[1] for s in present]),
                       float(np.average([s[2] for s in present], weights=counts)))


def combine_outcome(outcome: EpochOutcome) -> EpochOutcome:
    """The epoch as a whole: mean loss over processes, images summed, the slowest process's time."""
    if not is_distributed():
        return outcome
    parts: list[Any] = [None] * world_size()
    dist.all_gather_object(parts, (outcome.mean_loss, outcome.images, outcome.seconds))
    return EpochOutcome(float(np.mean([p[0] for p in parts])), outcome.batches, int(sum(p[1] for p in parts)),
                        float(max(p[2] for p in parts)), outcome.cancelled, outcome.step)


# ------------------------------------------------------------------ model
class _TrainingForward(torch.nn.Module):
    """The training forward pass of a TransferModel as one module (what DDP wraps)."""

    def __init__(self, runner: StepRunner):
        super().__init__()
        self.model = runner.model
        self._runner = runner

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return StepRunner.forward(self._runner, inputs)


@dataclass
class DistributedStepRunner(StepRunner):
    """A :class:`StepRunner` whose training forward pass goes through ``DistributedDataParallel``."""

    ddp_module: Any = None
    ddp_trainable: tuple[int, ...] = ()
    fail_at_step: int | None = None
    steps_taken: int = 0

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Through DDP when training (gradients are synchronised), else the plain model."""
        if self.ddp_module is not None and torch.is_grad_enabled() and self.model.training:
            self.steps_taken += 1
            if self.fail_at_step is not None and self.steps_taken == self.fail_at_step:
                raise RuntimeError(f"{FAIL_ENV}: rank {rank()} fails at step {self.steps_taken} (test hook)")
            return self.ddp_module(inputs)
        return super().forward(inputs)

    def prepare_epoch(self) -> None:
        """(Re)wrap the model when the set of trainable parameters changed (gradual unfreezing)."""
        trainable = tuple(i for i, p in enumerate(self.model.parameters()) if p.requires_grad)
        if self.ddp_module is not None and trainable == self.ddp_trainable:
            return
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [torch.cuda.current_device()] if self.plan.device.type == "cuda" else None
        # buffers (batch-norm running statistics) follow rank 0's at every forward pass (DDP's default)
        self.ddp_module = DistributedDataParallel(_TrainingForward(self), device_ids=device_ids)
        self.ddp_trainable = trainable


def step_runner(runner: StepRunner) -> StepRunner:
    """``runner`` itself, or a :class:`DistributedStepRunner` with the same settings in a distributed job."""
    if not is_distributed():
        return runner
    if getattr(runner, "domain_objective", None) is not None:
        raise ConfigError("domain_adaptation", "runs in a single process; train without --nproc-per-node/torchrun")
    values = {f.name: getattr(runner, f.name) for f in fields(StepRunner)}
    fail_at = None
    hook = os.environ.get(FAIL_ENV, "")
    if hook:
        hook_rank, hook_step = (int(x) for x in hook.split(":"))
        fail_at = hook_step if hook_rank == rank() else None
    return DistributedStepRunner(**values, fail_at_step=fail_at)


def prepare_epoch(runner: StepRunner) -> None:
    """Before each epoch (after the strategy chose the trainable stages): wrap for DDP if distributed."""
    if isinstance(runner, DistributedStepRunner):
        runner.prepare_epoch()

