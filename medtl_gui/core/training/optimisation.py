"""Optimisers and learning-rate schedules (per-step, with warm-up)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

ONECYCLE_START_DIVISOR = 25.0
ONECYCLE_FINAL_DIVISOR = 1e4


def build_optimizer(name: str, groups: list[dict], lr: float, weight_decay: float, momentum: float) -> torch.optim.Optimizer:
    """AdamW or SGD (Nesterov momentum) over parameter groups that carry their own lr/weight decay."""
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=momentum > 0, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; expected adamw or sgd")


def lr_factor(schedule: str, total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """Multiplier of each group's base lr at a step (for ``LambdaLR``)."""
    total_steps = max(1, total_steps)
    warmup_steps = min(max(0, warmup_steps), total_steps)

    def cosine(progress: float, floor: float = 0.0) -> float:
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    def factor(step: int) -> float:
        if schedule == "onecycle":
            warm = max(1, warmup_steps or int(0.3 * total_steps))
            start = 1.0 / ONECYCLE_START_DIVISOR
            if step < warm:
                return start + (1.0 - start) * step / warm
            return cosine((step - warm) / max(1, total_steps - warm), 1.0 / ONECYCLE_FINAL_DIVISOR)
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "constant":
            return 1.0
        if schedule == "cosine":
            return cosine((step - warmup_steps) / max(1, total_steps - warmup_steps))
        raise ValueError(f"unknown schedule {schedule!r}")

    return factor


def build_scheduler(optimizer: torch.optim.Optimizer, schedule: str, total_steps: int, warmup_steps: int):
    """A per-step ``LambdaLR`` (its state dict is plain numbers, so it fits a JSON checkpoint)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(schedule, total_steps, warmup_steps))


def retarget_scheduler(scheduler: torch.optim.lr_scheduler.LambdaLR, schedule: str, total_steps: int,
                       warmup_steps: int) -> None:
    """Give a running :func:`build_scheduler` schedule a new length (a time budget re-planned its epochs).

    The steps taken so far stay; the next ``scheduler.step()`` follows the
    schedule of ``total_steps`` steps from the current step on.
    """
    scheduler.lr_lambdas = [lr_factor(schedule, total_steps, warmup_steps) for _ in scheduler.lr_lambdas]
