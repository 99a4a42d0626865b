"""Colour heat-maps and blend them over images (numpy only; shared by the CLI's PNGs and the viewer).

The overlay's opacity is weighted by the heat itself (alpha = opacity x
heat), so cold regions leave the anatomy visible and only what drives the
decision is tinted.
"""

from __future__ import annotations

import numpy as np

#: colour maps as anchor colours (RGB 0-255) spread evenly over [0, 1]
COLORMAPS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "jet": ((0, 0, 128), (0, 0, 255), (0, 255, 255), (255, 255, 0), (255, 0, 0), (128, 0, 0)),
    "inferno": ((0, 0, 4), (87, 16, 110), (188, 55, 84), (249, 142, 9), (252, 255, 164)),
    "hot": ((0, 0, 0), (230, 0, 0), (255, 210, 0), (255, 255, 255)),
    "viridis": ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)),
}


def colormap_table(name: str, size: int = 256) -> np.ndarray:
    """A (size, 3) uint8 lookup table of colour map ``name``."""
    if name not in COLORMAPS:
        raise ValueError(f"unknown colour map {name!r}; expected one of {', '.join(COLORMAPS)}")
    anchors = np.asarray(COLORMAPS[name], dtype=np.float64)
    positions = np.linspace(0.0, 1.0, len(anchors))
    steps = np.linspace(0.0, 1.0, size)
    table = np.stack([np.interp(steps, positions, anchors[:, c]) for c in range(3)], axis=1)
    return np.round(table).astype(np.uint8)


def _check_heatmap(heatmap: np.ndarray) -> np.ndarray:
    values = np.asarray(heatmap, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"a heat-map must be 2-D (height, width), got shape {values.shape}")
    return np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0)


def colorize(heatmap: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """(H, W, 3) uint8 colours of a [0, 1] heat-map."""
    values = _check_heatmap(heatmap)
    return colormap_table(colormap)[np.round(values * 255).astype(np.intp)]


def heatmap_rgba(heatmap: np.ndarray, colormap: str = "jet", opacity: float = 0.5) -> np.ndarray:
    """(H, W, 4) uint8 overlay: the colour map, alpha = ``opacity`` x heat."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    values = _check_heatmap(heatmap)
    alpha = np.round(values * opacity * 255).astype(np.uint8)
    return np.concatenate([colorize(values, colormap), alpha[..., None]], axis=2)


def blend_overlay(image_unit: np.ndarray, heatmap: np.ndarray, opacity: float = 0.5,
                  colormap: str = "jet") -> np.ndarray:
    """(H, W, 3) uint8: a grey (H, W) or RGB (H, W, 3) image in [0, 1] with the heat-map blended over it."""
    base = np.asarray(image_unit, dtype=np.float32)
    if base.ndim == 2:
        base = np.repeat(base[..., None], 3, axis=2)
    values = _check_heatmap(heatmap)
    if base.shape[:2] != values.shape:
        raise ValueError(f"image {base.shape[:2]} and heat-map {values.shape} differ in size")
    rgba = heatmap_rgba(values, colormap, opacity).astype(np.float32) / 255.0
    alpha = rgba[..., 3:4]
    out = np.clip(base, 0.0, 1.0) * (1.0 - alpha) + rgba[..., :3] * alpha
    return np.round(out * 255).astype(np.uint8)
