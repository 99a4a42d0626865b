"""Tasks: what kinds of runs MedTL trains, behind one interface, found through one registry.

See :mod:`base` for the :class:`Task` interface and :mod:`registry` for the
lookups. Classification (with regression as a head kind) and segmentation
register here; importing this package is cheap (no torch).
"""

from medtl_gui.core.tasks.base import EpochValidation, Prepared, Task
from medtl_gui.core.tasks.registry import (
    DEFAULT_TASK,
    TASKS,
    UnknownTask,
    can,
    register_task,
    registered_tasks,
    task_for_config,
    task_for_data,
    task_named,
    task_names,
    task_of,
    title_of,
    unregister_task,
)
from medtl_gui.core.tasks.classification import CLASSIFICATION
from medtl_gui.core.tasks.classification3d import CLASSIFICATION3D
from medtl_gui.core.tasks.segmentation import SEGMENTATION

register_task(CLASSIFICATION)
register_task(SEGMENTATION)
register_task(CLASSIFICATION3D)

__all__ = [
    "CLASSIFICATION", "DEFAULT_TASK", "EpochValidation", "Prepared", "SEGMENTATION", "TASKS", "Task",
    "UnknownTask", "can", "register_task", "registered_tasks", "task_for_config", "task_for_data", "task_named",
    "task_names", "task_of", "title_of", "unregister_task",
]
