"""A run's folder: ``runs/<id>/`` with config, per-epoch metrics, checkpoints and report.

Layout::

    config.json        exact TrainConfig, resolved settings, seed, package and code
                       versions, data source and the image ids of every split
    metrics.jsonl      one JSON object per epoch
    checkpoints/       best.* and last.* (see core.training.checkpoints); each record holds its files'
                       SHA-256, checked before the weights are used (see checkpoint_integrity.py)
    report.json        written when the run ends (status, best epoch, final metrics)
    scope.json         what the model was trained on (modality, dimensionality, colour, pixel
                       and image sizes; see core.inference.model_scope), written when it starts
    error.log          traceback, only if the run failed
    gui-error.log      the GUI's log of a failed run (appended)
    validation_predictions.json  the latest epoch's validation predictions, kept by the GUI
    previous-attempt-<time>/  what a restart (``train --resume RUN --restart``) set aside

An ensemble folder (see core.inference.ensemble) holds ``ensemble.json``
instead of a run's files. :class:`RunRecord` is the only code that opens
these files (``tests/test_run_record.py`` checks it); checkpoint files are
named and read by core.training.checkpoints, in :attr:`RunRecord.checkpoints`.
"""

from __future__ import annotations

import json
import os
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medtl_gui.core.models.weights.manifest import write_json_atomic
from medtl_gui.core.runs.environment import utc_now

if TYPE_CHECKING:
    from medtl_gui.core.training.config import TrainConfig

#: the task of a run whose record names none (older classification runs, ensemble folders)
DEFAULT_TASK = "classification"


def _json_dict_or_none(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class RunRecord:
    """One run's (or ensemble's) folder on disk: the one reader and writer of its files."""

    CONFIG = "config.json"
    METRICS = "metrics.jsonl"
    REPORT = "report.json"
    SCOPE = "scope.json"
    ERROR_LOG = "error.log"
    GUI_ERROR_LOG = "gui-error.log"
    VALIDATION = "validation_predictions.json"
    ENSEMBLE = "ensemble.json"
    CHECKPOINTS = "checkpoints"
    PREVIOUS_ATTEMPT = "previous-attempt-"

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunRecord({str(self.path)!r})"

    @property
    def run_id(self) -> str:
        """The folder name."""
        return self.path.name

    @property
    def checkpoints(self) -> Path:
        """The checkpoint folder."""
        return self.path / self.CHECKPOINTS

    # ------------------------------------------------------------------ opening
    @classmethod
    def create(cls, runs_dir: str | os.PathLike, label: str) -> "RunRecord":
        """A new, uniquely named folder ``<runs_dir>/<UTC time>-<label>``."""
        runs_dir = Path(runs_dir)
        runs_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{label}"
        for counter in range(1000):
            candidate = runs_dir / (stem if counter == 0 else f"{stem}-{counter}")
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            folder = cls(candidate)
            folder.checkpoints.mkdir()
            return folder
        raise FileExistsError(f"{runs_dir}: cannot find a free run folder name for {stem}")

    @classmethod
    def at(cls, path: str | os.PathLike) -> "RunRecord":
        """Use ``path`` as the run folder (created if missing; it must not hold another run)."""
        folder = cls(path)
        if (folder.path / cls.CONFIG).exists():
            raise FileExistsError(f"{folder.path}: already holds a run ({cls.CONFIG}); choose a new folder or "
                                  "resume it")
        folder.checkpoints.mkdir(parents=True, exist_ok=True)
        return folder

    @classmethod
    def existing(cls, path: str | os.PathLike) -> "RunRecord":
        """An existing run folder (must contain config.json); FileNotFoundError otherwise."""
        folder = cls(path)
        if not cls.is_run(folder.path):
            raise FileNotFoundError(f"{folder.path}: not a run folder (no {cls.CONFIG})")
        return folder

    @classmethod
    def is_run(cls, path: str | os.PathLike) -> bool:
        """Whether ``path`` is a run folder (it holds a config.json)."""
        return (Path(path) / cls.CONFIG).is_file()

    @property
    def is_ensemble(self) -> bool:
        """Whether this folder is an ensemble folder (it holds an ensemble.json)."""
        return (self.path / self.ENSEMBLE).is_file()

    # ------------------------------------------------------------------ config
    def write_config(self, record: dict[str, Any]) -> None:
        """Write ``config.json`` (atomically); a run inside its project also names it relatively (run_project.py)."""
        from medtl_gui.core.training.run_project import add_relative_source

        add_relative_source(record, self.path)
        write_json_atomic(self.path / self.CONFIG, record)

    def read_config(self) -> dict[str, Any]:
        """The ``config.json`` record (OSError when missing, ValueError when not JSON)."""
        return json.loads((self.path / self.CONFIG).read_text(encoding="utf-8"))

    def config_or_none(self) -> dict[str, Any] | None:
        """The ``config.json`` record; None when it is missing, unreadable or not a JSON object."""
        return _json_dict_or_none(self.path / self.CONFIG)

    def train_config(self, record: dict[str, Any] | None = None) -> "TrainConfig":
        """The run's :class:`TrainConfig` (config.json's ``"config"``); ``record``: config.json already read.

        Raises ``ConfigError`` naming config.json when it cannot be read, is
        not JSON, holds no config, or the config is not valid.
        """
        from medtl_gui.core.training.config import ConfigError, TrainConfig

        origin = str(self.path / self.CONFIG)
        if record is None:
            try:
                record = self.read_config()
            except OSError as exc:
                raise ConfigError("(file)", f"cannot read ({exc.strerror or exc})", origin) from exc
            except json.JSONDecodeError as exc:
                raise ConfigError("(root)", f"not valid JSON ({exc})", origin) from exc
        section = record.get("config") if isinstance(record, dict) else None
        if not isinstance(section, dict):
            raise ConfigError("config", "the run's record holds no training config", origin)
        return TrainConfig.from_dict(section, origin)

    @staticmethod
    def task_of(record: dict[str, Any] | None) -> str:
        """The task a config.json record names: its ``task``, else its config's, else classification."""
        record = record if isinstance(record, dict) else {}
        task = record.get("task")
        if not task and isinstance(record.get("config"), dict):
            task = record["config"].get("task")
        return str(task or DEFAULT_TASK)

    @property
    def task(self) -> str:
        """The run's task (classification for an ensemble folder, an older run or an unreadable record)."""
        return self.task_of(self.config_or_none())

    # ------------------------------------------------------------------ metrics
    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one line to ``metrics.jsonl`` (flushed and fsynced)."""
        with open(self.path / self.METRICS, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")
            stream.flush()
            os.fsync(stream.fileno())

    def read_metrics(self) -> list[dict[str, Any]]:
        """All epoch records so far (ValueError on a damaged line)."""
        path = self.path / self.METRICS
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def readable_metrics(self) -> list[dict[str, Any]]:
        """The epoch records that can be read: damaged or half-written lines are skipped, no file gives []."""
        try:
            lines = (self.path / self.METRICS).read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        records = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    @property
    def has_metrics(self) -> bool:
        """Whether at least one epoch line was (being) written."""
        path = self.path / self.METRICS
        return path.is_file() and path.stat().st_size > 0

    def truncate_metrics(self, epochs_kept: int) -> None:
        """Drop records of epochs >= ``epochs_kept`` (before resuming an interrupted epoch)."""
        kept = [r for r in self.read_metrics() if r.get("epoch", 0) < epochs_kept]
        path = self.path / self.METRICS
        temp = path.with_suffix(".jsonl.tmp")
        temp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        os.replace(temp, path)

    # ------------------------------------------------------------------ report and scope
    def write_report(self, report: dict[str, Any]) -> None:
        """Write ``report.json`` (atomically)."""
        write_json_atomic(self.path / self.REPORT, report)

    def read_report(self) -> dict[str, Any] | None:
        """``report.json`` if the run has ended (ValueError when it is not JSON)."""
        path = self.path / self.REPORT
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def report_or_none(self) -> dict[str, Any] | None:
        """``report.json``; None when it is missing, unreadable or not a JSON object."""
        return _json_dict_or_none(self.path / self.REPORT)

    def write_scope(self, scope: dict[str, Any]) -> None:
        """Write ``scope.json``: the traits of the training images (atomically)."""
        write_json_atomic(self.path / self.SCOPE, scope)

    def read_scope(self) -> dict[str, Any] | None:
        """``scope.json``, or None for a run that recorded none (older runs) or an unreadable one."""
        return _json_dict_or_none(self.path / self.SCOPE)

    # ------------------------------------------------------------------ ensembles
    def write_ensemble(self, manifest: dict[str, Any]) -> None:
        """Write ``ensemble.json`` (atomically; the folder is created if missing)."""
        write_json_atomic(self.path / self.ENSEMBLE, manifest)

    def read_ensemble(self) -> Any:
        """The parsed ``ensemble.json`` as it is (FileNotFoundError when missing, ValueError when not JSON);
        core.inference.ensemble.read_manifest checks its format."""
        return json.loads((self.path / self.ENSEMBLE).read_text(encoding="utf-8"))

    def ensemble_or_none(self) -> dict[str, Any] | None:
        """``ensemble.json``; None when it is missing, unreadable or not a JSON object."""
        return _json_dict_or_none(self.path / self.ENSEMBLE)

    # ------------------------------------------------------------------ failures
    def record_failure(self, exc: BaseException) -> tuple[str, dict[str, Any]]:
        """Write the traceback being handled to ``error.log`` and a "failed" ``report.json``: (reason, report)."""
        reason = f"{type(exc).__name__}: {exc}"
        self.write_error(traceback.format_exc())
        report = {"status": "failed", "error": reason, "run_id": self.run_id, "finished": utc_now()}
        self.write_report(report)
        return reason, report

    def write_error(self, text: str) -> None:
        """Keep a failed run's traceback."""
        (self.path / self.ERROR_LOG).write_text(text, encoding="utf-8")

    def error_text(self) -> str:
        """The failed run's traceback (``error.log``); empty when there is none or it cannot be read."""
        try:
            return (self.path / self.ERROR_LOG).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def append_gui_error(self, text: str) -> Path:
        """Append ``text`` to the GUI's log of the run's failure (``gui-error.log``); returns the file."""
        path = self.path / self.GUI_ERROR_LOG
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(text)
        return path

    # ------------------------------------------------------------------ GUI's validation figures
    def write_validation(self, figures: dict[str, Any]) -> None:
        """Keep the latest validation predictions (atomically; the GUI shows them when the run is reopened)."""
        write_json_atomic(self.path / self.VALIDATION, figures)

    def read_validation(self) -> dict[str, Any] | None:
        """The kept validation predictions; None when there are none or they cannot be read."""
        return _json_dict_or_none(self.path / self.VALIDATION)

    # ------------------------------------------------------------------ restart
    def set_aside_attempt(self) -> Path:
        """Move this attempt's checkpoints, metrics, report and error log into ``previous-attempt-<UTC time>/``.

        ``medtl train --resume RUN --restart``: the run then starts again
        from its first epoch in this folder, with the same config and data
        splits; nothing is deleted. Returns the folder they were moved to.
        """
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        aside = self.path / f"{self.PREVIOUS_ATTEMPT}{stamp}"
        for counter in range(1, 1000):
            if not aside.exists():
                break
            aside = self.path / f"{self.PREVIOUS_ATTEMPT}{stamp}-{counter}"
        (aside / self.CHECKPOINTS).mkdir(parents=True)
        if self.checkpoints.is_dir():
            for path in sorted(self.checkpoints.iterdir()):
                if path.is_file():
                    os.replace(path, aside / self.CHECKPOINTS / path.name)
        for name in (self.METRICS, self.REPORT, self.ERROR_LOG):
            if (self.path / name).is_file():
                os.replace(self.path / name, aside / name)
        self.checkpoints.mkdir(exist_ok=True)
        return aside
