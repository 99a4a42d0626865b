"""The time budget around the run loop (see :mod:`time_budget` for the probe, the plan and the clock).

:func:`plan_time_budget` runs once before the learning-rate schedule is
built (probe, epochs, maybe a larger image size, written into config.json);
:func:`follow_time_budget` runs after every epoch (re-plan from the measured
epochs, or stop cleanly when no other epoch fits). ``run`` is the engine's
``TrainingRun`` (run_loop.py): its config, settings, folder, clock and events.
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from typing import Any

from medtl_gui.core.training import time_budget
from medtl_gui.core.training.config import TrainConfig
from medtl_gui.core.training.events import Message, PlanChanged
from medtl_gui.core.training.optimisation import retarget_scheduler
from medtl_gui.core.training.recipes import RECIPES
from medtl_gui.core.training.run_setup import preprocessing_for
from medtl_gui.core.training.time_budget import BudgetClock


def plan_time_budget(run: Any, batches: Any) -> Any:
    """Probe, choose epochs (maybe a larger image size), record the plan; the batches to train on."""
    minutes = float(run.config.time_budget_minutes or 0)
    run.emit(Message(f"time budget {minutes:g} min: timing a short probe to choose the epochs"))
    probe_runner = run._build_runner(batches)
    probe_runner.domain_objective = None  # adaptation attaches later; the probe times the task's steps
    val_loader = batches.eval_loader("val")
    if isinstance(val_loader, list):  # segmentation validates whole images by sliding windows: not probed
        val_loader = None
    costs = time_budget.probe_costs(probe_runner, batches, minutes * 60.0, run.folder.path, val_loader)
    recipe = RECIPES.get(run.config.recipe or "")
    may_grow = (not batches.features_mode and recipe is not None  # recipes size whole images
                and run.config.image_size is not None
                and run.config.image_size == recipe.values().get("image_size"))
    n_val, n_test = len(run.settings.val or []), len(run.settings.test or [])
    plan = time_budget.plan_budget(minutes, time.perf_counter() - run.started, costs, batches.batches_per_epoch(),
                                   run.settings.image_size, n_val, n_test, may_grow)
    changes: dict[str, Any] = {"epochs": plan.epochs,
                               "warmup_epochs": min(run.config.warmup_epochs, float(plan.epochs))}
    if plan.image_size != run.settings.image_size:
        changes["image_size"] = plan.image_size
        run.settings = replace(run.settings, image_size=plan.image_size)
        batches = run._build_batches()
    run.config = TrainConfig.from_dict(run.config.to_dict() | changes)
    record = run.folder.read_config()
    record["config"] = run.config.to_dict()
    if "image_size" in changes:
        prep = preprocessing_for(run.bundle, run.settings)
        record["resolved"] = run.settings.to_json()
        record["preprocessing"] = asdict(prep) | {"fingerprint": prep.fingerprint()}
    record["time_budget"] = plan.to_json()
    run.folder.write_config(record)
    run.budget_plan = plan
    run.budget = BudgetClock(plan.budget_s, run.started, plan.end_s)
    run.emit(Message(plan.summary()))
    return batches


def follow_time_budget(run: Any, epoch: int, runner: Any, per_epoch: int) -> bool:
    """After an epoch: re-plan when the clock says the plan is off; True when no other epoch fits."""
    if run.budget is None:
        return False
    run.budget.epoch_ended()
    epochs = run.budget.replanned_epochs(run.config.epochs, epoch + 1)
    if epochs is not None:
        c = run.config = TrainConfig.from_dict(run.config.to_dict() | {"epochs": epochs})
        retarget_scheduler(runner.scheduler, c.schedule, epochs * per_epoch, round(c.warmup_epochs * per_epoch))
        record = run.folder.read_config()
        record["config"] = c.to_dict()
        record.setdefault("time_budget", {})["replans"] = run.budget.replans
        run.folder.write_config(record)
        run.emit(PlanChanged(f"time budget: epochs measured at {run.budget.replans[-1]['epoch_s']:.1f} s: "
                              f"{epochs} epochs in all fit into the time left", epochs=epochs))
    if epoch + 1 >= run.config.epochs or not run.budget.must_stop():
        return False
    run.emit(Message(f"time budget: stopping after epoch {epoch + 1} of {run.config.epochs} "
                      f"({max(0.0, run.budget.left()):.0f} s left for the final evaluation)", "warning"))
    return True
