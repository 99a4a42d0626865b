"""Two random "views" of each image for contrastive pretraining, safe for medical images.

SimCLR's recipe (Chen et al. 2020) relies on strong crops plus colour
distortion. Grey medical images have no colour, and some geometric changes
alter meaning, so the views here use only:

- a random resized crop (``crop_scale`` .. 100% of the area, aspect 3/4 .. 4/3),
- a small rotation (+-``rotation_degrees``),
- left/right flips only when ``allow_flips`` (laterality is anatomy in a
  chest radiograph; flips are harmless e.g. for fundus or skin images),
- brightness and contrast (+-40%, probability 0.8), gamma 0.7 .. 1.5 (p 0.5),
- Gaussian blur (sigma 0.1 .. 1.5 px, p 0.5) and Gaussian noise (sigma up to
  0.05, p 0.5).

Everything is computed batch-wise with per-image random parameters
(one ``grid_sample`` for the geometry, tensor maths for intensities), on
whatever device the batch is on, from an explicit ``torch.Generator``.
Inputs and outputs are [0, 1] images (n, C, H, W), before normalisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

BRIGHTNESS = 0.4
CONTRAST = 0.4
JITTER_PROBABILITY = 0.8
GAMMA_RANGE = (0.7, 1.5)
GAMMA_PROBABILITY = 0.5
BLUR_SIGMA = (0.1, 1.5)
BLUR_PROBABILITY = 0.5
NOISE_MAX_SIGMA = 0.05
NOISE_PROBABILITY = 0.5
ASPECT_RANGE = (3 / 4, 4 / 3)


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def _chance(n: int, p: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator) < p


@dataclass(frozen=True)
class ContrastiveViews:
    """Draws one random view of every image in a batch (call twice for a pair)."""

    crop_scale: float = 0.35
    rotation_degrees: float = 10.0
    allow_flips: bool = False

    def geometry(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Affine matrices (n, 2, 3) mapping output to input coordinates: crop, rotation, flip."""
        area = _uniform(n, self.crop_scale, 1.0, generator)
        log_ratio = _uniform(n, math.log(ASPECT_RANGE[0]), math.log(ASPECT_RANGE[1]), generator)
        ratio = torch.exp(log_ratio)
        width = torch.sqrt(area * ratio).clamp(max=1.0)
        height = torch.sqrt(area / ratio).clamp(max=1.0)
        centre_x = (1 - width) * _uniform(n, -1.0, 1.0, generator)
        centre_y = (1 - height) * _uniform(n, -1.0, 1.0, generator)
        angle = torch.deg2rad(_uniform(n, -self.rotation_degrees, self.rotation_degrees, generator))
        flip = torch.where(_chance(n, 0.5, generator), -1.0, 1.0) if self.allow_flips else torch.ones(n)
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.stack([
            torch.stack([width * cos * flip, -height * sin, centre_x], dim=1),
            torch.stack([width * sin * flip, height * cos, centre_y], dim=1),
        ], dim=1)
        return theta

    @staticmethod
    def _blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Separable Gaussian blur with one sigma per image (depthwise convolution)."""
        n, c, h, w = images.shape
        radius = max(1, int(math.ceil(2 * float(sigma.max()))))
        offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
        kernels = torch.exp(-0.5 * (offsets[None, :] / sigma[:, None]) ** 2)
        kernels = (kernels / kernels.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)
        flat = images.reshape(1, n * c, h, w)
        flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="replicate"), kernels[:, None, None, :],
                        groups=n * c)
        flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="replicate"), kernels[:, None, :, None],
                        groups=n * c)
        return flat.reshape(n, c, h, w)

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A randomly augmented copy of ``images`` (n, C, H, W) in [0, 1]."""
        n = images.shape[0]
        device, dtype = images.device, images.dtype
        theta = self.geometry(n, generator).to(device=device, dtype=dtype)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        views = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)

        def per_image(values: torch.Tensor) -> torch.Tensor:
            return values.to(device=device, dtype=dtype).view(n, 1, 1, 1)

        jitter = per_image(_chance(n, JITTER_PROBABILITY, generator).float())
        brightness = per_image(_uniform(n, 1 - BRIGHTNESS, 1 + BRIGHTNESS, generator))
        contrast = per_image(_uniform(n, 1 - CONTRAST, 1 + CONTRAST, generator))
        mean = views.mean(dim=(1, 2, 3), keepdim=True)
        jittered = ((views - mean) * contrast + mean) * brightness
        views = (jitter * jittered + (1 - jitter) * views).clamp(0.0, 1.0)

        use_gamma = _chance(n, GAMMA_PROBABILITY, generator)
        gamma = torch.exp(_uniform(n, math.log(GAMMA_RANGE[0]), math.log(GAMMA_RANGE[1]), generator))
        views = views.clamp_min(1e-6).pow(per_image(torch.where(use_gamma, gamma, torch.ones(n))))

        use_blur = _chance(n, BLUR_PROBABILITY, generator)
        if bool(use_blur.any()):
            sigma = _uniform(n, *BLUR_SIGMA, generator).to(device=device, dtype=dtype)
            blurred = self._blur(views, sigma)
            views = torch.where(per_image(use_blur.float()) > 0, blurred, views)

        use_noise = per_image(_chance(n, NOISE_PROBABILITY, generator).float())
        sigma = per_image(_uniform(n, 0.0, NOISE_MAX_SIGMA, generator))
        noise = torch.randn(images.shape, generator=generator).to(device=device, dtype=dtype)
        return (views + use_noise * sigma * noise).clamp(0.0, 1.0)
