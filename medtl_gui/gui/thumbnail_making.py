"""Thumbnails of project images, made off the GUI thread and cached under ``<project>/cache/thumbnails`` (no Qt).

A thumbnail is the scan's middle slice, shown with its default window
(CT soft tissue, the file's own window, or percentiles), scaled to fit
``THUMBNAIL_SIZE`` pixels, as an 8-bit PNG named by image id and content
hash, so a changed file never shows a stale picture. The cache folder may
be deleted at any time.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

#: longest side of a thumbnail, pixels
THUMBNAIL_SIZE = 128
#: where thumbnails live inside a project folder
THUMBNAIL_DIR = Path("cache") / "thumbnails"


def thumbnail_path(project_folder: Path, image_id: int, sha256: str, size: int = THUMBNAIL_SIZE) -> Path:
    """The cache file of one image's thumbnail."""
    return Path(project_folder) / THUMBNAIL_DIR / f"{int(image_id)}_{sha256[:16] or 'nohash'}_{size}.png"


def render_thumbnail(scan: Any, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """A uint8 (h, w) grey or (h, w, 3) RGB picture of a scan, at most ``size`` pixels on its longest side."""
    from PIL import Image

    from medtl_gui.core.imaging import apply_window, default_window

    pixels = scan.pixels
    if scan.n_frames > 1:
        pixels = pixels[scan.n_frames // 2]
    if scan.is_color:
        shown = pixels if pixels.dtype == np.uint8 else np.clip(pixels, 0, 255).astype(np.uint8)
    else:
        center, width = default_window(scan)
        shown = apply_window(pixels, center, max(width, 1.0))
    picture = Image.fromarray(np.ascontiguousarray(shown))
    picture.thumbnail((size, size), Image.Resampling.BILINEAR)
    return np.asarray(picture)


def load_or_make_thumbnail(project: Any, image_id: int, sha256: str, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """The cached thumbnail, or a new one (read, rendered and written to the cache atomically).

    Raises the reader's ``ScanReadError`` for an unreadable image. A cache
    that cannot be written (read-only project) is not an error.
    """
    from PIL import Image

    path = thumbnail_path(project.folder, image_id, sha256, size)
    if path.is_file():
        try:
            with Image.open(path) as cached:
                return np.asarray(cached.convert("RGB" if cached.mode in ("RGB", "RGBA", "P") else "L"))
        except OSError:
            pass  # a damaged cache file: make it again
    picture = render_thumbnail(project.read_image(image_id), size)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
        Image.fromarray(picture).save(temp, format="PNG")
        os.replace(temp, path)
    except OSError:
        pass
    return picture
