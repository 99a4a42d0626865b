"""The weight store's manifest: one JSON file describing every stored file."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from medtl_gui.core.models.weights.errors import WeightsError

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1

#: how a weights file's keys are laid out
LAYOUTS = {
    "torchvision": "state dict of the torchvision model (its published checkpoints)",
    "medtl-backbone": "state dict of a MedTL TransferModel's backbone (in-domain pretraining)",
}


@dataclass
class WeightsEntry:
    """One weights file in the store.

    ``name`` is unique in the store (torchvision files: the file name
    without extension, e.g. ``resnet18-f37072fd``); ``sha256`` is the full
    hex digest of the file; ``source`` says what the weights were trained
    on (e.g. "ImageNet-1k torchvision V1", "self-supervised on project X");
    ``location`` is "store" for files in the store folder and "hub-cache"
    for files found in a torch hub cache (not copied; ``sha256`` is then
    empty and the file-name prefix is checked instead). ``verification``
    says whether the file is proven to be a published one (see
    :mod:`~medtl_gui.core.models.weights.provenance`; the store recomputes
    it on reading, so no manifest can grant it).
    """

    name: str
    architecture: str
    file: str
    sha256: str
    source: str
    licence: str
    layout: str = "torchvision"
    in_channels: int | None = None
    created: str = ""
    imported_from: str = ""
    notes: str = ""
    location: str = "store"
    verification: str = "unverified"

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict, origin: str | os.PathLike) -> "WeightsEntry":
        """Build from a manifest dict; ``origin`` names the file for errors."""
        known = {f.name for f in fields(cls)}
        missing = [k for k in ("name", "architecture", "file", "sha256") if k not in data]
        if missing:
            raise WeightsError(origin, f"manifest entry lacks {', '.join(missing)}")
        return cls(**{k: v for k, v in data.items() if k in known})


def read_manifest(directory: Path) -> list[WeightsEntry]:
    """Entries of ``directory/manifest.json`` (empty if there is none)."""
    path = directory / MANIFEST_NAME
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(path, f"unreadable manifest ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise WeightsError(path, "manifest must be an object with an 'entries' list")
    return [WeightsEntry.from_json(item, path) for item in data["entries"]]


def write_json_atomic(path: Path, data: object) -> None:
    """Write JSON to ``path`` through a temp file and rename (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2, sort_keys=False)
            stream.write("\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_manifest(directory: Path, entries: list[WeightsEntry]) -> None:
    """Atomically replace ``directory/manifest.json`` with ``entries``."""
    write_json_atomic(
        directory / MANIFEST_NAME,
        {"version": MANIFEST_VERSION, "entries": [e.to_json() for e in entries if e.location == "store"]},
    )
