"""`medtl train`'s text progress: one line per epoch with the task's own validation figures."""

from __future__ import annotations

import io

from medtl_gui.core.training.console_progress import ConsoleProgress
from medtl_gui.core.training.events import EpochEnd, RunFailed


def epoch_line(metrics: dict[str, float | None], is_best: bool = False) -> str:
    stream = io.StringIO()
    progress = ConsoleProgress(stream, live=False)
    progress.epochs = 4
    progress.emit(EpochEnd(1, metrics, None, is_best, []))
    return stream.getvalue().strip()


def test_segmentation_epoch_shows_dice_and_iou() -> None:
    line = epoch_line({"train_loss": 0.5, "val_loss": 0.4, "val_dice": 0.8123, "val_iou": 0.6834, "val_auc": 0.97,
                       "seconds": 12.0}, is_best=True)
    assert line.startswith("epoch 2/4") and "dice 0.8123" in line and "iou 0.6834" in line
    assert "auc 0.9700" in line and line.endswith("*best")


def test_classification_epoch_shows_accuracy_not_absent_keys() -> None:
    line = epoch_line({"train_loss": 0.5, "val_accuracy": 0.9, "val_auc": None, "seconds": 1.0})
    assert "accuracy 0.9000" in line and "auc" not in line and "dice" not in line


def test_quiet_still_reports_failures() -> None:
    stream = io.StringIO()
    progress = ConsoleProgress(stream, live=False, quiet=True)
    progress.emit(EpochEnd(0, {"train_loss": 1.0}, None, False, []))
    assert stream.getvalue() == ""
    progress.emit(RunFailed("disk full", "/tmp/run"))
    assert "failed: disk full" in stream.getvalue()
