"""A model's scope: what kind of images it was trained on, and whether an image is outside it.

Every run records, when it starts, the traits of its training images
(``scope.json`` in the run folder, through :class:`~medtl_gui.core.runs.RunRecord`): modalities,
dimensionality (2D image, volume slice, volume, multi-frame), grey or
colour, photometric interpretation, pixel-size and image-size ranges.
Traits that the project's image records hold (modality, frames, colour,
size) come from every training image; photometric interpretation and pixel
size from a sample of images that is read.

Applying the model (``medtl predict``, the GUI's *Apply model* and *Predict
folder*) checks each image with :meth:`ModelScope.reasons` and, unless the
user includes them, skips those outside with the reasons. Runs made before
scopes were recorded have none: nothing is checked (one note says so).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: modalities whose single DICOM images are slices of a volume
CROSS_SECTIONAL = ("CT", "MR", "PT", "NM")
#: an image is outside the scope when its pixel size is below min / PIXEL_SIZE_FACTOR or above max * it
PIXEL_SIZE_FACTOR = 2.0
#: ... or its shorter side below min / IMAGE_SIZE_FACTOR or above max * it
IMAGE_SIZE_FACTOR = 4.0
#: training images read for the traits the project records do not hold
SAMPLE_SIZE = 16
#: printed (once) when a run has no recorded scope
NO_SCOPE_NOTE = ("recorded no scope (trained before MedTL recorded what a model was trained on): images are not "
                 "checked against it")


@dataclass(frozen=True)
class ImageTraits:
    """What the scope looks at in one image (None: unknown)."""

    modality: str | None
    dimensionality: str  # "2D image", "volume slice", "volume" or "multi-frame image"
    colour: bool
    photometric: str | None = None
    pixel_size_mm: float | None = None  # in-plane, mean of x and y
    size: tuple[int, int] | None = None  # rows, columns of one plane


def _dimensionality(kind: str | None, modality: str | None, n_frames: int) -> str:
    if n_frames > 1:
        return "volume" if kind in ("volume", "dicom-series") or modality in CROSS_SECTIONAL else "multi-frame image"
    if kind in ("dicom-file", "dicom-series") and modality in CROSS_SECTIONAL:
        return "volume slice"
    return "2D image"


def _family(photometric: str | None) -> str | None:
    """MONOCHROME1/2 read alike (MONOCHROME1 is inverted on reading); YBR is decoded to RGB."""
    if photometric is None:
        return None
    text = photometric.upper()
    if text.startswith("MONOCHROME"):
        return "grey"
    if text.startswith("PALETTE"):
        return "palette colour"
    return "colour"


def traits_of_record(record: Any) -> ImageTraits:
    """Traits from a project's :class:`~medtl_gui.core.project.records.ImageRecord` (no reading)."""
    rows, columns = record.plane_shape
    return ImageTraits(record.modality or None, _dimensionality(record.kind, record.modality, record.n_frames),
                       bool(record.is_color), size=(int(rows), int(columns)))


def traits_of_scan(loaded: Any) -> ImageTraits:
    """Traits of a read :class:`~medtl_gui.core.imaging.scan.Scan`, or of a bare pixel array."""
    pixels = np.asarray(getattr(loaded, "pixels", loaded))
    colour = bool(getattr(loaded, "is_color", pixels.ndim >= 3 and pixels.shape[-1] in (3, 4)))
    plane_ndim = pixels.ndim - (1 if colour else 0)
    n_frames = int(getattr(loaded, "n_frames", pixels.shape[0] if plane_ndim == 3 else 1))
    plane = pixels.shape[-3:-1] if colour else pixels.shape[-2:]
    modality = getattr(loaded, "modality", None) or None
    metadata = getattr(loaded, "metadata", None) or {}
    photometric = metadata.get("photometric_interpretation") or ("RGB" if colour else "MONOCHROME2")
    pixel_size = None
    spacing = getattr(loaded, "spacing", None)
    source = str(metadata.get("pixel_spacing_source") or "")
    if spacing and len(spacing) >= 2 and getattr(loaded, "kind", "raster") != "raster" and not source.startswith("none"):
        pixel_size = float(np.mean([float(spacing[0]), float(spacing[1])]))
    return ImageTraits(modality, _dimensionality(getattr(loaded, "kind", None), modality, n_frames), colour,
                       str(photometric), pixel_size, (int(plane[0]), int(plane[1])) if len(plane) == 2 else None)


def _range(values: Iterable[float | None]) -> list[float] | None:
    known = [float(v) for v in values if v is not None]
    return [min(known), max(known)] if known else None


def _modality_text(modality: str | None) -> str:
    return modality or "none recorded (e.g. PNG/JPEG/NIfTI)"


@dataclass(frozen=True)
class ModelScope:
    """The traits of a model's training images (JSON: ``scope.json``)."""

    modalities: list[str | None]
    dimensionalities: list[str]
    colours: list[str]  # "grey" and/or "colour"
    photometric: list[str]
    pixel_size_mm: list[float] | None  # [min, max], None when unknown
    image_size_px: list[int] | None  # [min, max] of the shorter side
    n_images: int
    n_read: int  # images read for photometric interpretation and pixel size

    @classmethod
    def from_traits(cls, listed: Sequence[ImageTraits], read: Sequence[ImageTraits]) -> "ModelScope":
        """The scope of images whose record traits are ``listed`` and of which ``read`` were read."""
        every = list(listed) or list(read)
        sides = _range(min(t.size) for t in every if t.size)
        return cls(
            modalities=sorted({t.modality for t in every}, key=lambda m: (m is None, m or "")),
            dimensionalities=sorted({t.dimensionality for t in every}),
            colours=sorted({"colour" if t.colour else "grey" for t in every}),
            photometric=sorted({t.photometric for t in read if t.photometric}),
            pixel_size_mm=_range(t.pixel_size_mm for t in read),
            image_size_px=None if sides is None else [int(sides[0]), int(sides[1])],
            n_images=len(every), n_read=len(read),
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ModelScope":
        """Read back :meth:`to_json`."""
        return cls(list(data.get("modalities") or [None]), list(data.get("dimensionalities") or []),
                   list(data.get("colours") or []), list(data.get("photometric") or []),
                   data.get("pixel_size_mm"), data.get("image_size_px"), int(data.get("n_images") or 0),
                   int(data.get("n_read") or 0))

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict, with a sentence for people."""
        return {"modalities": self.modalities, "dimensionalities": self.dimensionalities,
                "colours": self.colours, "photometric": self.photometric, "pixel_size_mm": self.pixel_size_mm,
                "image_size_px": self.image_size_px, "n_images": self.n_images, "n_read": self.n_read,
                "description": self.describe()}

    def merged(self, other: "ModelScope") -> "ModelScope":
        """The scope of both (an ensemble's members)."""
        def both(a: list[float] | None, b: list[float] | None) -> list[float] | None:
            return _range([*(a or []), *(b or [])])

        sizes = both(self.image_size_px, other.image_size_px)
        return ModelScope(sorted(set(self.modalities) | set(other.modalities), key=lambda m: (m is None, m or "")),
                          sorted(set(self.dimensionalities) | set(other.dimensionalities)),
                          sorted(set(self.colours) | set(other.colours)),
                          sorted(set(self.photometric) | set(other.photometric)),
                          both(self.pixel_size_mm, other.pixel_size_mm),
                          None if sizes is None else [int(sizes[0]), int(sizes[1])],
                          self.n_images + other.n_images, self.n_read + other.n_read)

    def describe(self) -> str:
        """e.g. ``grey 2D image(s), modality none recorded (e.g. PNG/JPEG/NIfTI), MONOCHROME2, 28-64 px``."""
        parts = [f"{' or '.join(self.colours)} {' or '.join(self.dimensionalities)}(s)",
                 "modality " + ", ".join(_modality_text(m) for m in self.modalities)]
        if self.photometric:
            parts.append("photometric " + ", ".join(self.photometric))
        if self.pixel_size_mm:
            low, high = self.pixel_size_mm
            parts.append(f"pixel size {low:.2f}-{high:.2f} mm")
        if self.image_size_px:
            parts.append(f"{self.image_size_px[0]}-{self.image_size_px[1]} px (shorter side)")
        return ", ".join(parts)

    def reasons(self, traits: ImageTraits) -> list[str]:
        """Why an image is outside the scope (empty: inside)."""
        reasons = []
        if traits.modality not in self.modalities:
            reasons.append(f"modality {_modality_text(traits.modality)}; trained on "
                           + ", ".join(_modality_text(m) for m in self.modalities))
        if traits.dimensionality not in self.dimensionalities:
            reasons.append(f"a {traits.dimensionality}; trained on {' and '.join(self.dimensionalities)}s")
        colour = "colour" if traits.colour else "grey"
        if colour not in self.colours:
            reasons.append(f"a {colour} image; trained on {' and '.join(self.colours)} images")
        elif self.photometric and traits.photometric:
            families = {_family(p) for p in self.photometric}
            if _family(traits.photometric) not in families:
                reasons.append(f"photometric interpretation {traits.photometric}; trained on "
                               + ", ".join(self.photometric))
        if self.pixel_size_mm and traits.pixel_size_mm:
            low, high = self.pixel_size_mm
            if not low / PIXEL_SIZE_FACTOR <= traits.pixel_size_mm <= high * PIXEL_SIZE_FACTOR:
                reasons.append(f"pixel size {traits.pixel_size_mm:.2f} mm; trained on {low:.2f}-{high:.2f} mm")
        if self.image_size_px and traits.size:
            low, high = self.image_size_px
            side = min(traits.size)
            if not low / IMAGE_SIZE_FACTOR <= side <= high * IMAGE_SIZE_FACTOR:
                reasons.append(f"image size {traits.size[0]}x{traits.size[1]} px; trained on {low}-{high} px "
                               "(shorter side)")
        return reasons

    def intended_use(self) -> str:
        """The model card's sentence on the images the model is meant for."""
        return (f"Intended for images like its {self.n_images} training images: {self.describe()}. Images "
                "outside this scope are skipped by MedTL unless the user includes them.")


def _evenly_spread(items: Sequence[Any], count: int) -> list[Any]:
    if not items:
        return []
    picks = np.unique(np.linspace(0, len(items) - 1, num=min(count, len(items))).round().astype(int))
    return [items[i] for i in picks]


def collect_scope(records: Sequence[Any], loaders: Sequence[Callable[[], Any]],
                  sample: int = SAMPLE_SIZE) -> ModelScope:
    """The scope of training images: ``records`` (project image records, may be empty) and their ``loaders``.

    Every record counts; ``sample`` images, evenly spread, are read for
    photometric interpretation and pixel size (unreadable ones are left out).
    """
    read = []
    for load in _evenly_spread(list(loaders), sample):
        try:
            read.append(traits_of_scan(load()))
        except Exception:  # noqa: BLE001 - an unreadable image fails the run later, with its own message
            continue
    return ModelScope.from_traits([traits_of_record(r) for r in records], read)


def training_scope(project: Any, image_ids: Iterable[str], loaders: Sequence[Callable[[], Any]]) -> ModelScope:
    """The scope of a run's training images (``project``: the store they come from, or None for an .npz)."""
    records: list[Any] = []
    if project is not None and hasattr(project, "images"):
        wanted = {int(str(i).split(":")[0]) for i in image_ids if str(i).split(":")[0].isdigit()}
        records = [r for r in project.images() if r.id in wanted]
    return collect_scope(records, loaders)


def record_training_scope(folder: Any, project: Any, image_ids: Iterable[str],
                          loaders: Sequence[Callable[[], Any]]) -> str | None:
    """Write the run's ``scope.json``; a failure is returned as a one-line note and never stops the run."""
    try:
        folder.write_scope(training_scope(project, image_ids, loaders).to_json())
    except Exception as exc:  # noqa: BLE001 - the scope is information; training goes on without it
        return f"the model's scope could not be recorded: {exc}"
    return None


def read_scope(run_dir: str | os.PathLike) -> ModelScope | None:
    """The scope recorded in a run folder, the merged scope of an ensemble's members, or None."""
    from medtl_gui.core.runs import RunRecord

    path = Path(run_dir)
    record = RunRecord(path)
    if record.is_ensemble:
        try:
            members = record.read_ensemble().get("members") or []
        except (OSError, ValueError):
            return None
        from medtl_gui.core.inference.ensemble import member_folder

        scopes = [read_scope(member_folder(m, path)) for m in members]
        if not scopes or any(s is None for s in scopes):
            return None
        merged = scopes[0]
        for scope in scopes[1:]:
            merged = merged.merged(scope)  # type: ignore[union-attr]
        return merged
    data = record.read_scope()
    return None if data is None else ModelScope.from_json(data)


@dataclass(frozen=True)
class ScopeCheck:
    """How prediction treats images outside a model's scope: skipped unless ``include``; no scope, no check."""

    scope: ModelScope | None
    include: bool = False
    run_id: str = ""

    def reasons(self, loaded: Any) -> list[str]:
        """Why a read image is outside the scope (empty when inside, or when there is no scope)."""
        return [] if self.scope is None else self.scope.reasons(traits_of_scan(loaded))

    @property
    def note(self) -> str | None:
        """The one note for a run without a recorded scope."""
        return None if self.scope is not None else f"run {self.run_id} {NO_SCOPE_NOTE}"


def scope_check(run_dir: str | os.PathLike, include: bool = False) -> ScopeCheck:
    """The :class:`ScopeCheck` of a run (or ensemble) folder."""
    return ScopeCheck(read_scope(run_dir), include, Path(run_dir).name)

