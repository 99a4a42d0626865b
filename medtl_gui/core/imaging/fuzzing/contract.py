"""What a fuzz target checks after a call returns: the result is a well-formed answer.

A target returns ``("read", detail)`` or ``("rejected", reason)``; it raises
:class:`ContractViolation` when the call returned something malformed (a
"silently returned garbage" finding). Every other exception escaping a
target is a finding too (the runner records its type and location).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from medtl_gui.core.imaging.scan import Scan

#: what a target returns: ("read" | "rejected", short detail)
Outcome = tuple[str, str]


class ContractViolation(Exception):
    """A call returned, but its result breaks the documented contract."""


def check_scan(scan: "Scan") -> None:
    """Raise ``ContractViolation`` unless ``scan`` is a consistent :class:`Scan`."""
    pixels = scan.pixels
    if not isinstance(pixels, np.ndarray):
        raise ContractViolation(f"pixels is a {type(pixels).__name__}, not a numpy array")
    if pixels.size == 0:
        raise ContractViolation(f"empty pixel array of shape {pixels.shape}")
    spatial = len(scan.spacing)
    expected_ndim = spatial + (1 if scan.is_color else 0)
    if pixels.ndim != expected_ndim:
        raise ContractViolation(
            f"pixels of shape {pixels.shape} for {spatial} spatial axes (is_color={scan.is_color})"
        )
    if scan.is_color and pixels.shape[-1] != 3:
        raise ContractViolation(f"colour pixels with {pixels.shape[-1]} channels")
    if scan.n_frames > 1 and pixels.shape[0] != scan.n_frames:
        raise ContractViolation(f"n_frames {scan.n_frames} but pixels of shape {pixels.shape}")
    if len(scan.origin) != spatial or len(scan.direction) != spatial * spatial:
        raise ContractViolation(
            f"geometry of mismatched sizes: spacing {scan.spacing}, origin {scan.origin}, direction {scan.direction}"
        )
    if not all(math.isfinite(v) and v > 0 for v in scan.spacing):
        raise ContractViolation(f"spacing {scan.spacing} is not finite and positive")
    if not all(math.isfinite(v) for v in (*scan.origin, *scan.direction)):
        raise ContractViolation(f"non-finite origin {scan.origin} or direction {scan.direction}")
    if scan.window is not None and not all(math.isfinite(v) for v in scan.window):
        raise ContractViolation(f"non-finite window {scan.window}")
