"""A run's honest headline: the metric it selected on, with balanced accuracy and per-class recall beside it.

A ranking metric such as ROC AUC can be perfect while the model, at the
threshold it actually decides with, finds none of the lesions. The headline
therefore always shows, for the best epoch's validation predictions at the
operating threshold: balanced accuracy, each class's recall, the threshold
and how it was chosen, and a warning for every class whose recall is 0.

The figures come from confusion matrices the run already stores: the one
``report.json`` holds for the best checkpoint at the operating threshold
(``val.confusion_matrix``, written when the run ends), else the best epoch's
line of ``metrics.jsonl`` (at the configured threshold; a run still
training or interrupted). GUI, CLI, HTML report and model card all call
:func:`run_headline`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

#: metrics where lower is better (the others: higher is better)
LOWER_IS_BETTER = ("loss", "mae", "mse")


def threshold_rule(policy: str | None, threshold: float | None, n_classes: int) -> str:
    """How the decision was made, e.g. ``fixed 0.50``, ``0.37 (Youden's J on validation)``, ``argmax``."""
    if n_classes > 2 or threshold is None:
        return "argmax (most probable class)"
    if policy == "youden":
        return f"{threshold:.2f} (Youden's J on validation)"
    return f"fixed {threshold:.2f}"


@dataclass(frozen=True)
class RunHeadline:
    """The figures a run's headline shows (classification runs)."""

    monitor: str | None
    best_value: float | None
    best_epoch: int | None  # 0-based
    class_names: list[str]
    recalls: dict[str, float | None]  # None: the class has no validation image
    support: dict[str, int]
    balanced_accuracy: float | None
    threshold: float | None  # None: multi-class (argmax)
    threshold_policy: str
    rule: str
    source: str  # where the matrix came from
    warnings: list[str] = field(default_factory=list)

    def metric_text(self) -> str:
        """e.g. ``val_auc 1.000 (epoch 4)``."""
        if not self.monitor:
            return "–"
        if self.best_value is None:
            return f"{self.monitor} undefined"
        epoch = f" (epoch {self.best_epoch + 1})" if self.best_epoch is not None else ""
        return f"{self.monitor} {self.best_value:.3f}{epoch}"

    def figures_text(self) -> str:
        """e.g. ``balanced accuracy 0.500 · recall normal 1.00, lesion 0.00 · threshold fixed 0.50``."""
        if self.balanced_accuracy is None:
            return f"no validation images · threshold {self.rule}"
        recalls = ", ".join(f"{name} {'–' if value is None else f'{value:.2f}'}"
                            for name, value in self.recalls.items())
        return f"balanced accuracy {self.balanced_accuracy:.3f} · recall {recalls} · threshold {self.rule}"

    def text(self) -> str:
        """The whole headline on one line (warnings marked with ⚠)."""
        return f"best {self.metric_text()} · {self.figures_text()}" + (" ⚠" if self.warnings else "")

    def short_text(self) -> str:
        """For a table cell: the selection metric and balanced accuracy."""
        if self.balanced_accuracy is None:
            return self.metric_text()
        return f"{self.metric_text()} · bal. acc {self.balanced_accuracy:.3f}" + (" ⚠" if self.warnings else "")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for report.json readers, the model card and ``--json``)."""
        return asdict(self) | {"text": self.text()}


def recall_figures(confusion: Sequence[Sequence[int]], class_names: Sequence[str]
                   ) -> tuple[dict[str, float | None], dict[str, int], float | None]:
    """Per-class recall (None without images), support and balanced accuracy from a confusion matrix."""
    matrix = np.asarray(confusion, dtype=np.int64)
    if matrix.shape != (len(class_names), len(class_names)):
        raise ValueError(f"confusion matrix of shape {matrix.shape} for {len(class_names)} classes")
    support = matrix.sum(axis=1)
    recalls: dict[str, float | None] = {}
    for c, name in enumerate(class_names):
        recalls[name] = float(matrix[c, c] / support[c]) if support[c] > 0 else None
    defined = [v for v in recalls.values() if v is not None]
    balanced = float(np.mean(defined)) if defined else None
    return recalls, {name: int(support[c]) for c, name in enumerate(class_names)}, balanced


def zero_recall_warnings(recalls: dict[str, float | None], support: dict[str, int], rule: str) -> list[str]:
    """One warning per class with validation images of which none is found at the threshold."""
    return [f"recall of '{name}' is 0 at threshold {rule}: none of its {support[name]} validation image(s) "
            "is classified as such" for name, value in recalls.items() if value == 0.0]


def best_epoch_record(epochs: Sequence[dict[str, Any]], best_epoch: int | None,
                      monitor: str | None) -> dict[str, Any] | None:
    """The metrics line of ``best_epoch`` (or, unknown, of the epoch best on ``monitor``)."""
    if best_epoch is not None:
        return next((r for r in epochs if r.get("epoch") == best_epoch), None)
    scored = [r for r in epochs if monitor and isinstance(r.get(monitor), (int, float))]
    if not scored:
        return None
    choose = min if monitor.endswith(LOWER_IS_BETTER) else max
    return choose(scored, key=lambda r: r[monitor])


def run_headline(report: dict[str, Any] | None, epochs: Sequence[dict[str, Any]] = (),
                 record: dict[str, Any] | None = None) -> RunHeadline | None:
    """The headline of a classification run from its ``report.json``, ``metrics.jsonl`` lines and ``config.json``.

    None for regression and segmentation runs (no classes) or when no
    confusion matrix is known yet.
    """
    report, record = report or {}, record or {}
    config = record.get("config") or {}
    from medtl_gui.core.tasks import DEFAULT_TASK, can

    if not can(config.get("task", DEFAULT_TASK), "headline"):
        return None
    names = list(report.get("class_names") or (record.get("data") or {}).get("class_names") or [])
    if len(names) < 2:
        return None
    monitor = report.get("monitor") or (record.get("resolved") or {}).get("monitor")
    best = best_epoch_record(epochs, report.get("best_epoch"), monitor)
    best_epoch = report.get("best_epoch") if report.get("best_epoch") is not None else (best or {}).get("epoch")
    best_value = report.get("best_metric")
    if best_value is None and best is not None and monitor:
        best_value = best.get(monitor)
    policy = str(report.get("threshold_policy") or config.get("threshold_policy") or "fixed")
    val = report.get("val") or {}
    if val.get("confusion_matrix") is not None:
        matrix, source = val["confusion_matrix"], "best checkpoint on the validation split, at the operating threshold"
        threshold = report.get("decision_threshold", config.get("threshold", 0.5))
    elif best is not None and best.get("confusion_matrix") is not None:
        matrix, source = best["confusion_matrix"], f"epoch {int(best.get('epoch', 0)) + 1} on the validation split"
        threshold, policy = float(config.get("threshold", 0.5)), "fixed"  # per-epoch lines use the configured one
    else:
        return None
    threshold = float(threshold) if len(names) == 2 and threshold is not None else None
    rule = threshold_rule(policy, threshold, len(names))
    recalls, support, balanced = recall_figures(matrix, names)
    return RunHeadline(monitor, None if best_value is None else float(best_value),
                       None if best_epoch is None else int(best_epoch), names, recalls, support, balanced,
                       threshold, policy, rule, source, zero_recall_warnings(recalls, support, rule))


def read_run_headline(run_dir: Any) -> RunHeadline | None:
    """:func:`run_headline` of a run folder (None when it cannot be read)."""
    from medtl_gui.core.runs import RunRecord

    try:
        folder = RunRecord.existing(run_dir)
        return run_headline(folder.read_report(), folder.read_metrics(), folder.read_config())
    except (OSError, ValueError, KeyError):
        return None
