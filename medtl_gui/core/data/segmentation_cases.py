"""Masked images prepared for training and inference: [0, 1] tensors, label indices, field of view.

Grey values are mapped to [0, 1] exactly as for classification (8-bit
scaled, otherwise the scan's window or robust percentiles) and converted to
the network's channel count, but kept at their own size (patches are cut
later; see :mod:`medtl_gui.core.data.patches`). Normalisation is applied
after augmentation: either the pretrained weights' mean/std, or per-image
standardisation (mean and standard deviation of each channel inside the
field of view), which is what works best for networks trained from scratch
on data whose brightness varies between images (e.g. fundus photographs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from medtl_gui.core.data.contrast import COLOUR_CHANNELS, CONTRAST_METHODS, enhance_contrast
from medtl_gui.core.data.errors import DataError
from medtl_gui.core.data.labelled_images import ImageVanished
from medtl_gui.core.data.preprocessing import convert_channels, select_plane, to_unit_range
from medtl_gui.core.data.segmentation import ImagePlane, SegmentationImages, SegmentationItem

NORMALISATIONS = ("per_image", "weights")


@dataclass(frozen=True)
class SegmentationInput:
    """How image planes become network inputs (recorded in the run folder)."""

    in_channels: int
    normalisation: str  # "per_image" or "weights"
    mean: tuple[float, ...]
    std: tuple[float, ...]
    colour_channel: str = "all"  # see COLOUR_CHANNELS; one channel means in_channels == 1
    contrast: str = "none"  # see medtl_gui.core.data.contrast.CONTRAST_METHODS
    scale: float = 1.0  # the network works on images resampled by this factor (results come back at full size)

    def __post_init__(self) -> None:
        if self.in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 or 3, got {self.in_channels}")
        if self.normalisation not in NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {', '.join(NORMALISATIONS)}, not {self.normalisation!r}")
        if self.colour_channel not in COLOUR_CHANNELS:
            raise ValueError(f"colour_channel must be one of {', '.join(COLOUR_CHANNELS)}, "
                             f"not {self.colour_channel!r}")
        if self.contrast not in CONTRAST_METHODS:
            raise ValueError(f"contrast must be one of {', '.join(CONTRAST_METHODS)}, not {self.contrast!r}")
        if not 0.25 <= self.scale <= 4.0:
            raise ValueError(f"scale must be between 0.25 and 4, not {self.scale}")

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "SegmentationInput":
        """Rebuild from :meth:`to_json`."""
        return cls(int(data["in_channels"]), str(data["normalisation"]), tuple(data["mean"]), tuple(data["std"]),
                   str(data.get("colour_channel", "all")), str(data.get("contrast", "none")),
                   float(data.get("scale", 1.0)))


@dataclass
class PreparedCase:
    """One image in memory: ``image`` float32 (C, H, W) in [0, 1], ``labels`` uint8 (H, W) label
    indices, ``fov`` bool (H, W), and the per-channel ``shift``/``scale`` that normalise it."""

    id: str
    case_id: str
    image: torch.Tensor
    labels: torch.Tensor
    fov: torch.Tensor
    has_fov: bool
    shift: torch.Tensor
    scale: torch.Tensor

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return int(self.image.shape[-2]), int(self.image.shape[-1])

    def normalise(self, image: torch.Tensor) -> torch.Tensor:
        """Apply this case's normalisation to (..., C, H, W) [0, 1] pixels of it."""
        return (image - self.shift.view(-1, 1, 1)) / self.scale.view(-1, 1, 1)

    def resampled(self, factor: float) -> "PreparedCase":
        """This case with image (bilinear, anti-aliased), labels and field of view (nearest) resampled by
        ``factor``: what a network working at another resolution trains on."""
        if factor == 1.0:
            return self
        import torch.nn.functional as F

        height, width = self.size
        size = (max(1, round(height * factor)), max(1, round(width * factor)))
        image = F.interpolate(self.image.unsqueeze(0), size=size, mode="bilinear", align_corners=False,
                              antialias=factor < 1.0)[0].clamp(0.0, 1.0)
        nearest = torch.stack([self.labels.float(), self.fov.float()]).unsqueeze(0)
        labels, fov = F.interpolate(nearest, size=size, mode="nearest-exact")[0]
        return PreparedCase(self.id, self.case_id, image.contiguous(), labels.to(torch.uint8), fov.bool(),
                            self.has_fov, self.shift, self.scale)


def unit_tensor(plane: ImagePlane, spec: SegmentationInput) -> torch.Tensor:
    """A float32 (in_channels, H, W) tensor in [0, 1] from an image plane, as ``spec`` prepares it:
    the chosen colour channel (grey images have only one), contrast enhancement, then the channel count."""
    pixels, is_colour = select_plane(np.asarray(plane.pixels))
    unit = np.asarray(to_unit_range(pixels, plane.window), dtype=np.float32)
    channels = np.moveaxis(unit, -1, 0) if is_colour else unit[None]
    if is_colour and spec.colour_channel != "all":
        channels = channels[COLOUR_CHANNELS.index(spec.colour_channel) - 1][None]
    channels = enhance_contrast(channels, spec.contrast)
    return convert_channels(torch.from_numpy(np.ascontiguousarray(channels)), spec.in_channels).contiguous()


def _normalisation(image: torch.Tensor, fov: torch.Tensor, spec: SegmentationInput) -> tuple[torch.Tensor, torch.Tensor]:
    if spec.normalisation == "weights":
        return torch.tensor(spec.mean, dtype=torch.float32), torch.tensor(spec.std, dtype=torch.float32)
    inside = image[:, fov] if bool(fov.any()) else image.reshape(image.shape[0], -1)
    shift = inside.mean(dim=1)
    scale = inside.std(dim=1).clamp_min(1e-3)
    return shift, scale


def prepare_case(item: SegmentationItem, spec: SegmentationInput, with_mask: bool = True) -> PreparedCase:
    """Load and prepare one item (``with_mask=False``: unlabelled images for prediction)."""
    image = unit_tensor(item.load_image(), spec)
    height, width = image.shape[-2:]
    if with_mask:
        labels = np.asarray(item.load_mask())
        if labels.shape != (height, width):
            raise DataError(item.id, f"mask shape {labels.shape} does not match the image's {(height, width)}")
    else:
        labels = np.zeros((height, width), dtype=np.uint8)
    fov_array = item.load_fov()
    if fov_array is not None and np.asarray(fov_array).shape != (height, width):
        raise DataError(item.id, f"field-of-view mask shape {np.asarray(fov_array).shape} does not match the "
                        f"image's {(height, width)}")
    fov = torch.ones((height, width), dtype=torch.bool) if fov_array is None else torch.from_numpy(
        np.asarray(fov_array, dtype=bool).copy())
    shift, scale = _normalisation(image, fov, spec)
    return PreparedCase(item.id, item.case_id, image, torch.from_numpy(labels.astype(np.uint8)), fov,
                        fov_array is not None, shift, scale)


def prepare_cases(images: SegmentationImages | Sequence[SegmentationItem], spec: SegmentationInput,
                  progress: Callable[[str], None] | None = None) -> list[PreparedCase]:
    """Prepare every item of ``images`` (kept in memory for the run)."""
    if progress is not None:
        progress(f"reading {len(images)} {getattr(images, 'name', '') or 'images'} with their masks")
    return [prepare_case(item, spec) for item in images]


def prepare_available_cases(images: SegmentationImages | Sequence[SegmentationItem], spec: SegmentationInput,
                            progress: Callable[[str], None] | None = None) -> tuple[list[PreparedCase], list[str]]:
    """:func:`prepare_cases` that leaves out the images that vanish while they are read (removed from their
    project by another process, or their file deleted): (the prepared cases, the case ids left out, each once;
    every slice of a vanished volume is left out)."""
    if progress is not None:
        progress(f"reading {len(images)} {getattr(images, 'name', '') or 'images'} with their masks")
    cases: list[PreparedCase] = []
    gone: dict[str, None] = {}
    for item in images:
        if item.case_id in gone:
            continue
        try:
            cases.append(prepare_case(item, spec))
        except ImageVanished:
            gone[item.case_id] = None
    return [case for case in cases if case.case_id not in gone], list(gone)
