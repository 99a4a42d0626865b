"""Batches of volumes for the run loop, with 3D augmentation of training batches (torch only).

The splits are converted once to normalised float tensors ``(N, 1, D, H, W)``
(VesselMNIST3D's 1,335 training volumes of 28^3 take 117 MB). Training
batches are shuffled per epoch (seeded), optionally drawn class-balanced,
and augmented on the fly:

- ``light``: random flips along each of the three axes, intensity scale and
  shift of up to 10% of the normalised range;
- ``standard``: light, plus a random 90-degree rotation (a permutation of
  the three axes) and a shift of up to 2 voxels;
- ``strong``: standard with intensity changes of 20% and mild Gaussian noise.

Flips and axis permutations keep the label of orientation-free findings
(an aneurysm is one wherever the vessel points). ``none``: no augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import torch

#: augmentation preset -> (flips, intensity range, axis permutations, max shift in voxels, noise sd)
VOLUME_AUGMENTATION = {
    "none": (False, 0.0, False, 0, 0.0),
    "light": (True, 0.1, False, 0, 0.0),
    "standard": (True, 0.1, True, 2, 0.0),
    "strong": (True, 0.2, True, 2, 0.05),
}


@dataclass
class VolumeAugmentation:
    """Random 3D augmentation of a batch ``(N, C, D, H, W)`` (see the module docstring), one draw per volume."""

    flips: bool = True
    intensity: float = 0.1
    permute: bool = False
    shift: int = 0
    noise: float = 0.0

    @classmethod
    def preset(cls, name: str) -> "VolumeAugmentation | None":
        if name not in VOLUME_AUGMENTATION:
            raise ValueError(f"unknown augmentation {name!r}; expected one of {', '.join(VOLUME_AUGMENTATION)}")
        flips, intensity, permute, shift, noise = VOLUME_AUGMENTATION[name]
        if not (flips or intensity or permute or shift or noise):
            return None
        return cls(flips, intensity, permute, shift, noise)

    def __call__(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = batch.shape[0]
        out = batch.clone()
        if self.flips:
            for dim in (2, 3, 4):
                chosen = torch.rand(n, generator=generator) < 0.5
                if chosen.any():
                    out[chosen] = out[chosen].flip(dim)
        if self.permute and out.shape[2] == out.shape[3] == out.shape[4]:
            orders = [(1, 2, 3), (1, 3, 2), (2, 1, 3), (2, 3, 1), (3, 1, 2), (3, 2, 1)]  # of one volume (C, D, H, W)
            picks = torch.randint(0, len(orders), (n,), generator=generator).tolist()
            out = torch.stack([v.permute(0, *orders[k]) if k else v for v, k in zip(out, picks)])
        if self.shift:
            shifts = torch.randint(-self.shift, self.shift + 1, (n, 3), generator=generator).tolist()
            out = torch.stack([_shifted(v, s) for v, s in zip(out, shifts)])
        if self.intensity:
            scale = 1.0 + (torch.rand(n, 1, 1, 1, 1, generator=generator) * 2 - 1) * self.intensity
            offset = (torch.rand(n, 1, 1, 1, 1, generator=generator) * 2 - 1) * self.intensity
            out = out * scale + offset
        if self.noise:
            out = out + torch.randn(out.shape, generator=generator) * self.noise
        return out.contiguous()


def _shifted(volume: torch.Tensor, shifts: list[int]) -> torch.Tensor:
    """``volume`` (C, D, H, W) moved by ``shifts`` voxels, the uncovered border filled with its minimum."""
    if not any(shifts):
        return volume
    out = torch.full_like(volume, float(volume.min()))
    src, dst = [slice(None)], [slice(None)]
    for s, size in zip(shifts, volume.shape[1:]):
        src.append(slice(max(0, -s), size - max(0, s)))
        dst.append(slice(max(0, s), size - max(0, -s)))
    out[tuple(dst)] = volume[tuple(src)]
    return out


class _Batches:
    """One pass over a split: (inputs, targets) per batch, ``len()`` batches."""

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor, order: torch.Tensor, batch_size: int,
                 augment: VolumeAugmentation | None = None, generator: torch.Generator | None = None):
        self.inputs, self.targets, self.order = inputs, targets, order
        self.batch_size, self.augment, self.generator = batch_size, augment, generator

    def __len__(self) -> int:
        return -(-len(self.order) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, len(self.order), self.batch_size):
            index = self.order[start:start + self.batch_size]
            inputs = self.inputs[index]
            if self.augment is not None:
                inputs = self.augment(inputs, self.generator)
            yield inputs, self.targets[index]


class VolumeBatches:
    """The run's batches (``train_loader(epoch)``, ``eval_loader(split)``, ``batches_per_epoch()``)."""

    features_mode = False

    def __init__(self, splits: dict[str, Any], preprocessing: Any, augmentation: str, batch_size: int, seed: int,
                 balanced: bool = False):
        self.batch_size, self.seed, self.balanced = batch_size, seed, balanced
        self.augment = VolumeAugmentation.preset(augmentation)
        self.tensors = {name: (preprocessing.tensor(images.volumes), torch.from_numpy(images.targets))
                        for name, images in splits.items() if images is not None and len(images)}
        self._class_weights = None
        if balanced:
            targets = self.tensors["train"][1]
            counts = torch.bincount(targets).double()
            self._class_weights = (1.0 / counts.clamp(min=1))[targets]

    def train_loader(self, epoch: int) -> _Batches:
        inputs, targets = self.tensors["train"]
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        if self._class_weights is not None:
            order = torch.multinomial(self._class_weights, len(targets), replacement=True, generator=generator)
        else:
            order = torch.randperm(len(targets), generator=generator)
        return _Batches(inputs, targets, order, self.batch_size, self.augment, generator)

    def eval_loader(self, split: str) -> _Batches | None:
        if split not in self.tensors:
            return None
        inputs, targets = self.tensors[split]
        return _Batches(inputs, targets, torch.arange(len(targets)), max(self.batch_size, 64))

    def batches_per_epoch(self) -> int:
        return -(-len(self.tensors["train"][1]) // self.batch_size)
