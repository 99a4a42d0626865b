"""Locate application assets (icons, styles) in a source checkout or a frozen build."""

from __future__ import annotations

import sys
from pathlib import Path


def resource_path(name: str) -> Path:
    """Absolute path of ``resources/<name>``: next to the frozen executable, or at the repository root."""
    candidates = []
    if getattr(sys, "frozen", False):
        candidates.append(Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "resources")
    candidates.append(Path(__file__).resolve().parents[2] / "resources")
    for folder in candidates:
        if (folder / name).exists():
            return folder / name
    return candidates[-1] / name
