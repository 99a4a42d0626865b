"""What an installer build ships inside the app: its data folder, codec samples and weights.

Layout of the data folder (``medtl_data/`` next to the frozen app's
libraries, i.e. ``sys._MEIPASS/medtl_data``)::

    edition.json     {"edition": "cpu"|"cuda", "version", "torch", "built"}
    samples/         codec samples + samples.json (see ``selftest.samples``)
    weights/         a weight store: pretrained files + manifest.json (SHA-256)

In a source checkout there is no data folder unless ``MEDTL_BUNDLE_DIR``
points at one (tests, or trying a build's folder from Python).

The bundled weights are read-only (the app folder may belong to the
administrator). :func:`install_bundled_weights` copies the ones the user's
weight store lacks into it on start, verified against the bundled
manifest's SHA-256, so every part of MedTL finds them where it finds
imported weights.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ENV_BUNDLE_DIR = "MEDTL_BUNDLE_DIR"
BUNDLE_FOLDER = "medtl_data"
EDITION_FILE = "edition.json"


def bundled_data_dir() -> Path | None:
    """The app's data folder: ``$MEDTL_BUNDLE_DIR``, or ``medtl_data`` of a frozen build; None in a checkout."""
    override = os.environ.get(ENV_BUNDLE_DIR)
    if override:
        return Path(override)
    if getattr(sys, "frozen", False):
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / BUNDLE_FOLDER
    return None


def bundled_samples_dir() -> Path | None:
    """``samples/`` of the data folder, if the build shipped codec samples."""
    root = bundled_data_dir()
    return root / "samples" if root is not None and (root / "samples").is_dir() else None


def bundled_weights_dir() -> Path | None:
    """``weights/`` of the data folder, if the build shipped weights (a store with a manifest)."""
    root = bundled_data_dir()
    return root / "weights" if root is not None and (root / "weights" / "manifest.json").is_file() else None


def edition_info() -> dict:
    """The build's ``edition.json`` (edition, version, torch, built); ``{"edition": "source"}`` in a checkout."""
    root = bundled_data_dir()
    path = root / EDITION_FILE if root is not None else None
    if path is None or not path.is_file():
        return {"edition": "source"}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable edition file ({exc})") from exc
    return data if isinstance(data, dict) else {"edition": "unknown"}


def install_bundled_weights(store_dir: str | os.PathLike | None = None) -> list[str]:
    """Copy bundled weights missing from the user's weight store into it; returns the names copied.

    ``store_dir``: the user's store (default: ``$MEDTL_WEIGHTS_DIR`` or the
    per-user data folder). Each file is copied through a temporary name,
    its SHA-256 checked against the bundled manifest, then renamed; the
    store's manifest is rewritten once at the end. Raises
    :class:`~medtl_gui.core.models.weights.WeightsError` (naming the file)
    on a checksum mismatch; a store that already holds a name is left alone.
    """
    from medtl_gui.core.models.weights.manifest import read_manifest, write_manifest
    from medtl_gui.core.models.weights.safe_load import check_sha256
    from medtl_gui.core.models.weights.store import WeightStore

    source = bundled_weights_dir()
    if source is None:
        return []
    store = WeightStore(store_dir)
    present = {entry.name for entry in store.stored_entries()}
    wanted = [entry for entry in read_manifest(source) if entry.name not in present]
    if not wanted:
        return []
    store.directory.mkdir(parents=True, exist_ok=True)
    added = []
    for entry in wanted:
        handle, temp = tempfile.mkstemp(prefix=".bundled.", dir=store.directory)
        os.close(handle)
        try:
            shutil.copyfile(source / entry.file, temp)
            check_sha256(source / entry.file, entry.sha256, _digest(temp))
            file_name = _free_name(store.directory, entry.file)
            os.replace(temp, store.directory / file_name)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        entry.file = file_name
        entry.imported_from = f"bundled with MedTL ({source})"
        added.append(entry)
    write_manifest(store.directory, store.stored_entries() + added)
    return [entry.name for entry in added]


def _digest(path: str) -> str:
    from medtl_gui.core.models.weights.safe_load import sha256_file

    return sha256_file(path)


def _free_name(directory: Path, wanted: str) -> str:
    """``wanted``, or ``stem_N.ext`` when a file of that name is already in the store folder."""
    if not (directory / wanted).exists():
        return wanted
    stem, dot, ext = wanted.rpartition(".")
    counter = 2
    while (directory / f"{stem}_{counter}{dot}{ext}").exists():
        counter += 1
    return f"{stem}_{counter}{dot}{ext}"
