"""Ensembles in the run history: the "Build ensemble…" dialog, the background build, and the history entries.

The user selects two or more finished classification runs in the run
history and chooses how to combine them; the build runs in a background
job (the members predict the project's validation split, which the
weighted combination needs and every combination reports) and writes an
ensemble folder ``runs/<UTC time>-ensemble-<combination>/ensemble.json``
next to the runs. The history lists it as a run-like entry that can be set
as the active model and applied to unlabelled images like any run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from medtl_gui.core.tasks import can
from medtl_gui.core.runs import RunRecord
from medtl_gui.core.runs.history import RunSummary, list_runs

#: combination name -> text shown in the dialog
COMBINATION_TITLES = {
    "mean": "Average of the probabilities",
    "weighted": "Weighted average (weights fitted on the validation split)",
    "vote": "Majority vote",
}


@dataclass(frozen=True)
class EnsembleSummary(RunSummary):
    """An ensemble folder as a run-like history entry (``model`` is ``"ensemble"``)."""

    combination: str = "mean"
    member_texts: tuple[str, ...] = ()

    @property
    def is_ensemble(self) -> bool:
        """Always True (runs do not have this attribute set)."""
        return True

    @property
    def can_resume(self) -> bool:
        """An ensemble is not trained, so it never resumes."""
        return False

    @property
    def usable_model(self) -> bool:
        """An ensemble can always predict (its members are checked when it loads)."""
        return True

    def config_text(self) -> str:
        """e.g. ``ensemble of 3 · mean · resnet18 (seed 0), resnet18 (seed 1), ...``."""
        return f"ensemble of {len(self.member_texts)} · {self.combination} · " + ", ".join(self.member_texts)


def summarise_ensemble(folder: Path) -> EnsembleSummary | None:
    """The history entry of an ensemble folder (None when its manifest cannot be read)."""
    try:
        manifest = RunRecord(folder).read_ensemble()
        members = manifest["members"]
        combination = str(manifest["combination"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    validation = (manifest.get("validation") or {}).get("ensemble") or {}
    auc = validation.get("auc")
    texts = tuple(f"{m.get('model')} (seed {m.get('seed')}, {m.get('image_size')} px)" for m in members)
    return EnsembleSummary(
        run_id=folder.name, path=folder, task="classification", model="ensemble", strategy=combination,
        pretrained=None, epochs_planned=0, epochs_completed=0, status="completed",
        created=str(manifest.get("created", "")), seconds=None, monitor="val_auc" if auc is not None else None,
        best_epoch=None, best_metric=float(auc) if auc is not None else None, config={}, has_checkpoint=True,
        combination=combination, member_texts=texts,
    )


def list_runs_and_ensembles(runs_dir: str | Path, active: set[str] | None = None) -> list[RunSummary]:
    """Every run and ensemble in a project's ``runs/`` folder, newest first."""
    folder = Path(runs_dir)
    runs = list_runs(folder, active)
    if folder.is_dir():
        runs += [s for p in folder.iterdir() if RunRecord(p).is_ensemble and (s := summarise_ensemble(p))]
    return sorted(runs, key=lambda r: (r.created, r.run_id), reverse=True)


def can_join_ensemble(run: RunSummary) -> bool:
    """A finished classification run with a checkpoint (not an ensemble, not running)."""
    return (can(run.task, "ensemble") and run.usable_model and run.status != "running"
            and not getattr(run, "is_ensemble", False))


def build_project_ensemble(runs_dir: str | Path, run_dirs: list[Path], combination: str,
                           progress: Any = None, cancel: Any = None) -> Path:
    """Build an ensemble of ``run_dirs`` in a new folder of ``runs_dir`` on the project's validation images.

    Runs in a background job: opens the project (``runs_dir``'s parent)
    itself and closes it again. Returns the ensemble folder.
    """
    from medtl_gui.core.data.sources import open_data_source
    from medtl_gui.core.inference.ensemble import build_ensemble, validation_split

    runs_dir = Path(runs_dir)
    if progress is not None:
        progress(0, 1, "predicting the validation split with each member")
    data = open_data_source(runs_dir.parent)
    try:
        validation = validation_split(data, run_dirs)
        stem = f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-ensemble-{combination}"
        out = runs_dir / stem
        counter = 1
        while out.exists():
            out = runs_dir / f"{stem}-{counter}"
            counter += 1
        build_ensemble(run_dirs, out, combination=combination, validation=validation)
    finally:
        project = data.extra.get("project")
        if project is not None:
            project.close()
    if progress is not None:
        progress(1, 1, "ensemble built")
    return out


class EnsembleDialog(QDialog):
    """Asks how to combine the selected runs; ``combination()`` after it is accepted."""

    def __init__(self, runs: list[RunSummary], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Build ensemble")
        self.runs = list(runs)
        self.method = QComboBox()
        for name, title in COMBINATION_TITLES.items():
            self.method.addItem(title, name)
        self.method.setToolTip("Average: robust default. Weighted: favours the members that do better on the "
                               "validation split. Vote: each member's predicted class counts once.")
        listing = QLabel("\n".join(f"• {r.run_id}: {r.config_text()}" for r in self.runs))
        listing.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Combine by", self.method)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Build")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Combine these {len(self.runs)} runs into one model (they must predict the "
                                "same classes; each keeps its own image size):"))
        layout.addWidget(listing)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def combination(self) -> str:
        """The chosen combination: mean, weighted or vote."""
        return str(self.method.currentData())

    def set_combination(self, name: str) -> None:
        """Choose a combination (tests, presets)."""
        self.method.setCurrentIndex(max(0, self.method.findData(name)))
