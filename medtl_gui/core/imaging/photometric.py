"""Photometric fixes applied once, after the modality LUT.

- MONOCHROME1 (higher value = darker, e.g. many CR/DX radiographs) is
  mirrored within the modality value range so that higher always means
  brighter, and the file's window is mirrored with it.
- PALETTE COLOR indices become RGB through the file's palette.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from medtl_gui.core.imaging.modality_lut import smallest_int_dtype

if TYPE_CHECKING:
    from pydicom.dataset import Dataset


def invert_monochrome1(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Mirror ``values`` inside [low, high]: ``low + high - value``.

    ``low``/``high`` is the range of modality values the stored bits can
    hold (widened to the data's own range when the data exceed it), so the
    result keeps the same range. Integers stay integers.
    """
    if values.size:
        low = min(low, float(values.min()))
        high = max(high, float(values.max()))
    total = low + high
    if values.dtype.kind in "iub" and float(total).is_integer():
        dtype = smallest_int_dtype(low, high)
        if values.dtype.kind == "u" and low >= 0 and np.iinfo(values.dtype).max >= high:
            dtype = values.dtype  # e.g. uint16 stays uint16
        out = np.asarray(int(total), dtype=np.int64) - values.astype(np.int64)
        return out.astype(dtype)
    return (np.float32(total) - values.astype(np.float32)).astype(np.float32)


def mirror_window(window: tuple[float, float], low: float, high: float) -> tuple[float, float]:
    """The window (center, width) that shows inverted values as the original window did."""
    center, width = window
    return (low + high - center, width)


def apply_palette(indices: np.ndarray, ds: Dataset) -> np.ndarray:
    """RGB uint8 image (trailing axis 3) from PALETTE COLOR indices.

    16-bit palettes are reduced to 8 bits (high byte); palettes whose 16-bit
    entries only hold 8-bit values are kept as they are.
    """
    from pydicom.pixels import apply_color_lut

    rgb = apply_color_lut(indices, ds)
    if rgb.dtype != np.uint8:
        if rgb.size and int(rgb.max()) > 255:
            rgb = (rgb >> 8).astype(np.uint8)
        else:
            rgb = rgb.astype(np.uint8)
    return rgb
