"""The one place MedTL touches the network: ``medtl weights download NAME``.

Only on an explicit user request, only torchvision's published file for a
zoo model, verified against the SHA-256 prefix in its name before it is
imported into the store.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

from medtl_gui.core.models.weights.errors import TamperedWeightsError, WeightsError
from medtl_gui.core.models.weights.manifest import WeightsEntry
from medtl_gui.core.models.weights.store import WeightStore
from medtl_gui.core.models.zoo import MODEL_ZOO, get_model_spec


def weights_file_for(name: str):
    """The torchvision weights file of a model name or weights name (e.g. ``resnet18-f37072fd``)."""
    for spec in MODEL_ZOO.values():
        if spec.weights is not None and name in (spec.weights.name, spec.weights.file_name):
            return spec, spec.weights
    spec = get_model_spec(name)
    if spec.weights is None:
        raise WeightsError(name, f"{name} has no published pretrained weights to download")
    return spec, spec.weights


def download_weights(
    name: str,
    store: WeightStore,
    *,
    url: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    timeout_s: float = 60.0,
) -> WeightsEntry:
    """Fetch torchvision's file for model ``name``, verify it, import it into ``store``.

    ``url`` overrides the published address (a mirror, or a ``file://``
    URL in tests). ``progress(bytes_done, bytes_total)`` is called per chunk.
    """
    spec, weights = weights_file_for(name)
    existing = store.find(weights.name)
    if existing is not None:
        store.verify(existing)
        return existing
    address = url or weights.url
    store.directory.mkdir(parents=True, exist_ok=True)
    download_dir = Path(tempfile.mkdtemp(prefix=".download.", dir=store.directory))
    target = download_dir / weights.file_name
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(address, timeout=timeout_s) as response, open(target, "wb") as out:
            total = response.headers.get("Content-Length") if hasattr(response, "headers") else None
            total_bytes = int(total) if total else None
            done = 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total_bytes)
        actual = digest.hexdigest()
        if not actual.startswith(weights.sha256_prefix):
            raise TamperedWeightsError(address, weights.sha256_prefix, actual[:8])
        return store.import_file(target, architecture=spec.name)
    except OSError as exc:
        raise WeightsError(address, f"download failed ({exc})") from exc
    finally:
        target.unlink(missing_ok=True)
        try:
            os.rmdir(download_dir)
        except OSError:
            pass
