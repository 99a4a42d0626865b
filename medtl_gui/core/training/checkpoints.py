"""Checkpoints as safetensors (tensors) plus JSON (everything else). No pickle anywhere.

For a tag (``best`` or ``last``) in ``<run>/checkpoints/``:

- ``<tag>.safetensors``: the model's state dict (float32);
- ``<tag>.optim.safetensors``: optimiser state tensors (``last`` only), keyed
  ``<param index>/<name>``;
- ``<tag>.json``: epoch, step, optimiser param groups and non-tensor
  state, scheduler state, early-stopping state, ``files`` (the tensor
  files of this checkpoint) and ``sha256`` (each tensor file's SHA-256).

Integrity: the SHA-256 of every tensor file is recorded in the record,
so it becomes valid at the commit point together with the files; every
read (:func:`load_model_state`, :func:`read_training_state`) checks it
first (:mod:`checkpoint_integrity`) and raises
:class:`~medtl_gui.core.training.checkpoint_integrity.CheckpointError`
naming a damaged or missing file, never falling back to another
checkpoint.

Crash safety: a checkpoint is several files, replaced together through a
small roll-forward journal. Every new file is first written as
``<name>.tmp`` and fsynced; then the JSON record is renamed into place as
``<tag>.json.pending`` (the commit point); then the ``.tmp`` files are
renamed over the old ones and finally ``<tag>.json.pending`` becomes
``<tag>.json``. A kill before the commit point leaves the previous
checkpoint untouched (the ``.tmp`` files are discarded); a kill after it
leaves a complete new checkpoint that :func:`recover_checkpoints` (run when
a run is resumed) finishes moving into place. Readers never mutate: with a
``.pending`` record they read the new files wherever they currently are,
so they see either the previous complete checkpoint or the new one.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save

from medtl_gui.core.project.atomic_files import fsync_directory
from medtl_gui.core.training.checkpoint_integrity import (
    HASHES_KEY,
    PENDING_SUFFIX,
    TEMP_SUFFIX,
    CheckpointError,
    current_paths,
    note_unhashed,
    sha256_bytes,
    tensor_file_names,
    verify_checkpoint,
)
#: test hook: ``<phase>:<tag>:<n>`` pauses the n-th save of ``tag`` in this process at ``phase``
#: ("written": temporary files fsynced, nothing committed; "committing": committed, half moved)
PAUSE_ENV = "MEDTL_TEST_CHECKPOINT_PAUSE"
_saves_per_tag: dict[str, int] = {}


def _write_tensors_temp(tensors: dict[str, torch.Tensor], path: Path) -> str:
    """Write ``<path>.tmp`` and fsync it (moved into place at commit); returns its SHA-256."""
    temp = path.with_name(path.name + TEMP_SUFFIX)
    data = save({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()})
    with open(temp, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    return sha256_bytes(data)


def _write_json_durably(path: Path, record: dict[str, Any]) -> None:
    """Write JSON to ``path`` through an fsynced temporary file and a rename."""
    temp = path.with_name(path.name + TEMP_SUFFIX)
    with open(temp, "w", encoding="utf-8") as stream:
        json.dump(record, stream, indent=2)
        stream.write("\n")
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temp, path)
    fsync_directory(path.parent)


def _test_pause(phase: str, tag: str) -> None:
    """The crash tests' hook: announce the phase on stdout and wait to be killed."""
    wanted = os.environ.get(PAUSE_ENV)
    if not wanted:
        return
    want_phase, want_tag, want_n = wanted.split(":")
    if (want_phase, want_tag) == (phase, tag) and _saves_per_tag.get(tag, 0) == int(want_n):
        print(f"checkpoint-pause {phase} {tag}", file=sys.stdout, flush=True)
        time.sleep(120)


def model_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict in float32, contiguous, on the CPU."""
    state = {}
    for key, value in model.state_dict().items():
        value = value.detach().to("cpu")
        state[key] = value.float().contiguous() if value.is_floating_point() else value.contiguous()
    return state


def _split_optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state_dict = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for index, values in state_dict["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}/{name}"] = value
            else:
                plain.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state_dict["param_groups"], "plain_state": plain}


def _join_optimizer_state(tensors: dict[str, torch.Tensor], record: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        index, name = key.split("/", 1)
        state.setdefault(int(index), {})[name] = value
    for index, values in record.get("plain_state", {}).items():
        state.setdefault(int(index), {}).update(values)
    groups = []
    for group in record["param_groups"]:
        group = dict(group)
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
        groups.append(group)
    return {"state": state, "param_groups": groups}


def save_checkpoint(
    folder: Path,
    tag: str,
    model: torch.nn.Module,
    state: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
) -> None:
    """Write model (and optionally optimiser/scheduler) state under ``tag``, replacing it as a whole."""
    folder.mkdir(parents=True, exist_ok=True)
    recover_checkpoint(folder, tag)  # finish (or discard) an earlier save that was interrupted
    _saves_per_tag[tag] = _saves_per_tag.get(tag, 0) + 1
    files = {f"{tag}.safetensors": model_state(model)}
    record = dict(state)
    if optimizer is not None:
        tensors, plain = _split_optimizer_state(optimizer)
        files[f"{tag}.optim.safetensors"] = tensors
        record["optimizer"] = plain
    if scheduler is not None:
        record["scheduler"] = scheduler.state_dict()
    record["files"] = sorted(files)
    record[HASHES_KEY] = {name: _write_tensors_temp(tensors, folder / name) for name, tensors in files.items()}
    _test_pause("written", tag)
    _write_json_durably(folder / f"{tag}.json{PENDING_SUFFIX}", record)  # the commit point
    _move_into_place(folder, tag, record)


def save_model_tensors(folder: Path, tag: str, state: dict[str, torch.Tensor], record: dict[str, Any]) -> None:
    """Write checkpoint ``tag`` from a model state dict and a JSON record, through the same journal.

    For code that rewrites stored weights (domain adaptation's ``target``
    and plain-BN checkpoints): an optimiser file ``<tag>.optim.safetensors``
    the record refers to is kept with its recorded hash; the model file's
    hash is recorded anew.
    """
    folder.mkdir(parents=True, exist_ok=True)
    recover_checkpoint(folder, tag)
    model_file, optim_file = tensor_file_names(tag)
    old_hashes = record.get(HASHES_KEY) if isinstance(record.get(HASHES_KEY), dict) else {}
    record = dict(record)
    files, hashes = [model_file], {}
    if "optimizer" in record and (folder / optim_file).is_file():
        files.append(optim_file)
        if old_hashes.get(optim_file):
            hashes[optim_file] = old_hashes[optim_file]
    hashes[model_file] = _write_tensors_temp(state, folder / model_file)
    record["files"], record[HASHES_KEY] = sorted(files), hashes
    _write_json_durably(folder / f"{tag}.json{PENDING_SUFFIX}", record)  # the commit point
    _move_into_place(folder, tag, record)


def _move_into_place(folder: Path, tag: str, record: dict[str, Any]) -> None:
    """Second half of a commit: rename the new files over the old ones, then the record."""
    for name in record["files"]:
        temp = folder / (name + TEMP_SUFFIX)
        if temp.exists():
            os.replace(temp, folder / name)
            _test_pause("committing", tag)
    for name in tensor_file_names(tag):
        if name not in record["files"]:
            (folder / name).unlink(missing_ok=True)  # e.g. optimiser state of an older 'last'
    fsync_directory(folder)
    os.replace(folder / f"{tag}.json{PENDING_SUFFIX}", folder / f"{tag}.json")
    fsync_directory(folder)


def recover_checkpoint(folder: Path, tag: str) -> str | None:
    """Finish a committed but half-moved save of ``tag``, or discard an uncommitted one.

    Only the process that owns the run may call this (a writer's temporary
    files look like an uncommitted save). Returns what was done, or None.
    """
    pending = folder / f"{tag}.json{PENDING_SUFFIX}"
    if pending.is_file():
        _move_into_place(folder, tag, json.loads(pending.read_text(encoding="utf-8")))
        return f"{tag}: finished the checkpoint save interrupted after its commit"
    leftovers = [folder / (name + TEMP_SUFFIX) for name in (*tensor_file_names(tag), f"{tag}.json")]
    leftovers += [folder / f"{tag}.json{PENDING_SUFFIX}{TEMP_SUFFIX}"]
    removed = [path for path in leftovers if path.exists()]
    for path in removed:
        path.unlink()
    return f"{tag}: discarded an interrupted checkpoint save (the previous one is kept)" if removed else None


def recover_checkpoints(folder: Path) -> list[str]:
    """Recover every checkpoint of a run folder after a crash; what was done, one line each.

    Besides :func:`recover_checkpoint` per tag: when ``last`` records itself
    as the best epoch but ``best`` is older (a kill between the two saves),
    ``best`` is rewritten from ``last``'s weights.
    """
    if not folder.is_dir():
        return []
    tags = {path.name.split(".", 1)[0] for path in folder.iterdir()
            if path.name.endswith((TEMP_SUFFIX, PENDING_SUFFIX))} | {"best", "last"}
    done = [message for tag in sorted(tags) if (message := recover_checkpoint(folder, tag))]
    if checkpoint_exists(folder, "last"):
        last = read_checkpoint_record(folder, "last")
        best_epoch = last.get("best_epoch")
        best = read_checkpoint_record(folder, "best") if checkpoint_exists(folder, "best") else {}
        if best_epoch is not None and best_epoch == last.get("epoch") and best.get("epoch") != best_epoch:
            state = {k: v for k, v in last.items() if k not in ("optimizer", "scheduler", "files")}
            model = _StateHolder(load_model_state(folder, "last"))
            save_checkpoint(folder, "best", model, state)
            done.append(f"best: rewritten from 'last' (epoch {best_epoch}); the run stopped between the two saves")
    return done


class _StateHolder(torch.nn.Module):
    """A module whose state dict is a given one (to save stored weights again)."""

    def __init__(self, state: dict[str, torch.Tensor]):
        super().__init__()
        self._state = state

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:  # type: ignore[override]
        return dict(self._state)




def checkpoint_exists(folder: Path, tag: str) -> bool:
    """Whether a complete checkpoint ``tag`` exists."""
    record, paths = current_paths(folder, tag)
    return record.is_file() and paths[f"{tag}.safetensors"].is_file()


def read_checkpoint_record(folder: Path, tag: str) -> dict[str, Any]:
    """The JSON part of a checkpoint."""
    path, _ = current_paths(folder, tag)
    if not path.is_file():
        raise FileNotFoundError(f"{folder / (tag + '.json')}: no '{tag}' checkpoint in this run")
    return json.loads(path.read_text(encoding="utf-8"))


def _load_tensors(path: Path, shown: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types for damaged files
        raise CheckpointError(shown, f"its tensors cannot be read ({exc})") from exc


def load_model_state(folder: Path, tag: str) -> dict[str, torch.Tensor]:
    """The model state dict of checkpoint ``tag``, after checking it (:class:`CheckpointError` if unusable)."""
    name = f"{tag}.safetensors"
    checked = verify_checkpoint(folder, tag, [name])
    note_unhashed(checked)
    return _load_tensors(checked.paths[name], folder / name)


@dataclass
class TrainingState:
    """Everything needed to continue a run, as read from checkpoint files (CPU tensors)."""

    record: dict[str, Any]
    model: dict[str, torch.Tensor]
    optimizer_tensors: dict[str, torch.Tensor] | None


def read_training_state(folder: Path, tag: str) -> TrainingState:
    """Read checkpoint ``tag`` (record, model and optimiser tensors) without applying it, after checking it all."""
    checked = verify_checkpoint(folder, tag)
    note_unhashed(checked)
    record = checked.record
    model_file, optim_file = tensor_file_names(tag)
    optimizer_tensors = None
    if "optimizer" in record:
        if optim_file not in checked.paths:
            raise CheckpointError(folder / f"{tag}.json", f"records optimiser state but no {optim_file}")
        optimizer_tensors = _load_tensors(checked.paths[optim_file], folder / optim_file)
    return TrainingState(record, _load_tensors(checked.paths[model_file], folder / model_file), optimizer_tensors)


def apply_training_state(state: TrainingState, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                         scheduler: Any) -> dict[str, Any]:
    """Load a :class:`TrainingState` into model, optimiser and scheduler; returns its record."""
    model.load_state_dict(state.model)
    if state.optimizer_tensors is not None:
        optimizer.load_state_dict(_join_optimizer_state(state.optimizer_tensors, state.record["optimizer"]))
    if "scheduler" in state.record and scheduler is not None:
        scheduler.load_state_dict(state.record["scheduler"])
    return state.record


def restore_training_state(
    folder: Path, tag: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any
) -> dict[str, Any]:
    """Recover the run's checkpoints after a crash, then load ``tag`` into model, optimiser and scheduler.

    Returns the checkpoint record. Called by the process resuming the run.
    """
    recover_checkpoints(folder)
    return apply_training_state(read_training_state(folder, tag), model, optimizer, scheduler)
