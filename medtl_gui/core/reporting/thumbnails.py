"""Small PNG thumbnails of scans, as ``data:`` URIs for a self-contained report."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np


def display_plane(loaded: Any) -> np.ndarray:
    """A uint8 2D (or RGB) plane of a loaded image: the middle slice of a volume, grey values stretched.

    ``loaded`` is a pixel array or an object with ``.pixels`` (a ``Scan``).
    Grey values map to 0..255 between the 1st and 99th percentiles.
    """
    pixels = np.asarray(getattr(loaded, "pixels", loaded))
    colour = bool(getattr(loaded, "is_color", False)) or (pixels.ndim == 3 and pixels.shape[-1] == 3)
    if pixels.ndim == (4 if colour else 3):
        pixels = pixels[pixels.shape[0] // 2]
    if pixels.dtype == np.uint8:
        return pixels
    values = pixels.astype(np.float64)
    finite = values[np.isfinite(values)]
    low, high = (np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0))
    scaled = (values - low) / ((high - low) or 1.0)
    return (np.clip(np.nan_to_num(scaled), 0, 1) * 255).round().astype(np.uint8)


def png_data_uri(plane: np.ndarray, size: int = 112) -> str:
    """A PNG ``data:`` URI of a uint8 plane, resized so that its longer side is ``size`` px."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(plane))
    scale = size / max(image.size)
    resample = Image.Resampling.NEAREST if scale >= 2 else Image.Resampling.LANCZOS
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), resample)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
