"""Cached backbone features for feature extraction.

Features of one image depend only on the backbone weights, the
preprocessing and the image content, so they are keyed by exactly those:
a *namespace* (weights SHA-256 or random-init identity, architecture,
input channels, precision, preprocessing fingerprint) and, inside it, each
image's content hash. With a cache folder (e.g. a project's ``cache/``,
always safe to delete) the features survive across runs as one
safetensors file per namespace; without one they live for the run.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file


def feature_namespace(weights_id: str, architecture: str, in_channels: int, precision: str, preprocessing_fingerprint: str) -> str:
    """A short hash naming the feature space of one backbone + preprocessing."""
    text = f"{weights_id}|{architecture}|{in_channels}|{precision}|{preprocessing_fingerprint}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class FeatureCache:
    """Image-content-keyed feature vectors per namespace, in memory and optionally on disk."""

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory) / "features" if directory is not None else None
        self._memory: dict[str, dict[str, torch.Tensor]] = {}

    def _file(self, namespace: str) -> Path | None:
        return self.directory / f"{namespace}.safetensors" if self.directory is not None else None

    def _entries(self, namespace: str) -> dict[str, torch.Tensor]:
        if namespace not in self._memory:
            entries: dict[str, torch.Tensor] = {}
            path = self._file(namespace)
            if path is not None and path.is_file():
                try:
                    entries = load_file(str(path), device="cpu")
                except (SafetensorError, OSError):
                    path.unlink(missing_ok=True)  # a damaged cache file is just recomputed
            self._memory[namespace] = entries
        return self._memory[namespace]

    def lookup(self, namespace: str, keys: list[str]) -> dict[str, torch.Tensor]:
        """Cached features for those of ``keys`` that are present."""
        entries = self._entries(namespace)
        return {key: entries[key] for key in keys if key in entries}

    def add(self, namespace: str, features: dict[str, torch.Tensor]) -> None:
        """Store new features (and write the namespace file when on disk)."""
        if not features:
            return
        entries = self._entries(namespace)
        entries.update({k: v.detach().float().cpu().contiguous() for k, v in features.items()})
        path = self._file(namespace)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path.with_name(path.name + ".tmp")
            save_file(entries, str(temp))
            os.replace(temp, path)
