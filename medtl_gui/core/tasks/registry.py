"""The task registry: the one place that answers "which task is this?".

``TASKS`` maps every ``TrainConfig.task`` value to its :class:`Task`
(classification serves "regression" too). Lookups:

- :func:`task_named` - a config's ``task`` value (or a ``--task`` option);
- :func:`task_for_config` - a ``TrainConfig``;
- :func:`task_of` - a run folder (its config.json says which task trained it);
- :func:`task_for_data` - data given without a task: the first registered
  task (latest first) that claims it, else classification.

Built-in tasks register on import of :mod:`medtl_gui.core.tasks`; another
task registers itself with :func:`register_task` (a test adds a toy task
this way).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from medtl_gui.core.tasks.base import Task

#: config task value -> task
TASKS: dict[str, Task] = {}
#: registration order (lookups by data ask the latest first)
_ORDER: list[Task] = []
#: the task of data that no task claims
DEFAULT_TASK = "classification"


class UnknownTask(ValueError):
    """A task name no registered task serves."""


def register_task(task: Task, *, replace: bool = False) -> Task:
    """Add ``task`` under each of its ``names``; a name already taken needs ``replace=True``."""
    names = task.names or (task.name,)
    if not task.name or task.name not in names:
        raise ValueError(f"{task!r}: 'name' must be set and be one of its names {names}")
    taken = [n for n in names if n in TASKS and TASKS[n] is not task]
    if taken and not replace:
        raise ValueError(f"task name {taken[0]!r} is already registered ({TASKS[taken[0]]!r})")
    for name in names:
        TASKS[name] = task
    if task not in _ORDER:
        _ORDER.append(task)
    return task


def unregister_task(task: Task) -> None:
    """Remove ``task`` (tests that add one remove it again)."""
    for name in [n for n, t in TASKS.items() if t is task]:
        del TASKS[name]
    if task in _ORDER:
        _ORDER.remove(task)


def task_names() -> tuple[str, ...]:
    """Every task value a config may hold."""
    return tuple(TASKS)


def registered_tasks() -> list[Task]:
    """One entry per task, in registration order."""
    return list(_ORDER)


def task_named(name: str) -> Task:
    """The task serving config task ``name``."""
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownTask(f"unknown task {name!r}; available: {', '.join(TASKS)}") from None


def can(task_value: str, capability: str) -> bool:
    """Whether runs of config task ``task_value`` have ``capability`` (``Task.capabilities``); False for a task
    value no registered task serves."""
    task = TASKS.get(task_value)
    return task is not None and capability in task.capabilities.get(task_value, ())


def title_of(task_value: str) -> str:
    """The display title of config task ``task_value``."""
    task = TASKS.get(task_value)
    return task.titles.get(task_value, task.title) if task is not None else task_value


def task_for_config(config: Any) -> Task:
    """The task of a ``TrainConfig``."""
    return task_named(config.task)


def run_task_name(run_dir: str | os.PathLike) -> str:
    """The task value recorded by the run in ``run_dir`` (config.json; older classification runs and ensemble
    folders record none: classification)."""
    from medtl_gui.core.runs import RunRecord

    return RunRecord(run_dir).task


def task_of(run_dir: str | os.PathLike) -> Task:
    """The task that trained the run in ``run_dir``."""
    return task_named(run_task_name(run_dir))


def task_for_data(location: str | os.PathLike, explicit: str | None = None) -> Task:
    """``explicit`` when given; else the latest registered task that claims the data; else classification."""
    if explicit:
        return task_named(explicit)
    for task in reversed(_ORDER):
        if task.claims_data(Path(location)):
            return task
    return task_named(DEFAULT_TASK)
