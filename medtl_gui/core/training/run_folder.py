"""A run's folder: ``runs/<id>/`` with config, per-epoch metrics, checkpoints and report.

Layout::

    config.json        exact TrainConfig, resolved settings, seed, package and code
                       versions, data source and the image ids of every split
    metrics.jsonl      one JSON object per epoch
    checkpoints/       best.* and last.* (see checkpoints.py); each record holds its files' SHA-256,
                       checked before the weights are used (see checkpoint_integrity.py)
    report.json        written when the run ends (status, best epoch, final metrics)
    scope.json         what the model was trained on (modality, dimensionality, colour, pixel
                       and image sizes; see core.inference.model_scope), written when it starts
    error.log          traceback, only if the run failed
    previous-attempt-<time>/  what a restart (``train --resume RUN --restart``) set aside
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from medtl_gui.core.models.weights.manifest import write_json_atomic


def utc_now() -> str:
    """Current UTC time, ISO 8601, seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages that affect training results."""
    from importlib import metadata

    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("medtl-gui", "torch", "torchvision", "numpy", "torchmetrics", "monai", "safetensors"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def code_version() -> str:
    """The git commit of the MedTL source (``+dirty`` with local changes), else the package version."""
    from medtl_gui import __version__

    source = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=source, capture_output=True,
            text=True, timeout=5, check=True,
        ).stdout.strip()
        return f"{__version__}+git.{commit[:12]}{'.dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return __version__


class RunFolder:
    """One run's folder on disk."""

    CONFIG = "config.json"
    METRICS = "metrics.jsonl"
    REPORT = "report.json"
    SCOPE = "scope.json"
    ERROR_LOG = "error.log"
    PREVIOUS_ATTEMPT = "previous-attempt-"

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @property
    def run_id(self) -> str:
        """The folder name."""
        return self.path.name

    @property
    def checkpoints(self) -> Path:
        """The checkpoint folder."""
        return self.path / "checkpoints"

    @classmethod
    def create(cls, runs_dir: str | os.PathLike, label: str) -> "RunFolder":
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
    def at(cls, path: str | os.PathLike) -> "RunFolder":
        """Use ``path`` as the run folder (created if missing; it must not hold another run)."""
        folder = cls(path)
        if (folder.path / cls.CONFIG).exists():
            raise FileExistsError(f"{folder.path}: already holds a run (config.json); choose a new folder or resume it")
        folder.checkpoints.mkdir(parents=True, exist_ok=True)
        return folder

    @classmethod
    def existing(cls, path: str | os.PathLike) -> "RunFolder":
        """An existing run folder (must contain config.json)."""
        folder = cls(path)
        if not (folder.path / cls.CONFIG).is_file():
            raise FileNotFoundError(f"{folder.path}: not a run folder (no {cls.CONFIG})")
        return folder

    # ------------------------------------------------------------------ records
    def write_config(self, record: dict[str, Any]) -> None:
        """Write ``config.json`` (atomically); a run inside its project also names it relatively (run_project.py)."""
        from medtl_gui.core.training.run_project import add_relative_source

        add_relative_source(record, self.path)
        write_json_atomic(self.path / self.CONFIG, record)

    def read_config(self) -> dict[str, Any]:
        """The ``config.json`` record."""
        return json.loads((self.path / self.CONFIG).read_text(encoding="utf-8"))

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one line to ``metrics.jsonl`` (flushed and fsynced)."""
        with open(self.path / self.METRICS, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")
            stream.flush()
            os.fsync(stream.fileno())

    def read_metrics(self) -> list[dict[str, Any]]:
        """All epoch records so far."""
        path = self.path / self.METRICS
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def truncate_metrics(self, epochs_kept: int) -> None:
        """Drop records of epochs >= ``epochs_kept`` (before resuming an interrupted epoch)."""
        kept = [r for r in self.read_metrics() if r.get("epoch", 0) < epochs_kept]
        path = self.path / self.METRICS
        temp = path.with_suffix(".jsonl.tmp")
        temp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        os.replace(temp, path)

    def write_report(self, report: dict[str, Any]) -> None:
        """Write ``report.json`` (atomically)."""
        write_json_atomic(self.path / self.REPORT, report)

    def read_report(self) -> dict[str, Any] | None:
        """``report.json`` if the run has ended."""
        path = self.path / self.REPORT
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def write_scope(self, scope: dict[str, Any]) -> None:
        """Write ``scope.json``: the traits of the training images (atomically)."""
        write_json_atomic(self.path / self.SCOPE, scope)

    def read_scope(self) -> dict[str, Any] | None:
        """``scope.json``, or None for a run that recorded none (older runs) or an unreadable one."""
        try:
            data = json.loads((self.path / self.SCOPE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

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
        (aside / "checkpoints").mkdir(parents=True)
        if self.checkpoints.is_dir():
            for path in sorted(self.checkpoints.iterdir()):
                if path.is_file():
                    os.replace(path, aside / "checkpoints" / path.name)
        for name in (self.METRICS, self.REPORT, self.ERROR_LOG):
            if (self.path / name).is_file():
                os.replace(self.path / name, aside / name)
        self.checkpoints.mkdir(exist_ok=True)
        return aside


def environment_record() -> dict[str, Any]:
    """Package versions, code version, command line and time, for config.json."""
    return {
        "versions": package_versions(),
        "code_version": code_version(),
        "command": sys.argv[:],
        "created": utc_now(),
    }
