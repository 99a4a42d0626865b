"""Random training patches from images larger than the network input.

:class:`PatchSampler` draws patch positions: with probability
``foreground_fraction`` a patch is centred on a random labelled pixel
(inside the field of view), otherwise on a random pixel of the field of
view (of the image when there is none). This keeps small structures
(lesions) from being drowned by background while still showing the
network plenty of negatives. :class:`PatchDataset` cuts the patches,
augments image and mask together (:class:`JointAugmentation`: the preset's
geometry, including elastic deformation in ``strong``, plus random flips
and 90-degree turns, which never change what a mask means) and normalises
the image.

A patch's target is an int64 tensor (2, size, size): channel 0 the label
indices, channel 1 the field of view (1 where the pixel counts). Pixels
outside the image (padding, or moved in by a rotation) have field of view
0 and are ignored by the loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from medtl_gui.core.data.augmentation import build_transform
from medtl_gui.core.data.segmentation_cases import PreparedCase


class JointAugmentation:
    """An augmentation preset applied to an image patch and its target together.

    The image is resampled bilinearly by the geometric steps (rotation,
    scaling, elastic deformation): nearest-neighbour resampling would turn
    thin structures such as capillaries into staircases that never occur
    in real images. Targets (label indices and field of view) are always
    resampled nearest-neighbour, so they keep their exact values.
    """

    def __init__(self, preset: str):
        from torchvision.transforms import v2

        self.preset = preset
        self._transform = build_transform(preset)
        if self._transform is not None:
            for step in _steps(self._transform):
                if isinstance(step, (v2.RandomAffine, v2.ElasticTransform, v2.RandomRotation)):
                    step.interpolation = v2.InterpolationMode.BILINEAR

    @property
    def is_identity(self) -> bool:
        """True for the ``"none"`` preset."""
        return self._transform is None

    def __call__(self, image: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The augmented [0, 1] image (C, H, W) and target (2, H, W)."""
        if self._transform is None:
            return image, target
        from torchvision import tv_tensors

        out_image, out_target = self._transform(tv_tensors.Image(image), tv_tensors.Mask(target))
        return out_image.as_subclass(torch.Tensor).clamp(0.0, 1.0), out_target.as_subclass(torch.Tensor)


def _steps(transform) -> list:
    """Every transform inside a v2 ``Compose``/``RandomApply`` tree."""
    inner = getattr(transform, "transforms", None)
    if inner is None:
        return [transform]
    return [step for child in inner for step in _steps(child)]


class PatchSampler:
    """Draws patch positions (top, left) for prepared cases."""

    def __init__(self, patch_size: int, foreground_fraction: float = 0.5):
        if patch_size < 8:
            raise ValueError(f"patch size must be at least 8 px, got {patch_size}")
        if not 0.0 <= foreground_fraction <= 1.0:
            raise ValueError(f"foreground_fraction must be in [0, 1], got {foreground_fraction}")
        self.patch_size = patch_size
        self.foreground_fraction = foreground_fraction
        self._candidates: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _pixels(self, case: PreparedCase) -> tuple[np.ndarray, np.ndarray]:
        """Flat indices of foreground pixels and of field-of-view pixels (cached per case)."""
        if case.id not in self._candidates:
            fov = case.fov.numpy().reshape(-1)
            foreground = (case.labels.numpy().reshape(-1) > 0) & fov
            inside = np.flatnonzero(fov)
            self._candidates[case.id] = (np.flatnonzero(foreground), inside if inside.size else np.arange(fov.size))
        return self._candidates[case.id]

    def _origin(self, centre: int, extent: int) -> int:
        return int(min(max(centre - self.patch_size // 2, 0), max(extent - self.patch_size, 0)))

    def positions(self, case: PreparedCase, n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
        """``n`` patch origins (top, left) in ``case``."""
        foreground, inside = self._pixels(case)
        height, width = case.size
        out = []
        for _ in range(n):
            pool = foreground if foreground.size and rng.random() < self.foreground_fraction else inside
            flat = int(pool[rng.integers(pool.size)])
            out.append((self._origin(flat // width, height), self._origin(flat % width, width)))
        return out

    def epoch_plan(self, cases: Sequence[PreparedCase], per_image: int, seed: int) -> list[tuple[int, int, int]]:
        """(case index, top, left) for every patch of one epoch, from a generator seeded by ``seed``."""
        rng = np.random.default_rng(seed)
        return [(index, top, left) for index, case in enumerate(cases)
                for top, left in self.positions(case, per_image, rng)]


def crop_patch(case: PreparedCase, top: int, left: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The [0, 1] image patch (C, size, size) and target (2, size, size) at (top, left), zero-padded."""
    height, width = case.size
    bottom, right = min(top + size, height), min(left + size, width)
    image = torch.zeros((case.image.shape[0], size, size), dtype=torch.float32)
    target = torch.zeros((2, size, size), dtype=torch.int64)
    image[:, : bottom - top, : right - left] = case.image[:, top:bottom, left:right]
    target[0, : bottom - top, : right - left] = case.labels[top:bottom, left:right]
    target[1, : bottom - top, : right - left] = case.fov[top:bottom, left:right]
    return image, target


def random_dihedral(image: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The same random flip / 90-degree turn (one of 8) of a square image and its target."""
    turns = int(torch.randint(4, (1,)))
    if turns:
        image, target = torch.rot90(image, turns, (-2, -1)), torch.rot90(target, turns, (-2, -1))
    if bool(torch.randint(2, (1,))):
        image, target = image.flip(-1), target.flip(-1)
    return image.contiguous(), target.contiguous()


class PatchDataset(Dataset):
    """The patches of one epoch: augmented together with their masks, then normalised."""

    def __init__(self, cases: Sequence[PreparedCase], plan: Sequence[tuple[int, int, int]], patch_size: int,
                 augmenter: JointAugmentation | None = None, dihedral: bool = True):
        self.cases = cases
        self.plan = list(plan)
        self.patch_size = patch_size
        self.augmenter = augmenter if augmenter is not None and not augmenter.is_identity else None
        self.dihedral = dihedral

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        case_index, top, left = self.plan[index]
        case = self.cases[case_index]
        image, target = crop_patch(case, top, left, self.patch_size)
        if self.dihedral:
            image, target = random_dihedral(image, target)
        if self.augmenter is not None:
            image, target = self.augmenter(image, target)
        return case.normalise(image), target
