"""A ``torch.utils.data.Dataset`` over :class:`LabelledImages`.

Decoding, windowing and resizing happen once per image: the prepared
[0, 1] tensors are kept in memory (float16) when they fit the memory
budget, so each epoch only pays for augmentation and normalisation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch.utils.data import Dataset

from medtl_gui.core.data.augmentation import Augmenter
from medtl_gui.core.data.errors import DataError
from medtl_gui.core.data.labelled_images import ImageVanished, LabelledImages
from medtl_gui.core.data.preprocessing import Preprocessing

#: prepared images are cached in memory up to this many bytes per dataset
DEFAULT_CACHE_BUDGET_BYTES = 3 * 1024**3


def load_prepared(images: LabelledImages, preprocessing: Preprocessing, index: int) -> torch.Tensor:
    """Load and prepare one image; errors name the image."""
    item = images[index]
    try:
        return preprocessing.prepare(item.load())
    except DataError:
        raise
    except Exception as exc:  # a reader error: say which image
        if item.available is not None and not item.available():
            raise ImageVanished(images.name, item.id) from exc
        raise DataError(f"{images.name}#{item.id}", f"{type(exc).__name__}: {exc}") from exc


def prepare_all(
    images: LabelledImages,
    preprocessing: Preprocessing,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """All images prepared into one float16 tensor (N, C, S, S)."""
    size = preprocessing.image_size
    out = torch.empty((len(images), preprocessing.in_channels, size, size), dtype=torch.float16)
    for index in range(len(images)):
        out[index] = load_prepared(images, preprocessing, index)
        if progress is not None:
            progress(index + 1, len(images))
    return out


def _prepare_available(images: LabelledImages, preprocessing: Preprocessing,
                       progress: Callable[[int, int], None] | None) -> tuple[torch.Tensor, LabelledImages, list[str]]:
    """:func:`prepare_all` that leaves out images that vanished: (tensor, the images kept, ids left out)."""
    size = preprocessing.image_size
    out = torch.empty((len(images), preprocessing.in_channels, size, size), dtype=torch.float16)
    kept: list[int] = []
    for index in range(len(images)):
        with contextlib.suppress(ImageVanished):  # left out; reported with the ids below
            out[len(kept)] = load_prepared(images, preprocessing, index)
            kept.append(index)
        if progress is not None:
            progress(index + 1, len(images))
    if len(kept) == len(images):
        return out, images, []
    gone = sorted(set(range(len(images))) - set(kept))
    return out[:len(kept)].clone(), images.subset(kept, images.name), [images[i].id for i in gone]


class ImageTensorDataset(Dataset):
    """(normalised image tensor, target) pairs, with optional augmentation.

    ``cache``: "auto" keeps prepared images in memory when they fit
    ``cache_budget_bytes``; True/False force it. Regression targets are
    float32, class targets int64. With ``skip_vanished`` an image that
    vanished before it was prepared (removed by another process while the
    run starts) is left out: ``images`` then holds the others and
    ``vanished`` the ids left out.
    """

    def __init__(
        self,
        images: LabelledImages,
        preprocessing: Preprocessing,
        augmenter: Augmenter | None = None,
        cache: bool | str = "auto",
        cache_budget_bytes: int = DEFAULT_CACHE_BUDGET_BYTES,
        progress: Callable[[int, int], None] | None = None,
        skip_vanished: bool = False,
    ):
        self.images = images
        self.vanished: list[str] = []
        self.preprocessing = preprocessing
        self.augmenter = augmenter if augmenter is not None and not augmenter.is_identity else None
        size = preprocessing.image_size
        n_bytes = len(images) * preprocessing.in_channels * size * size * 2
        use_cache = (n_bytes <= cache_budget_bytes) if cache == "auto" else bool(cache)
        self.prepared = prepare_all(images, preprocessing, progress) if use_cache and not skip_vanished else None
        if use_cache and skip_vanished:
            self.prepared, self.images, self.vanished = _prepare_available(images, preprocessing, progress)
        targets = self.images.targets()
        self.targets = torch.as_tensor(targets)

    def __len__(self) -> int:
        return len(self.images)

    def unit_image(self, index: int) -> torch.Tensor:
        """The prepared, un-normalised [0, 1] image (no augmentation)."""
        if self.prepared is not None:
            return self.prepared[index].float()
        return load_prepared(self.images, self.preprocessing, index)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.unit_image(index)
        if self.augmenter is not None:
            image = self.augmenter(image)
        return self.preprocessing.normalise(image), self.targets[index]
