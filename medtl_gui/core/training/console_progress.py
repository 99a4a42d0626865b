"""A text progress display for ``medtl train``: an event sink writing to a terminal or log."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from medtl_gui.core.runs import RunRecord
from medtl_gui.core.training.events import (
    BatchEnd,
    EpochEnd,
    Message,
    PlanChanged,
    RunFailed,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
)

BAR_WIDTH = 24


def _format(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def budget_left_text(budget_s: float, elapsed_s: float) -> str:
    """E.g. ``budget 10 min, 6 min 12 s left`` (``0 s left`` once over)."""
    left = max(0, round(budget_s - elapsed_s))
    minutes, seconds = divmod(left, 60)
    left_text = f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"
    return f"budget {budget_s / 60:g} min, {left_text} left"


class ConsoleProgress:
    """Progress bar per batch (on a terminal) and one summary line per epoch."""

    def __init__(self, stream: TextIO | None = None, live: bool | None = None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.quiet = quiet
        self.epochs = 0
        self._last_draw = 0.0
        self.budget_s: float | None = None
        self._budget_origin = 0.0  # monotonic time at which the run's budget clock read 0

    def _line(self, text: str) -> None:
        if self.live:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def _budget(self) -> str:
        return budget_left_text(self.budget_s or 0.0, time.monotonic() - self._budget_origin)

    def emit(self, event) -> None:
        """Render one engine event."""
        if self.quiet and not isinstance(event, RunFailed):
            if not (isinstance(event, Message) and event.level == "warning"):
                return
        if isinstance(event, RunStarted):
            self.epochs = event.epochs
            self._line(f"run {event.run_id}: {event.n_train} training / {event.n_val} validation images, "
                       f"{event.device} ({event.precision}{', channels-last' if event.channels_last else ''})")
            self._line(f"  folder: {event.run_dir}")
            self.budget_s = event.time_budget_s
            self._budget_origin = time.monotonic() - event.elapsed_s
            if self.budget_s:
                self._line(f"  {self._budget()} ({event.epochs} epochs planned)")
        elif isinstance(event, Message):
            if isinstance(event, PlanChanged):
                self.epochs = event.epochs
            self._line(f"{'warning: ' if event.level == 'warning' else ''}{event.text}")
        elif isinstance(event, BatchEnd) and self.live:
            now = time.monotonic()
            if now - self._last_draw < 0.1 and event.batch + 1 < event.n_batches:
                return
            self._last_draw = now
            done = (event.batch + 1) / max(1, event.n_batches)
            bar = "#" * int(done * BAR_WIDTH) + "." * (BAR_WIDTH - int(done * BAR_WIDTH))
            self.stream.write(f"\r\033[Kepoch {event.epoch + 1}/{self.epochs} [{bar}] "
                              f"{event.batch + 1}/{event.n_batches} loss {event.loss:.4f}")
            self.stream.flush()
        elif isinstance(event, EpochEnd):
            m = event.metrics
            parts = [f"epoch {event.epoch + 1}/{self.epochs}", f"train loss {_format(m.get('train_loss'))}"]
            for key in ("val_loss", "val_dice", "val_iou", "val_accuracy", "val_balanced_accuracy", "val_auc",
                        "val_mae", "contrastive_accuracy"):
                if m.get(key) is not None:
                    parts.append(f"{key.removeprefix('val_').replace('_', ' ')} {_format(m[key])}")
            parts.append(f"{m.get('seconds', 0):.1f}s")
            if self.budget_s:
                parts.append(self._budget())
            self._line(", ".join(parts) + ("  *best" if event.is_best else ""))
        elif isinstance(event, RunPaused):
            self._line("paused")
        elif isinstance(event, RunResumed):
            self._line("resumed")
        elif isinstance(event, RunFinished):
            best = f"best epoch {event.best_epoch + 1}" if event.best_epoch is not None else "no best epoch"
            self._line(f"{event.status}: {best} ({_format(event.best_metric)}), folder {event.run_dir}")
            self._headline(event.run_dir)
        elif isinstance(event, RunFailed) and event.run_dir is not None:
            # failures before the run folder exists are raised to the caller, which reports them
            self._line(f"failed: {event.reason} (details in {event.run_dir}/{RunRecord.ERROR_LOG})")

    def _headline(self, run_dir: str | None) -> None:
        """The run's honest headline: selection metric, balanced accuracy, per-class recall, threshold."""
        from medtl_gui.core.evaluation.headline import read_run_headline

        headline = read_run_headline(run_dir) if run_dir else None
        if headline is None:
            return
        self._line(f"  {headline.text().removesuffix(' ⚠')}")
        for warning in headline.warnings:
            self._line(f"warning: {warning}")
