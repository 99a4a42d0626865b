"""Input contrast: contrast-limited adaptive histogram equalisation (CLAHE, Zuiderveld 1994) of [0, 1] images.

The image is cut into ``tiles`` x ``tiles`` regions; each region's
histogram (``bins`` levels) is clipped at ``clip_limit`` times its mean
bin count, the clipped excess is spread evenly over all bins, and the
cumulative histogram becomes that region's grey-level mapping. Each pixel
is mapped by bilinear interpolation between the mappings of the four
nearest region centres, so there are no block edges. These are OpenCV's
``createCLAHE(clipLimit, tileGridSize)`` semantics (default clip 2.0,
8 x 8 tiles), written in numpy: the transform is a few lines and none of
the project's dependencies offers it (SimpleITK's adaptive equalisation
has different parameters and no clip limit).

Fundus photographs, chest radiographs and other images with uneven
illumination are where it helps: thin structures in dark regions get the
same local contrast as those in bright ones.
"""

from __future__ import annotations

import numpy as np

CONTRAST_METHODS = ("none", "clahe")
#: which channel of a colour image a network sees ("all": every channel, or their luminance for 1 input);
#: the green channel of fundus photographs carries most of the vessel contrast
COLOUR_CHANNELS = ("all", "red", "green", "blue")


def clahe(image: np.ndarray, clip_limit: float = 2.0, tiles: int = 8, bins: int = 256) -> np.ndarray:
    """CLAHE of one 2-D image with values in [0, 1]; returns float32 in [0, 1] of the same shape."""
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.ndim != 2:
        raise ValueError(f"CLAHE works on 2-D images, got shape {pixels.shape}")
    if clip_limit <= 0 or tiles < 1 or bins < 2:
        raise ValueError("CLAHE needs clip_limit > 0, tiles >= 1 and bins >= 2")
    height, width = pixels.shape
    levels = np.clip(np.rint(np.nan_to_num(pixels) * (bins - 1)), 0, bins - 1).astype(np.int64)
    tile_h, tile_w = -(-height // tiles), -(-width // tiles)
    # pad (mirrored) to whole tiles so that every region has the same area
    padded = np.pad(levels, ((0, tile_h * tiles - height), (0, tile_w * tiles - width)), mode="symmetric")
    region = padded.reshape(tiles, tile_h, tiles, tile_w).transpose(0, 2, 1, 3).reshape(tiles * tiles, -1)
    offsets = np.arange(tiles * tiles, dtype=np.int64)[:, None] * bins
    histograms = np.bincount((region + offsets).ravel(), minlength=tiles * tiles * bins)
    histograms = histograms.reshape(tiles * tiles, bins).astype(np.float64)
    area = float(tile_h * tile_w)
    limit = max(clip_limit * area / bins, 1.0)
    excess = np.clip(histograms - limit, 0.0, None).sum(axis=1, keepdims=True)
    histograms = np.minimum(histograms, limit) + excess / bins
    mappings = np.cumsum(histograms, axis=1) / area  # (regions, bins), in [0, 1]
    mappings = mappings.reshape(tiles, tiles, bins).astype(np.float32)
    # bilinear interpolation between the four nearest region centres
    fy = (np.arange(height, dtype=np.float32) + 0.5) / tile_h - 0.5
    fx = (np.arange(width, dtype=np.float32) + 0.5) / tile_w - 0.5
    y0 = np.clip(np.floor(fy).astype(np.int64), 0, tiles - 1)
    x0 = np.clip(np.floor(fx).astype(np.int64), 0, tiles - 1)
    y1, x1 = np.minimum(y0 + 1, tiles - 1), np.minimum(x0 + 1, tiles - 1)
    wy = np.clip(fy - y0, 0.0, 1.0)[:, None]
    wx = np.clip(fx - x0, 0.0, 1.0)[None, :]
    top = mappings[y0[:, None], x0[None, :], levels] * (1 - wx) + mappings[y0[:, None], x1[None, :], levels] * wx
    bottom = mappings[y1[:, None], x0[None, :], levels] * (1 - wx) + mappings[y1[:, None], x1[None, :], levels] * wx
    return np.clip(top * (1 - wy) + bottom * wy, 0.0, 1.0).astype(np.float32)


def enhance_contrast(channels: np.ndarray, method: str) -> np.ndarray:
    """Apply ``method`` (one of :data:`CONTRAST_METHODS`) to each channel of (C, H, W) [0, 1] pixels."""
    if method not in CONTRAST_METHODS:
        raise ValueError(f"unknown contrast method {method!r}; expected one of {', '.join(CONTRAST_METHODS)}")
    if method == "none":
        return channels
    return np.stack([clahe(channel) for channel in channels])
