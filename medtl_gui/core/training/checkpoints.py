"""Checkpoints as safetensors (tensors) plus JSON (everything else). No pickle anywhere.

For a tag (``best`` or ``last``) in ``<run>/checkpoints/``:

- ``<tag>.safetensors``: the model's state dict (float32);
- ``<tag>.optim.safetensors``: optimiser state tensors (``last`` only), keyed
  ``<param index>/<name>``;
- ``<tag>.json``: epoch, step, optimiser param groups and non-tensor
  state, scheduler state, early-stopping state; written last, so a
  checkpoint without its JSON is incomplete and ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from medtl_gui.core.models.weights.manifest import write_json_atomic


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    temp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, str(temp))
    os.replace(temp, path)


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
    """Write model (and optionally optimiser/scheduler) state under ``tag``."""
    folder.mkdir(parents=True, exist_ok=True)
    _save_tensors(model_state(model), folder / f"{tag}.safetensors")
    record = dict(state)
    if optimizer is not None:
        tensors, plain = _split_optimizer_state(optimizer)
        _save_tensors(tensors, folder / f"{tag}.optim.safetensors")
        record["optimizer"] = plain
    if scheduler is not None:
        record["scheduler"] = scheduler.state_dict()
    write_json_atomic(folder / f"{tag}.json", record)


def checkpoint_exists(folder: Path, tag: str) -> bool:
    """Whether a complete checkpoint ``tag`` exists."""
    return (folder / f"{tag}.json").is_file() and (folder / f"{tag}.safetensors").is_file()


def read_checkpoint_record(folder: Path, tag: str) -> dict[str, Any]:
    """The JSON part of a checkpoint."""
    path = folder / f"{tag}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no '{tag}' checkpoint in this run")
    return json.loads(path.read_text(encoding="utf-8"))


def load_model_state(folder: Path, tag: str) -> dict[str, torch.Tensor]:
    """The model state dict of checkpoint ``tag``."""
    path = folder / f"{tag}.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no '{tag}' checkpoint in this run")
    return load_file(str(path), device="cpu")


def restore_training_state(
    folder: Path, tag: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any
) -> dict[str, Any]:
    """Load model, optimiser and scheduler state from ``tag``; returns the checkpoint record."""
    record = read_checkpoint_record(folder, tag)
    model.load_state_dict(load_model_state(folder, tag))
    if "optimizer" in record:
        tensors = load_file(str(folder / f"{tag}.optim.safetensors"), device="cpu")
        optimizer.load_state_dict(_join_optimizer_state(tensors, record["optimizer"]))
    if "scheduler" in record and scheduler is not None:
        scheduler.load_state_dict(record["scheduler"])
    return record
