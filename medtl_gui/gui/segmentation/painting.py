"""Mask painting operations on 2D uint8 label arrays (no Qt; fast enough for 512x512 per mouse event).

Coordinates are image coordinates as the viewer maps them: ``x`` runs along
columns and ``y`` along rows, pixel ``(row, col)`` covers ``[col, col+1) x
[row, row+1)`` so its centre is ``(col + 0.5, row + 0.5)``. Every operation
changes the mask in place and returns the changed pixels' bounding box
``Box(row0, row1, col0, col1)`` (end-exclusive) or None when nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

#: largest brush radius the editor offers (pixels)
MAX_BRUSH_RADIUS = 200


@dataclass(frozen=True)
class Box:
    """A rectangle of pixels, rows ``row0:row1`` and columns ``col0:col1`` (end-exclusive)."""

    row0: int
    row1: int
    col0: int
    col1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """Index a 2D array with this box: ``array[box.slices]``."""
        return slice(self.row0, self.row1), slice(self.col0, self.col1)

    def union(self, other: "Box | None") -> "Box":
        """The smallest box holding both."""
        if other is None:
            return self
        return Box(min(self.row0, other.row0), max(self.row1, other.row1),
                   min(self.col0, other.col0), max(self.col1, other.col1))


@lru_cache(maxsize=64)
def disk(radius: int) -> np.ndarray:
    """Boolean disk footprint of a brush: pixels within ``radius`` of the centre pixel (radius 0: one pixel)."""
    radius = int(radius)
    if not 0 <= radius <= MAX_BRUSH_RADIUS:
        raise ValueError(f"brush radius must be 0..{MAX_BRUSH_RADIUS}, not {radius}")
    r = np.arange(-radius, radius + 1)
    footprint = (r[:, None] ** 2 + r[None, :] ** 2) <= radius * radius + radius  # rounder small disks
    footprint.flags.writeable = False
    return footprint


def _check_mask(mask: np.ndarray) -> None:
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValueError(f"a label mask must be a 2D uint8 array, got {mask.dtype} {mask.shape}")


def stamp(mask: np.ndarray, row: int, col: int, radius: int, value: int) -> Box | None:
    """Paint one brush dab centred on pixel ``(row, col)``; return the clipped box it covers."""
    _check_mask(mask)
    footprint = disk(radius)
    r0, c0 = row - radius, col - radius
    r1, c1 = r0 + footprint.shape[0], c0 + footprint.shape[1]
    rows, cols = mask.shape
    cr0, cr1, cc0, cc1 = max(r0, 0), min(r1, rows), max(c0, 0), min(c1, cols)
    if cr0 >= cr1 or cc0 >= cc1:
        return None
    part = footprint[cr0 - r0: cr1 - r0, cc0 - c0: cc1 - c0]
    mask[cr0:cr1, cc0:cc1][part] = value
    return Box(cr0, cr1, cc0, cc1)


def paint_line(
    mask: np.ndarray, start: tuple[float, float], end: tuple[float, float], radius: int, value: int
) -> Box | None:
    """Paint a brush stroke segment from ``start`` to ``end`` ((x, y) image coordinates).

    Dabs are placed at most half a radius apart (at least every pixel), so a
    fast mouse movement still leaves a continuous stroke.
    """
    x0, y0 = start
    x1, y1 = end
    length = float(np.hypot(x1 - x0, y1 - y0))
    steps = max(1, int(np.ceil(length / max(1.0, radius / 2.0))))
    box: Box | None = None
    last: tuple[int, int] | None = None
    for t in np.linspace(0.0, 1.0, steps + 1):
        col = int(np.floor(x0 + (x1 - x0) * t))
        row = int(np.floor(y0 + (y1 - y0) * t))
        if (row, col) == last:
            continue
        last = (row, col)
        dab = stamp(mask, row, col, radius, value)
        if dab is not None:
            box = dab.union(box)
    return box


def flood_fill(
    mask: np.ndarray,
    seed: tuple[float, float],
    value: int,
    *,
    image: np.ndarray | None = None,
    tolerance: float | None = None,
) -> Box | None:
    """Fill the 4-connected region around ``seed`` ((x, y)) that has the seed's mask value.

    With ``image`` and ``tolerance``, the region is further limited to pixels
    whose image value is within ``tolerance`` of the seed pixel's value
    (region growing on intensity, e.g. to fill a bright lesion). Returns None
    when the seed is outside the image or the region already has ``value``.
    """
    _check_mask(mask)
    col, row = int(np.floor(seed[0])), int(np.floor(seed[1]))
    rows, cols = mask.shape
    if not (0 <= row < rows and 0 <= col < cols):
        return None
    seed_value = int(mask[row, col])
    if seed_value == value:
        return None
    candidates = mask == seed_value
    if image is not None and tolerance is not None and tolerance > 0:
        grey = np.asarray(image)
        if grey.ndim == 3:  # colour: compare the mean of the channels
            grey = grey.mean(axis=2)
        if grey.shape != mask.shape:
            raise ValueError(f"image shape {grey.shape} does not match the mask's {mask.shape}")
        grey = grey.astype(np.float64, copy=False)
        candidates &= np.abs(grey - float(grey[row, col])) <= float(tolerance)
    region = connected_region(candidates, row, col)
    mask[region] = value
    hit_rows, hit_cols = np.nonzero(region)
    return Box(int(hit_rows.min()), int(hit_rows.max()) + 1, int(hit_cols.min()), int(hit_cols.max()) + 1)


def connected_region(candidates: np.ndarray, row: int, col: int) -> np.ndarray:
    """Boolean array of the 4-connected component of ``candidates`` holding ``(row, col)``.

    Uses SimpleITK's connected-threshold filter (C++; a few ms at 512x512).
    """
    import SimpleITK as sitk

    source = sitk.GetImageFromArray(candidates.astype(np.uint8))
    grown = sitk.ConnectedThreshold(source, seedList=[(int(col), int(row))], lower=1, upper=1, replaceValue=1)
    return sitk.GetArrayViewFromImage(grown).astype(bool)


def fill_polygon(mask: np.ndarray, points: Sequence[tuple[float, float]], value: int) -> Box | None:
    """Fill the inside of a closed polygon (or lasso path) of (x, y) points.

    A pixel is inside when its centre is; the outline pixels are included so
    thin shapes still paint. Fewer than 3 points fill nothing.
    """
    _check_mask(mask)
    if len(points) < 3:
        return None
    from PIL import Image, ImageDraw

    rows, cols = mask.shape
    xs = np.array([p[0] for p in points], dtype=np.float64)
    ys = np.array([p[1] for p in points], dtype=np.float64)
    col0 = int(max(np.floor(xs.min()) - 1, 0))
    row0 = int(max(np.floor(ys.min()) - 1, 0))
    col1 = int(min(np.ceil(xs.max()) + 1, cols))
    row1 = int(min(np.ceil(ys.max()) + 1, rows))
    if col0 >= col1 or row0 >= row1:
        return None
    canvas = Image.new("L", (col1 - col0, row1 - row0), 0)
    # PIL puts integer coordinates on pixel centres: shift by half a pixel
    shifted = [(float(x) - 0.5 - col0, float(y) - 0.5 - row0) for x, y in points]
    ImageDraw.Draw(canvas).polygon(shifted, fill=1, outline=1)
    inside = np.asarray(canvas, dtype=bool)
    if not inside.any():
        return None
    mask[row0:row1, col0:col1][inside] = value
    hit_rows, hit_cols = np.nonzero(inside)
    return Box(row0 + int(hit_rows.min()), row0 + int(hit_rows.max()) + 1,
               col0 + int(hit_cols.min()), col0 + int(hit_cols.max()) + 1)


def changed_box(before: np.ndarray, after: np.ndarray) -> Box | None:
    """Bounding box of the pixels that differ between two masks of the same shape (None if equal)."""
    diff = before != after
    row_hits = np.flatnonzero(diff.any(axis=1))
    if row_hits.size == 0:
        return None
    col_hits = np.flatnonzero(diff.any(axis=0))
    return Box(int(row_hits[0]), int(row_hits[-1]) + 1, int(col_hits[0]), int(col_hits[-1]) + 1)


def label_outline(mask: np.ndarray) -> np.ndarray:
    """The mask with only the border pixels of each labelled region kept (4-neighbourhood)."""
    outline = np.zeros_like(mask)
    inner = mask.copy()
    # a pixel is interior when all four neighbours carry the same label (image borders count as edges)
    same = np.zeros(mask.shape, dtype=bool)
    same[1:-1, 1:-1] = (
        (mask[1:-1, 1:-1] == mask[:-2, 1:-1]) & (mask[1:-1, 1:-1] == mask[2:, 1:-1])
        & (mask[1:-1, 1:-1] == mask[1:-1, :-2]) & (mask[1:-1, 1:-1] == mask[1:-1, 2:])
    )
    edge = (inner != 0) & ~same
    outline[edge] = mask[edge]
    return outline
