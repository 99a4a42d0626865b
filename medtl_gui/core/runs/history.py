"""The project's runs as the GUI's history panel lists them, read through :class:`RunRecord` (no Qt, no torch).

A run folder (``runs/<id>/``, read through ``core.runs.RunRecord``) holds
``config.json``, ``metrics.jsonl``, ``report.json`` and checkpoints; this
module summarises them (config, duration, best metrics), reads a run's
epoch records for its curves, and keeps which run is the project's active
model (the project setting ``active_run``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medtl_gui.core.evaluation.headline import RunHeadline, run_headline
from medtl_gui.core.runs import RunRecord
from medtl_gui.core.evaluation.epoch_figures import ValidationFigures

#: project setting naming the run whose model "Apply model" uses by default
ACTIVE_RUN_KEY = "active_run"


@dataclass(frozen=True)
class RunSummary:
    """One run of the history list."""

    run_id: str
    path: Path
    task: str
    model: str
    strategy: str
    pretrained: str | None
    epochs_planned: int
    epochs_completed: int
    status: str  # completed, early_stopped, cancelled, failed, or "interrupted" (no report, not running)
    created: str
    seconds: float | None
    monitor: str | None
    best_epoch: int | None
    best_metric: float | None
    val_metrics: dict[str, float] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    has_checkpoint: bool = False
    headline: RunHeadline | None = None  # selection metric with balanced accuracy and per-class recall

    @property
    def can_resume(self) -> bool:
        """An unfinished run with a saved epoch: it can continue where it stopped."""
        return self.status in ("interrupted", "cancelled", "failed") and self.has_checkpoint \
            and self.epochs_completed < self.epochs_planned

    @property
    def usable_model(self) -> bool:
        """The run has a checkpoint to predict with."""
        return self.has_checkpoint and self.epochs_completed > 0

    def config_text(self) -> str:
        """One line: model, weights, strategy, size, epochs, batch, lr."""
        c = self.config
        weights = self.pretrained or "random init"
        size = c.get("image_size") or "default"
        return (f"{self.model} · {weights} · {self.strategy} · {size} px · {self.epochs_completed}/"
                f"{self.epochs_planned} epochs · batch {c.get('batch_size')} · lr {c.get('lr')}")

    def best_text(self) -> str:
        """e.g. ``val_auc 0.912 (epoch 4) · bal. acc 0.750`` (⚠: a class has recall 0 at the threshold)."""
        if self.headline is not None:  # also when the selection metric is undefined (e.g. AUC of one class)
            return self.headline.short_text()
        if self.best_metric is None or not self.monitor:
            return "–"
        epoch = f" (epoch {self.best_epoch + 1})" if self.best_epoch is not None else ""
        return f"{self.monitor} {self.best_metric:.3f}{epoch}"

    def duration_text(self) -> str:
        """e.g. ``3 min 12 s``."""
        return "–" if self.seconds is None else duration_text(self.seconds)


def duration_text(seconds: float) -> str:
    """Seconds as ``1 h 02 min``, ``3 min 12 s`` or ``42 s``."""
    seconds = max(0, int(round(seconds)))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def read_epochs(run_dir: str | Path) -> list[dict[str, Any]]:
    """The run's per-epoch records (``metrics.jsonl``); unreadable lines are skipped."""
    return RunRecord(run_dir).readable_metrics()


def read_validation(run_dir: str | Path) -> ValidationFigures | None:
    """The latest validation predictions the GUI kept for a run, or None."""
    data = RunRecord(run_dir).read_validation()
    if data is None:
        return None
    try:
        return ValidationFigures.from_json(data)
    except (KeyError, TypeError, ValueError):
        return None


def summarise_run(run_dir: str | Path, active: set[str] | None = None) -> RunSummary | None:
    """The summary of one run folder (None when it is not a readable run)."""
    path = Path(run_dir)
    run = RunRecord(path)
    record = run.config_or_none()
    if record is None or not isinstance(record.get("config"), dict):
        return None
    config = record["config"]
    report = run.report_or_none()
    epochs = run.readable_metrics()
    status = (report or {}).get("status") or "interrupted"
    if active and path.name in active:
        status = "running"
    monitor = (report or {}).get("monitor") or (record.get("resolved") or {}).get("monitor")
    best_epoch = (report or {}).get("best_epoch")
    best_metric = (report or {}).get("best_metric")
    if report is None and epochs and monitor:
        values = [(r.get(monitor), r.get("epoch")) for r in epochs if r.get(monitor) is not None]
        if values:
            higher = not monitor.endswith(("loss", "mae", "mse"))
            best_metric, best_epoch = (max if higher else min)(values, key=lambda v: v[0])
    best = next((r for r in epochs if r.get("epoch") == best_epoch), epochs[-1] if epochs else {})
    val_metrics = {k: float(v) for k, v in best.items() if k.startswith("val_") and isinstance(v, (int, float))}
    seconds = (report or {}).get("seconds")
    if seconds is None and epochs:
        seconds = sum(float(r.get("seconds") or 0) for r in epochs)
    checkpoints = run.checkpoints
    has_checkpoint = checkpoints.is_dir() and any(checkpoints.glob("*.safetensors"))
    return RunSummary(
        run_id=path.name, path=path, task=RunRecord.task_of(record),
        model=str(config.get("model", "?")), strategy=str(config.get("strategy", "?")),
        pretrained=config.get("pretrained"), epochs_planned=int(config.get("epochs") or 0),
        epochs_completed=len(epochs), status=str(status), created=str(record.get("created", "")),
        seconds=float(seconds) if seconds is not None else None, monitor=monitor,
        best_epoch=best_epoch, best_metric=float(best_metric) if best_metric is not None else None,
        val_metrics=val_metrics, config=config, has_checkpoint=has_checkpoint,
        headline=_headline(report, epochs, record),
    )


def _headline(report: dict[str, Any] | None, epochs: list[dict[str, Any]], record: dict[str, Any]
              ) -> RunHeadline | None:
    try:
        return run_headline(report, epochs, record)
    except (TypeError, ValueError, KeyError):  # a damaged record: the history still lists the run
        return None


def list_runs(runs_dir: str | Path, active: set[str] | None = None) -> list[RunSummary]:
    """Every readable run in a project's ``runs/`` folder, newest first."""
    folder = Path(runs_dir)
    if not folder.is_dir():
        return []
    runs = [summarise_run(p, active) for p in folder.iterdir() if p.is_dir()]
    return sorted((r for r in runs if r is not None), key=lambda r: (r.created, r.run_id), reverse=True)


def active_run_id(project: Any) -> str | None:
    """The run marked as the project's active model, or None."""
    value = project.meta(ACTIVE_RUN_KEY)
    return value or None


def set_active_run(project: Any, run_id: str) -> None:
    """Mark a run as the project's active model (what "Apply model" uses)."""
    project.set_meta(ACTIVE_RUN_KEY, run_id)


def config_differences(a: RunSummary, b: RunSummary) -> list[tuple[str, Any, Any]]:
    """(setting, value in a, value in b) for every config setting that differs."""
    keys = sorted(set(a.config) | set(b.config))
    return [(k, a.config.get(k), b.config.get(k)) for k in keys if a.config.get(k) != b.config.get(k)]
