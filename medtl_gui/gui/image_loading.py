"""What the viewer needs to show one image, read together off the GUI thread (no Qt).

``load_image`` runs in the ``ScanLoader`` pool: it decodes the scan and reads
the image's label masks and model mask proposals from the project, so that
switching images never touches the disk on the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # the readers are imported in the loader thread, not at start-up
    from medtl_gui.core.imaging import Scan


class ItemGone(LookupError):
    """A load whose subject no longer exists (an image another window or process removed meanwhile)."""


def image_is_gone(project: Any, image_id: int | None) -> bool:
    """True when the project holds no image ``image_id`` (any thread; a closed or busy database counts as not
    gone: only a definite "no image with id N" does)."""
    if project is None or image_id is None:
        return False
    from medtl_gui.core.project import ProjectError

    try:
        project.image(int(image_id))
    except ProjectError:
        return True
    except Exception:  # noqa: BLE001 - a closed or busy database is not a removal
        return False
    return False


@dataclass(frozen=True)
class DisplayStats:
    """Per-scan numbers the viewer needs: value range and automatic window (cheap to pass, costly to compute)."""

    value_range: tuple[float, float]
    auto_window: tuple[float, float]


def display_stats(scan: "Scan") -> DisplayStats:
    """Compute ``DisplayStats`` (run it in the loader thread for big volumes)."""
    from medtl_gui.core.imaging import auto_window

    pixels = scan.pixels
    finite = pixels[np.isfinite(pixels)] if pixels.dtype.kind == "f" else pixels
    value_range = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    return DisplayStats(value_range, auto_window(pixels))


@dataclass
class LoadedImage:
    """A decoded scan plus its stored masks, keyed by slice (None for a 2D image)."""

    image_id: int
    scan: "Scan"
    masks: dict[int | None, np.ndarray] = field(default_factory=dict)
    proposals: dict[int | None, np.ndarray] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # stored masks that could not be used, and why
    stats: DisplayStats | None = None

    @property
    def nbytes(self) -> int:
        """Memory held by the pixels and masks (the loader's cache budget counts it)."""
        arrays = [self.scan.pixels, *self.masks.values(), *self.proposals.values()]
        return int(sum(a.nbytes for a in arrays))

    @property
    def n_slices(self) -> int:
        """Slices (frames) along the first axis; 1 for a 2D image."""
        return max(1, int(self.scan.n_frames))

    @property
    def plane_shape(self) -> tuple[int, int]:
        """(rows, columns) of one slice: the shape of its mask."""
        pixels = self.scan.pixels
        return (pixels.shape[1], pixels.shape[2]) if self.scan.n_frames > 1 else (pixels.shape[0], pixels.shape[1])


def load_image(project: Any, image_id: int) -> LoadedImage:
    """Read an image's scan, label masks and mask proposals (``ScanReadError`` for a broken file,
    ``ItemGone`` when the image is no longer in the project: another window or process removed it)."""
    try:
        scan = project.read_image(image_id)
    except Exception as exc:  # the row (or the project's copy) went with a removal by another process?
        if image_is_gone(project, image_id):
            raise ItemGone(f"image {image_id} is no longer in the project") from exc
        raise
    loaded = LoadedImage(image_id=int(image_id), scan=scan, stats=display_stats(scan))
    for record in project.mask_records(image_id, kind=None):
        if record.kind == "label":
            array = project.mask(image_id, record.slice_index)
            target = loaded.masks
        elif record.kind == "proposal":
            array = project.mask_proposal(image_id, record.slice_index)
            target = loaded.proposals
        else:
            continue
        if array is None:
            continue
        if array.shape != loaded.plane_shape:
            loaded.problems.append(f"{record.path}: mask shape {array.shape} does not match the image's "
                                   f"{loaded.plane_shape}; not shown")
            continue
        target[record.slice_index] = array
    return loaded
