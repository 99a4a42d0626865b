"""Stored pixel values -> modality values (Hounsfield units for CT, Gy for RT Dose).

The one place where MedTL applies the DICOM Modality LUT stage
(PS3.3 C.11.1): Rescale Slope/Intercept (top level or in the Pixel Value
Transformation functional group of enhanced multi-frame files, per frame
when frames differ), a Modality LUT Sequence, or the RT Dose
Dose Grid Scaling.

Output dtype: the stored integer dtype when the transform is the identity;
the smallest of int16/int32 that holds the result when the slope is 1 and
the intercept an integer (CT: ``uint16 - 1024`` -> int16); float32 otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pydicom.dataset import Dataset


@dataclass(frozen=True, eq=False)
class ModalityTransform:
    """How one frame's stored values become modality values.

    ``slope``/``intercept`` implement ``value = slope * stored + intercept``;
    ``lut`` (the decoded Modality LUT Sequence, whose first entry maps the
    stored value ``lut_first``) replaces them when present. ``source`` says
    which DICOM attributes it came from.
    """

    slope: float = 1.0
    intercept: float = 0.0
    source: str = "none"
    rescale_type: str | None = None
    lut: np.ndarray | None = None
    lut_first: int = 0

    @property
    def is_identity(self) -> bool:
        return self.lut is None and self.slope == 1.0 and self.intercept == 0.0

    @property
    def keeps_integers(self) -> bool:
        """True when integer stored values map to integers (slope 1, integer intercept)."""
        return self.lut is None and self.slope == 1.0 and float(self.intercept).is_integer()

    def key(self) -> tuple[float, float, int]:
        """Hashable identity used to tell whether frames share one transform."""
        return (self.slope, self.intercept, id(self.lut))

    def map_value(self, stored: float) -> float:
        """Modality value of one stored value (LUT inputs are clipped to its range)."""
        if self.lut is not None:
            index = int(np.clip(stored - self.lut_first, 0, len(self.lut) - 1))
            return float(self.lut[index])
        return self.slope * stored + self.intercept

    def describe(self) -> dict[str, Any]:
        """JSON-friendly summary for ``Scan.metadata``."""
        out: dict[str, Any] = {"source": self.source}
        if self.lut is None:
            out.update(slope=self.slope, intercept=self.intercept)
        else:
            out.update(lut_entries=int(len(self.lut)), lut_first_mapped=self.lut_first)
        if self.rescale_type:
            out["rescale_type"] = self.rescale_type
        return out


def _number(value: Any) -> float | None:
    """A finite float from a DICOM DS/IS value (first of several), else None."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        if len(value) == 0:
            return None
        value = value[0]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _rescale_from(item: Any, source: str, warnings: list[str]) -> ModalityTransform | None:
    """A transform from RescaleSlope/Intercept in ``item``, or None when absent."""
    if "RescaleSlope" not in item and "RescaleIntercept" not in item:
        return None
    slope = _number(item.get("RescaleSlope"))
    intercept = _number(item.get("RescaleIntercept"))
    if slope is None or slope == 0.0:
        if "RescaleSlope" in item:
            warnings.append(f"ignored invalid Rescale Slope {item.get('RescaleSlope')!r}")
        slope = 1.0
    if intercept is None:
        if "RescaleIntercept" in item:
            warnings.append(f"ignored invalid Rescale Intercept {item.get('RescaleIntercept')!r}")
        intercept = 0.0
    rescale_type = item.get("RescaleType")
    return ModalityTransform(slope, intercept, source, str(rescale_type) if rescale_type else None)


def _first_item(ds: Any, keyword: str) -> Any:
    seq = ds.get(keyword)
    return seq[0] if seq else None


def modality_transforms(ds: Dataset, n_frames: int) -> tuple[list[ModalityTransform], list[str]]:
    """One transform per frame (usually all the same object) and any warnings.

    Precedence: Modality LUT Sequence, then per-frame and shared functional
    groups (enhanced multi-frame), then top-level Rescale Slope/Intercept,
    then RT Dose Dose Grid Scaling.
    """
    warnings: list[str] = []
    if ds.get("ModalityLUTSequence"):
        lut_transform = _lut_transform(ds, warnings)
        if lut_transform is not None:
            return [lut_transform] * n_frames, warnings

    shared = _first_item(ds, "SharedFunctionalGroupsSequence")
    shared_pvt = _first_item(shared, "PixelValueTransformationSequence") if shared else None
    shared_transform = (
        _rescale_from(shared_pvt, "Pixel Value Transformation (shared)", warnings)
        if shared_pvt is not None
        else None
    )
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame and len(per_frame) == n_frames:
        transforms: list[ModalityTransform] = []
        found_any = False
        for frame_item in per_frame:
            pvt = _first_item(frame_item, "PixelValueTransformationSequence")
            t = _rescale_from(pvt, "Pixel Value Transformation (per frame)", warnings) if pvt else None
            found_any |= t is not None
            transforms.append(t or shared_transform or ModalityTransform())
        if found_any:
            return _deduplicate(transforms), warnings
    if shared_transform is not None:
        return [shared_transform] * n_frames, warnings

    top = _rescale_from(ds, "Rescale Slope/Intercept", warnings)
    if top is not None:
        return [top] * n_frames, warnings
    dose_scaling = _number(ds.get("DoseGridScaling"))
    if dose_scaling is not None and dose_scaling > 0:
        units = ds.get("DoseUnits")
        return [
            ModalityTransform(dose_scaling, 0.0, "Dose Grid Scaling", str(units) if units else "GY")
        ] * n_frames, warnings
    return [ModalityTransform()] * n_frames, warnings


def _deduplicate(transforms: list[ModalityTransform]) -> list[ModalityTransform]:
    """Share one object between frames with equal transforms (cheap equality later)."""
    seen: dict[tuple[float, float, int], ModalityTransform] = {}
    return [seen.setdefault(t.key(), t) for t in transforms]


def all_same(transforms: list[ModalityTransform]) -> bool:
    """True when every frame uses the same transform."""
    return len({t.key() for t in transforms}) <= 1


def smallest_int_dtype(low: float, high: float) -> np.dtype:
    """int16 when [low, high] fits, else int32, else int64."""
    for dtype in (np.int16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def _lut_transform(ds: Dataset, warnings: list[str]) -> ModalityTransform | None:
    """The Modality LUT Sequence of ``ds`` decoded into a transform, or None if unusable."""
    from pydicom.pixels import apply_modality_lut

    item = ds.ModalityLUTSequence[0]
    try:
        descriptor = item.LUTDescriptor
        n_entries = int(descriptor[0]) or 2**16
        first = int(descriptor[1])
        # pydicom decodes LUT Data (US or OW, either endianness): map every input through it
        lut = apply_modality_lut(np.arange(first, first + n_entries, dtype=np.int64), ds)
    except Exception as exc:  # malformed LUT: fall back to rescale attributes
        warnings.append(f"ignored an unreadable Modality LUT Sequence ({exc})")
        return None
    lut_type = item.get("ModalityLUTType")
    return ModalityTransform(
        source="Modality LUT Sequence",
        rescale_type=str(lut_type) if lut_type else None,
        lut=np.asarray(lut),
        lut_first=first,
    )


def _apply_one(stored: np.ndarray, transform: ModalityTransform) -> np.ndarray:
    if transform.is_identity:
        return stored
    if transform.lut is not None:
        index = np.clip(stored.astype(np.int64) - transform.lut_first, 0, len(transform.lut) - 1)
        return transform.lut[index]
    if transform.keeps_integers and stored.dtype.kind in "iub":
        intercept = int(transform.intercept)
        if stored.size:
            low, high = int(stored.min()) + intercept, int(stored.max()) + intercept
        else:
            low = high = intercept
        out = stored.astype(smallest_int_dtype(low, high))
        out += np.asarray(intercept, dtype=out.dtype)
        return out
    out = stored.astype(np.float32)
    if transform.slope != 1.0:
        out *= np.float32(transform.slope)
    if transform.intercept != 0.0:
        out += np.float32(transform.intercept)
    return out


def apply_modality_transforms(
    stored: np.ndarray, transforms: list[ModalityTransform]
) -> np.ndarray:
    """Modality values for ``stored`` (frames first), one transform per frame."""
    if not transforms:
        return stored
    if all_same(transforms):
        return _apply_one(stored, transforms[0])
    out = np.empty(stored.shape, dtype=np.float32)
    for index, transform in enumerate(transforms):
        out[index] = _apply_one(stored[index], transform)
    return out


def stored_value_range(bits_stored: int, pixel_representation: int) -> tuple[int, int]:
    """Smallest and largest value that ``bits_stored`` bits can hold."""
    if pixel_representation == 1:
        return -(2 ** (bits_stored - 1)), 2 ** (bits_stored - 1) - 1
    return 0, 2**bits_stored - 1


def modality_value_range(
    transforms: list[ModalityTransform], bits_stored: int, pixel_representation: int
) -> tuple[float, float]:
    """The range of modality values the stored range maps to, over all frames."""
    lo_stored, hi_stored = stored_value_range(bits_stored, pixel_representation)
    distinct = {t.key(): t for t in transforms}.values()
    values = [t.map_value(v) for t in distinct for v in (lo_stored, hi_stored)]
    if not values:
        return float(lo_stored), float(hi_stored)
    return min(values), max(values)
