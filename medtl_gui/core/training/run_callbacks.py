"""Cross-cutting concerns of the run loop, each one callback around it (fastai's ``Learner`` callbacks).

The loop (:mod:`run_loop`) calls every callback at the same points, in
order; a callback overrides the hooks it needs:

- ``after_batches(run, batches) -> batches`` once the batches exist (the
  time budget probes here and may choose a larger image size);
- ``parameter_groups(run) -> list`` extra optimiser groups (DANN's domain
  classifier) and ``step_objective(run)`` an extra objective the step runner
  calls on every batch (domain adaptation);
- ``on_train_begin(run, runner, batches)`` before the first epoch;
- ``epoch_metrics(run) -> dict`` figures added to the epoch's metrics line;
- ``after_epoch(run, epoch, runner, batches) -> bool`` True to stop the run;
- ``report(run, report, status)`` its part of report.json.

Distributed training is not a callback: it is the step runner, loaders and
checkpoint functions of :mod:`distributed` (no-ops in one process), which
every task's hooks use. Retention (L2-SP, LwF) is a term of the step
runner's loss (:func:`retention_term`); mixed precision is the execution
plan's.
"""

from __future__ import annotations

from typing import Any


class RunCallback:
    """A concern around the run loop (see the module docstring); every hook does nothing by default."""

    def after_batches(self, run: Any, batches: Any) -> Any:
        return batches

    def parameter_groups(self, run: Any) -> list[dict]:
        return []

    def step_objective(self, run: Any) -> Any:
        return None

    def on_train_begin(self, run: Any, runner: Any, batches: Any) -> None:
        pass

    def epoch_metrics(self, run: Any) -> dict[str, Any]:
        return {}

    def after_epoch(self, run: Any, epoch: int, runner: Any, batches: Any) -> bool:
        return False

    def report(self, run: Any, report: dict[str, Any], status: str) -> None:
        pass


class DomainAdaptationCallback(RunCallback):
    """AdaBN, DSBN or DANN (:mod:`domain_methods`): target batches alongside the source ones, their figures
    per epoch, the target checkpoint at the end."""

    def __init__(self, method: Any):
        self.method = method

    @classmethod
    def for_run(cls, run: Any) -> "DomainAdaptationCallback | None":
        """The callback ``run.config.domain_adaptation`` asks for (None for "none"); DSBN converts the model."""
        from medtl_gui.core.training.domain_methods import create_domain_adaptation

        method = create_domain_adaptation(run.config, run.data, run.model, run.plan)
        return cls(method) if method is not None else None

    def parameter_groups(self, run: Any) -> list[dict]:
        return self.method.parameter_groups(run.config.lr, run.config.weight_decay)

    def step_objective(self, run: Any) -> Any:
        return self.method

    def on_train_begin(self, run: Any, runner: Any, batches: Any) -> None:
        from medtl_gui.core.training.run_setup import preprocessing_for  # domain adaptation: classification

        self.method.attach(preprocessing_for(run.bundle, run.settings), run.step, run.config.epochs * batches.batches_per_epoch())

    def epoch_metrics(self, run: Any) -> dict[str, Any]:
        return self.method.epoch_metrics()

    def report(self, run: Any, report: dict[str, Any], status: str) -> None:
        report["domain_adaptation"] = self.method.finish(run.folder.checkpoints, run.model, status)


class TimeBudgetCallback(RunCallback):
    """``config.time_budget_minutes``: probe and plan the epochs, re-plan after each, stop in time
    (:mod:`budget_run`, :mod:`time_budget`)."""

    def after_batches(self, run: Any, batches: Any) -> Any:
        from medtl_gui.core.training.budget_run import plan_time_budget

        return batches if run.resumed else plan_time_budget(run, batches)

    def after_epoch(self, run: Any, epoch: int, runner: Any, batches: Any) -> bool:
        from medtl_gui.core.training.budget_run import follow_time_budget

        return follow_time_budget(run, epoch, runner, batches.batches_per_epoch())

    def report(self, run: Any, report: dict[str, Any], status: str) -> None:
        if run.budget_plan is not None and run.budget is not None:
            report["time_budget"] = run.budget_plan.to_json() | {
                "epochs_completed": run.epochs_completed, "stopped_by_budget": run.budget.stopped_early,
                "replans": run.budget.replans, "seconds_used": report["seconds"]}


def run_callbacks(run: Any) -> list[RunCallback]:
    """The callbacks a run's config asks for (built once the model is on its device)."""
    callbacks: list[RunCallback] = []
    adaptation = DomainAdaptationCallback.for_run(run)
    if adaptation is not None:
        callbacks.append(adaptation)
    if run.config.time_budget_minutes:
        callbacks.append(TimeBudgetCallback())
    return callbacks


def retention_term(run: Any) -> Any:
    """The retention loss of ``run``'s resolved settings the task supports: L2-SP, LwF or None."""
    from medtl_gui.core.training.retention import L2SPPenalty, LwFDistillation

    kind = run.settings.retention
    if kind not in run.task.retentions:
        return None
    if kind == "l2sp":
        return L2SPPenalty(run.model)
    if kind == "lwf":
        return LwFDistillation(run.model, run.bundle.pretrained_head, run.config.lwf_temperature).to(
            run.plan.device, run.plan.channels_last)
    return None
