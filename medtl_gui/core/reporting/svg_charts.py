"""Small, dependency-free SVG figures for reports: line charts, a confusion matrix, a reliability diagram.

matplotlib is not a dependency of MedTL (and pyqtgraph's exporters need
Qt, which ``core`` never imports), so the report's figures are drawn here
as plain SVG text: crisp at any zoom, a few kilobytes each, embedded into
the HTML as ``data:`` URIs so the report stays one self-contained file.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from html import escape

import numpy as np

#: colour-blind-safe series colours (Okabe-Ito)
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
FONT = "Helvetica, Arial, sans-serif"
AXIS = "#4a5568"
GRID = "#e2e8f0"


def svg_data_uri(svg: str) -> str:
    """``svg`` as a ``data:image/svg+xml;base64,...`` URI (for ``<img src=...>``)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _tick_label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 0.01:
        return f"{value:.0e}"
    return f"{value:.3g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0, 1.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=10 * magnitude)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 0.5 and len(ticks) < 50:
        ticks.append(round(value, 10))
        value += step
    return ticks


class _Frame:
    """Maps data coordinates into the plotting area of a ``width`` x ``height`` SVG."""

    def __init__(self, width: int, height: int, x_range: tuple[float, float], y_range: tuple[float, float],
                 margins: tuple[int, int, int, int] = (16, 20, 46, 56)):
        self.width, self.height = width, height
        top, right, bottom, left = margins
        self.left, self.top = left, top
        self.plot_w, self.plot_h = width - left - right, height - top - bottom
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range

    def x(self, value: float) -> float:
        return self.left + (value - self.x0) / ((self.x1 - self.x0) or 1) * self.plot_w

    def y(self, value: float) -> float:
        return self.top + self.plot_h - (value - self.y0) / ((self.y1 - self.y0) or 1) * self.plot_h


def _open(width: int, height: int, title: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="11" role="img">',
            f"<title>{escape(title)}</title>",
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>']


def _axes(frame: _Frame, x_ticks: Sequence[float], y_ticks: Sequence[float], x_label: str, y_label: str) -> list[str]:
    parts = []
    for t in y_ticks:
        y = frame.y(t)
        parts.append(f'<line x1="{_number(frame.left)}" y1="{_number(y)}" x2="{_number(frame.left + frame.plot_w)}" '
                     f'y2="{_number(y)}" stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text x="{_number(frame.left - 6)}" y="{_number(y + 3.5)}" text-anchor="end" '
                     f'fill="{AXIS}">{_tick_label(t)}</text>')
    for t in x_ticks:
        x = frame.x(t)
        parts.append(f'<line x1="{_number(x)}" y1="{_number(frame.top)}" x2="{_number(x)}" '
                     f'y2="{_number(frame.top + frame.plot_h)}" stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text x="{_number(x)}" y="{_number(frame.top + frame.plot_h + 15)}" text-anchor="middle" '
                     f'fill="{AXIS}">{_tick_label(t)}</text>')
    parts.append(f'<rect x="{frame.left}" y="{frame.top}" width="{frame.plot_w}" height="{frame.plot_h}" '
                 f'fill="none" stroke="{AXIS}" stroke-width="1"/>')
    parts.append(f'<text x="{_number(frame.left + frame.plot_w / 2)}" y="{frame.height - 8}" text-anchor="middle" '
                 f'fill="#1a202c" font-size="12">{escape(x_label)}</text>')
    cy = frame.top + frame.plot_h / 2
    parts.append(f'<text x="14" y="{_number(cy)}" text-anchor="middle" fill="#1a202c" font-size="12" '
                 f'transform="rotate(-90 14 {_number(cy)})">{escape(y_label)}</text>')
    return parts


def _legend(frame: _Frame, names: Sequence[str], colours: Sequence[str], dashed: Sequence[bool] = (),
            corner: str = "bottom-right") -> list[str]:
    if not names:
        return []
    width = 22 + 6.5 * max(len(n) for n in names)
    height = 6 + 16 * len(names)
    x = frame.left + frame.plot_w - width - 8 if corner.endswith("right") else frame.left + 8
    y = frame.top + frame.plot_h - height - 8 if corner.startswith("bottom") else frame.top + 8
    parts = [f'<rect x="{_number(x)}" y="{_number(y)}" width="{_number(width)}" height="{height}" rx="3" '
             f'fill="#ffffff" fill-opacity="0.9" stroke="{GRID}"/>']
    for i, (name, colour) in enumerate(zip(names, colours)):
        row = y + 13 + 16 * i
        dash = ' stroke-dasharray="4 3"' if i < len(dashed) and dashed[i] else ""
        parts.append(f'<line x1="{_number(x + 6)}" y1="{_number(row - 4)}" x2="{_number(x + 18)}" '
                     f'y2="{_number(row - 4)}" stroke="{colour}" stroke-width="2"{dash}/>')
        parts.append(f'<text x="{_number(x + 22)}" y="{_number(row)}" fill="#1a202c">{escape(name)}</text>')
    return parts


def _polyline(frame: _Frame, xs: np.ndarray, ys: np.ndarray, colour: str, dashed: bool = False,
              step: bool = False) -> str:
    points = []
    previous_y = None
    for x, y in zip(np.asarray(xs, float), np.asarray(ys, float)):
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        if step and previous_y is not None:
            points.append(f"{_number(frame.x(x))},{_number(frame.y(previous_y))}")
        points.append(f"{_number(frame.x(x))},{_number(frame.y(y))}")
        previous_y = y
    dash = ' stroke-dasharray="5 4"' if dashed else ""
    return (f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" stroke-width="2" '
            f'stroke-linejoin="round"{dash}/>')


def line_chart(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], *, title: str, x_label: str,
               y_label: str, x_range: tuple[float, float] | None = None, y_range: tuple[float, float] | None = None,
               diagonal: bool = False, step: bool = False, dashed: Sequence[bool] = (),
               legend_corner: str = "bottom-right", width: int = 420, height: int = 300) -> str:
    """An SVG line chart of ``(name, xs, ys)`` series (``diagonal``: a grey chance line)."""
    all_x = np.concatenate([np.asarray(x, float) for _, x, _ in series]) if series else np.zeros(1)
    all_y = np.concatenate([np.asarray(y, float) for _, _, y in series]) if series else np.zeros(1)
    finite_y = all_y[np.isfinite(all_y)] if np.isfinite(all_y).any() else np.zeros(1)
    x_range = x_range or (float(np.nanmin(all_x)), float(np.nanmax(all_x)))
    if y_range is None:
        low, high = float(finite_y.min()), float(finite_y.max())
        pad = (high - low) * 0.08 or 0.1
        y_range = (low - pad if low < 0 or low - pad > 0 else 0.0, high + pad)
    x_ticks, y_ticks = nice_ticks(*x_range), nice_ticks(*y_range)
    x_range = (min(x_range[0], x_ticks[0]), max(x_range[1], x_ticks[-1]))
    y_range = (min(y_range[0], y_ticks[0]), max(y_range[1], y_ticks[-1]))
    frame = _Frame(width, height, x_range, y_range)
    parts = _open(width, height, title) + _axes(frame, x_ticks, y_ticks, x_label, y_label)
    if diagonal:
        parts.append(f'<line x1="{_number(frame.x(0))}" y1="{_number(frame.y(0))}" x2="{_number(frame.x(1))}" '
                     f'y2="{_number(frame.y(1))}" stroke="#a0aec0" stroke-width="1" stroke-dasharray="4 4"/>')
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(series))]
    for i, ((_, xs, ys), colour) in enumerate(zip(series, colours)):
        parts.append(_polyline(frame, np.asarray(xs), np.asarray(ys), colour, i < len(dashed) and dashed[i], step))
    parts += _legend(frame, [name for name, _, _ in series], colours, dashed, legend_corner)
    parts.append("</svg>")
    return "\n".join(parts)


def reliability_diagram(confidence: np.ndarray, accuracy: np.ndarray, counts: np.ndarray, bin_edges: np.ndarray,
                        *, title: str = "Reliability diagram", width: int = 420, height: int = 300) -> str:
    """Bars of accuracy per confidence bin against the diagonal of perfect calibration."""
    frame = _Frame(width, height, (0.0, 1.0), (0.0, 1.0))
    ticks = nice_ticks(0.0, 1.0)
    parts = _open(width, height, title) + _axes(frame, ticks, ticks, "predicted confidence", "observed accuracy")
    for low, high, acc, conf, n in zip(bin_edges[:-1], bin_edges[1:], accuracy, confidence, counts):
        if n == 0 or not math.isfinite(acc):
            continue
        x, w = frame.x(low) + 1.5, frame.x(high) - frame.x(low) - 3
        top = frame.y(acc)
        parts.append(f'<rect x="{_number(x)}" y="{_number(top)}" width="{_number(w)}" '
                     f'height="{_number(frame.y(0) - top)}" fill="{PALETTE[0]}" fill-opacity="0.75">'
                     f"<title>{n} images, confidence {conf:.2f}, accuracy {acc:.2f}</title></rect>")
        gap_top = frame.y(max(acc, conf))
        gap_h = abs(frame.y(acc) - frame.y(conf))
        if gap_h > 0.5:
            parts.append(f'<rect x="{_number(x)}" y="{_number(gap_top)}" width="{_number(w)}" '
                         f'height="{_number(gap_h)}" fill="{PALETTE[1]}" fill-opacity="0.25" stroke="{PALETTE[1]}" '
                         f'stroke-width="0.8"/>')
    parts.append(f'<line x1="{_number(frame.x(0))}" y1="{_number(frame.y(0))}" x2="{_number(frame.x(1))}" '
                 f'y2="{_number(frame.y(1))}" stroke="#4a5568" stroke-width="1" stroke-dasharray="4 4"/>')
    parts += _legend(frame, ["accuracy per bin", "gap to calibration"], [PALETTE[0], PALETTE[1]], (), "top-left")
    parts.append("</svg>")
    return "\n".join(parts)


def confusion_matrix_chart(matrix: Sequence[Sequence[int]], class_names: Sequence[str], *,
                           title: str = "Confusion matrix", cell: int = 0) -> str:
    """A heat-map of counts (rows: true class, columns: predicted), each cell with its count and row share."""
    counts = np.asarray(matrix, dtype=float)
    n = len(class_names)
    cell = cell or max(48, min(96, 360 // max(n, 1)))
    label_w = min(140, 18 + 7 * max(len(c) for c in class_names))
    width, height = 40 + label_w + n * cell + 12, 56 + label_w * 0 + n * cell + 46
    left, top = 30 + label_w, 36
    parts = _open(width, height, title)
    parts.append(f'<text x="{_number(left + n * cell / 2)}" y="16" text-anchor="middle" fill="#1a202c" '
                 'font-size="12">predicted class</text>')
    parts.append(f'<text x="12" y="{_number(top + n * cell / 2)}" text-anchor="middle" fill="#1a202c" font-size="12" '
                 f'transform="rotate(-90 12 {_number(top + n * cell / 2)})">true class</text>')
    row_totals = counts.sum(axis=1)
    for i in range(n):
        for j in range(n):
            share = counts[i, j] / row_totals[i] if row_totals[i] else 0.0
            base = (0, 114, 178) if i == j else (213, 94, 0)
            colour = "#" + "".join(f"{int(255 - (255 - c) * (0.12 + 0.78 * share)):02x}" for c in base)
            x, y = left + j * cell, top + i * cell
            ink = "#ffffff" if share > 0.55 else "#1a202c"
            parts.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{colour}" stroke="#ffffff" '
                         'stroke-width="2"/>')
            parts.append(f'<text x="{_number(x + cell / 2)}" y="{_number(y + cell / 2)}" text-anchor="middle" '
                         f'fill="{ink}" font-size="15" font-weight="bold">{int(counts[i, j])}</text>')
            parts.append(f'<text x="{_number(x + cell / 2)}" y="{_number(y + cell / 2 + 15)}" text-anchor="middle" '
                         f'fill="{ink}" font-size="10">{share:.0%}</text>')
        parts.append(f'<text x="{left - 6}" y="{_number(top + i * cell + cell / 2 + 4)}" text-anchor="end" '
                     f'fill="#1a202c">{escape(class_names[i])}</text>')
    for j in range(n):
        parts.append(f'<text x="{_number(left + j * cell + cell / 2)}" y="{top + n * cell + 16}" '
                     f'text-anchor="middle" fill="#1a202c">{escape(class_names[j])}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def bar_chart(names: Sequence[str], values: Sequence[float | None], *, title: str, y_label: str,
              width: int = 420, height: int = 260) -> str:
    """Vertical bars of ``values`` in [0, 1] (e.g. Dice per case); missing values drawn as gaps."""
    frame = _Frame(width, height, (0.0, float(max(len(names), 1))), (0.0, 1.0), margins=(16, 16, 46, 56))
    parts = _open(width, height, title) + _axes(frame, [], nice_ticks(0.0, 1.0), "", y_label)
    slot = frame.plot_w / max(len(names), 1)
    for i, (name, value) in enumerate(zip(names, values)):
        x = frame.left + i * slot + slot * 0.15
        if value is not None and math.isfinite(value):
            parts.append(f'<rect x="{_number(x)}" y="{_number(frame.y(value))}" width="{_number(slot * 0.7)}" '
                         f'height="{_number(frame.y(0) - frame.y(value))}" fill="{PALETTE[0]}"/>')
        if len(names) <= 24:
            parts.append(f'<text x="{_number(x + slot * 0.35)}" y="{_number(frame.y(0) + 14)}" text-anchor="middle" '
                         f'fill="{AXIS}" font-size="9">{escape(str(name)[:10])}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
