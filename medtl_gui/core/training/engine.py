"""The one training engine: ``train(config, data, events, control) -> RunResult``, for every task.

The GUI's worker thread and ``medtl train`` both call :func:`train`. It asks
the task registry (:mod:`medtl_gui.core.tasks`) for the config's task,
validates the config once, lets the task prepare settings and model against
the data, writes the run folder (config.json, scope.json; see
:mod:`medtl_gui.core.runs`) and runs the one loop (:mod:`run_loop`). It
reports progress only through events (see :mod:`events`) and checks
``control`` for cancel/pause between batches. With
``config.time_budget_minutes`` the epochs come from a timed probe and the
run stops in time (see :mod:`time_budget`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from medtl_gui.core.models.weights.store import WeightStore
from medtl_gui.core.runs import RunRecord, environment_record
from medtl_gui.core.training import distributed as ddp
from medtl_gui.core.training.config import ConfigError, TrainConfig
from medtl_gui.core.training.control import RunControl
from medtl_gui.core.training.device import plan_execution
from medtl_gui.core.training.events import RunFailed, as_callback
from medtl_gui.core.training.run_loop import RunResult, TrainingRun

__all__ = ["RunResult", "TrainingRun", "train", "resumable_folder", "check_resumable", "RESUME_MAY_CHANGE"]

#: settings that may differ when resuming a run (they do not change the numbers)
RESUME_MAY_CHANGE = ("num_workers", "device", "validation_samples")


def check_resumable(config: TrainConfig, folder: RunRecord) -> None:
    """Refuse to resume ``folder`` with a config that would change the numbers."""
    saved = folder.read_config().get("config", {})
    for key, value in config.to_dict().items():
        if key not in RESUME_MAY_CHANGE and saved.get(key) != value:
            raise ConfigError(key, f"differs from the run being resumed ({saved.get(key)!r} there, {value!r} now)")


def train(
    config: TrainConfig,
    data: Any,
    events: Any = None,
    control: RunControl | None = None,
    *,
    run_dir: str | Path | None = None,
    resume_from: str | Path | None = None,
    weight_store: WeightStore | None = None,
) -> RunResult:
    """Train a model on ``data`` as ``config`` says; returns how it ended.

    ``events``: a callable or an :class:`EventSink` receiving every event
    (on this thread). ``control``: cancel/pause flags. ``run_dir``: the
    folder for this run (default: a new folder in ``data.runs_dir``, or
    ``./runs``). ``resume_from``: an interrupted run folder to continue
    from its last completed epoch (same config). Bad input (config, data,
    weights) raises after a :class:`RunFailed` event; failures during
    training return a result with status "failed" and keep the traceback
    in the run folder's ``error.log``.
    """
    from medtl_gui.core.tasks import task_for_config

    started = time.perf_counter()  # a time budget counts from here (the data is open)
    emit = as_callback(events)
    control = control or RunControl()
    folder: RunRecord | None = None
    try:
        config.validate()  # the one validation of this run's config
        task = task_for_config(config)
        if config.time_budget_minutes and ddp.is_distributed():
            raise ConfigError("time_budget_minutes", "is for single-process runs: leave out --nproc-per-node")
        if resume_from is not None:  # several processes: rank 0 opens and writes the folder (see distributed.py)
            folder = ddp.main_process_folder(lambda: resumable_folder(config, resume_from))
        prepared = task.prepare(config, data, weight_store)
        plan = plan_execution(config.device, config.precision, config.channels_last)
        run = TrainingRun(task, config, prepared, plan, None, emit, control, resumed=resume_from is not None)
        if folder is None:
            folder = ddp.main_process_folder(lambda: _new_folder(run, run_dir))
        run.folder = folder
    except Exception as exc:
        emit(RunFailed(str(exc), str(folder.path) if folder else None))
        raise
    run.started = started
    return run.execute_or_fail()


def resumable_folder(config: TrainConfig, resume_from: str | Path) -> RunRecord:
    """The interrupted run's folder, after checking that ``config`` may continue it and that its ``last``
    checkpoint verifies (a run that completed epochs but lost or damaged ``last`` refuses to resume)."""
    from medtl_gui.core.training.checkpoint_integrity import require_resumable

    folder = RunRecord.existing(resume_from)
    check_resumable(config, folder)
    require_resumable(folder.path)
    return folder


def _new_folder(run: TrainingRun, run_dir: str | Path | None) -> RunRecord:
    """A new run folder (``run_dir`` or a fresh one under the data's runs folder) with its config.json and
    scope.json (what the model is meant for)."""
    from medtl_gui.core.inference.model_scope import record_training_scope

    if run_dir is not None:
        folder = RunRecord.at(run_dir)
    else:
        folder = RunRecord.create(run.data.runs_dir or Path("runs"), run.task.folder_label(run.config))
    run.folder = folder
    folder.write_config(config_record(run))
    ids, loaders = run.task.scope_images(run)
    record_training_scope(folder, run.data.extra.get("project"), ids, loaders)
    return folder


def config_record(run: TrainingRun) -> dict[str, Any]:
    """config.json: what every run records, then the task's sections (model, preprocessing, data)."""
    config, plan, bundle = run.config, run.plan, run.bundle
    weights = bundle.weights
    record: dict[str, Any] = {
        "run_id": run.folder.run_id,
        "task": config.task,
        "config": config.to_dict(),
        "seed": config.seed,
        "resolved": run.settings.to_json(),
        "execution": {"device": str(plan.device), "precision": plan.precision,
                      "channels_last": plan.channels_last, "messages": plan.messages},
        "model": {"architecture": config.model, "n_parameters": bundle.model.n_parameters(),
                  "in_channels": bundle.in_channels, "stages": bundle.model.stage_names()},
        "weights": None if weights is None else {
            "name": weights.entry.name, "sha256": weights.sha256, "source": weights.entry.source,
            "licence": weights.entry.licence, "file": Path(weights.entry.file).name,
            "verification": weights.entry.verification},
    }
    sections = run.task.config_sections(run)
    record["model"].update(sections.pop("model", {}))
    record.update(sections)
    return record | environment_record()
