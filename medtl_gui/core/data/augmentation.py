"""Augmentation presets: none, light, standard, strong.

Built on ``torchvision.transforms.v2`` rather than MONAI: v2 works on
tensors directly, transforms an image and its mask together in one call
(``tv_tensors.Mask`` gets nearest-neighbour geometry and is left alone by
intensity transforms), and costs a fraction of MONAI's per-call overhead
(no MetaTensor bookkeeping), which matters for thousands of small 2D
images per epoch on a CPU. Inputs are [0, 1] float tensors (C, H, W),
before mean/std normalisation.

Left/right flips only appear in ``strong``: in chest and many other
radiographs laterality is anatomy, not noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: preset name -> what it does (for the GUI and ``--help``)
AUGMENTATION_PRESETS: dict[str, str] = {
    "none": "no augmentation",
    "light": "small rotation (5 deg), shift (3%), scale (5%); brightness/contrast 10%",
    "standard": "rotation 10 deg, shift 6%, scale 10%; brightness/contrast 20%, gamma 0.8-1.25, mild noise",
    "strong": "left/right flip, rotation 15 deg, shift 10%, scale 15%, shear, elastic deformation; "
    "brightness/contrast 30%, gamma 0.7-1.5, blur, noise",
}


def _intensity_transforms():
    """The v2 transform classes for gamma and noise (built lazily: torchvision is heavy)."""
    import torch
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    class RandomGamma(v2.Transform):
        """Raise [0, 1] intensities to a random power in ``gamma_range``; masks untouched."""

        def __init__(self, gamma_range: tuple[float, float]):
            super().__init__()
            self.gamma_range = gamma_range

        def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
            low, high = self.gamma_range
            return {"gamma": float(torch.empty(1).uniform_(low, high))}

        def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
            if isinstance(inpt, tv_tensors.Mask):
                return inpt
            return inpt.clamp(0.0, 1.0).pow(params["gamma"])

    class RandomNoise(v2.Transform):
        """Add Gaussian noise with a random sigma up to ``max_sigma``; masks untouched."""

        def __init__(self, max_sigma: float):
            super().__init__()
            self.max_sigma = max_sigma

        def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
            return {"sigma": float(torch.empty(1).uniform_(0.0, self.max_sigma))}

        def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
            if isinstance(inpt, tv_tensors.Mask):
                return inpt
            return (inpt + torch.randn_like(inpt) * params["sigma"]).clamp(0.0, 1.0)

    return RandomGamma, RandomNoise


def build_transform(preset: str):
    """The v2 transform of a preset (``None`` for ``"none"``)."""
    if preset not in AUGMENTATION_PRESETS:
        raise ValueError(f"unknown augmentation preset {preset!r}; expected one of {', '.join(AUGMENTATION_PRESETS)}")
    if preset == "none":
        return None
    from torchvision.transforms import v2

    RandomGamma, RandomNoise = _intensity_transforms()
    if preset == "light":
        steps = [
            v2.RandomAffine(degrees=5, translate=(0.03, 0.03), scale=(0.95, 1.05)),
            v2.ColorJitter(brightness=0.1, contrast=0.1),
        ]
    elif preset == "standard":
        steps = [
            v2.RandomAffine(degrees=10, translate=(0.06, 0.06), scale=(0.9, 1.1)),
            v2.ColorJitter(brightness=0.2, contrast=0.2),
            v2.RandomApply([RandomGamma((0.8, 1.25))], p=0.5),
            v2.RandomApply([RandomNoise(0.03)], p=0.3),
        ]
    else:
        steps = [
            v2.RandomHorizontalFlip(p=0.5),
            v2.RandomAffine(degrees=15, translate=(0.1, 0.1), scale=(0.85, 1.15), shear=5),
            v2.RandomApply([v2.ElasticTransform(alpha=30.0, sigma=5.0)], p=0.3),
            v2.ColorJitter(brightness=0.3, contrast=0.3),
            v2.RandomApply([RandomGamma((0.7, 1.5))], p=0.5),
            v2.RandomApply([v2.GaussianBlur(kernel_size=3, sigma=(0.1, 1.0))], p=0.3),
            v2.RandomApply([RandomNoise(0.05)], p=0.5),
        ]
    return v2.Compose(steps)


@dataclass
class Augmenter:
    """Applies a preset to an image tensor, or to an image and its mask together."""

    preset: str

    def __post_init__(self) -> None:
        self._transform = build_transform(self.preset)

    @property
    def is_identity(self) -> bool:
        """True for ``"none"``."""
        return self._transform is None

    def __call__(self, image, mask=None):
        """Augmented image (and mask, if given, with the same geometry)."""
        if self._transform is None:
            return image if mask is None else (image, mask)
        from torchvision import tv_tensors

        if mask is None:
            return self._transform(tv_tensors.Image(image)).as_subclass(type(image)).clamp(0.0, 1.0)
        out_image, out_mask = self._transform(tv_tensors.Image(image), tv_tensors.Mask(mask))
        return out_image.as_subclass(type(image)).clamp(0.0, 1.0), out_mask.as_subclass(type(mask))
