"""What a run records about where and when it ran: time, package and code versions, command line."""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


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


def environment_record() -> dict[str, Any]:
    """Package versions, code version, command line and time, for a run's config record."""
    return {
        "versions": package_versions(),
        "code_version": code_version(),
        "command": sys.argv[:],
        "created": utc_now(),
    }
