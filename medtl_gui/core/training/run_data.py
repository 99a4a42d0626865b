"""Batches for a run: augmented image loaders, or cached backbone features.

Every epoch's order (shuffle or balanced sampling) and augmentation draw
from generators seeded by (run seed, epoch), so a resumed run sees exactly
the batches an uninterrupted one would have.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

from medtl_gui.core.data.augmentation import Augmenter
from medtl_gui.core.data.errors import DataError
from medtl_gui.core.data.labelled_images import LabelledImages, pixel_hash, vanished_message
from medtl_gui.core.data.preprocessing import Preprocessing
from medtl_gui.core.data.sampling import balanced_sample_weights
from medtl_gui.core.data.torch_dataset import ImageTensorDataset
from medtl_gui.core.models.transfer_model import TransferModel
from medtl_gui.core.training.device import ExecutionPlan, loader_workers
from medtl_gui.core.training.feature_cache import FeatureCache, feature_namespace
from medtl_gui.core.training.seeding import derive_seed, seed_everything

SPLIT_NAMES = ("train", "val", "test")


def _train_loader(dataset, targets: np.ndarray, n_classes: int, batch_size: int, balanced: bool,
                  seed: int, epoch: int, num_workers: int) -> DataLoader:
    generator = torch.Generator().manual_seed(derive_seed(seed, "order", epoch))
    drop_last = len(dataset) > batch_size and len(dataset) % batch_size == 1  # a 1-image batch breaks batch norm
    if balanced:
        weights = torch.as_tensor(balanced_sample_weights(targets, n_classes), dtype=torch.double)
        sampler = WeightedRandomSampler(weights, num_samples=len(dataset), replacement=True, generator=generator)
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                          generator=generator, drop_last=drop_last)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=num_workers,
                      generator=generator, drop_last=drop_last)


class ImageBatches:
    """Image datasets for train (augmented), val and test, prepared once and kept in memory.

    A training image that vanishes while it is prepared (removed from its project by another process after
    the run listed it) is left out; ``messages`` then says which (the engine shows them as warnings).
    """

    features_mode = False

    def __init__(self, splits: dict[str, LabelledImages | None], preprocessing: Preprocessing, augmentation: str,
                 batch_size: int, num_workers: int, seed: int, balanced: bool):
        self.splits = splits
        self.batch_size = batch_size
        self.num_workers = loader_workers(num_workers)
        self.seed = seed
        self.balanced = balanced
        augmenter = Augmenter(augmentation)
        self.datasets: dict[str, ImageTensorDataset] = {}
        self.messages: list[str] = []
        for name, images in splits.items():
            if images is not None and len(images):
                dataset = ImageTensorDataset(images, preprocessing, augmenter if name == "train" else None,
                                             skip_vanished=name == "train")
                if dataset.vanished:
                    if not len(dataset.images):
                        raise DataError(images.name, "every training image is gone (removed from the project "
                                                     "while the run was starting)")
                    self.splits = {**self.splits, name: dataset.images}
                    self.messages.append(vanished_message(dataset.vanished, f"the {name} images"))
                self.datasets[name] = dataset

    def batches_per_epoch(self) -> int:
        """Number of training batches per epoch."""
        n = len(self.datasets["train"])
        drop = n > self.batch_size and n % self.batch_size == 1
        return n // self.batch_size if drop else -(-n // self.batch_size)

    def train_loader(self, epoch: int) -> DataLoader:
        """This epoch's training batches (reseeds torch's global RNG for augmentation and dropout)."""
        seed_everything(derive_seed(self.seed, "epoch", epoch))
        images = self.splits["train"]
        return _train_loader(self.datasets["train"], images.targets() if images.class_names else np.zeros(0, int),
                             len(images.class_names), self.batch_size, self.balanced, self.seed, epoch,
                             self.num_workers)

    def eval_loader(self, split: str) -> DataLoader | None:
        """Un-augmented batches of ``split`` in order, or None if the split is absent."""
        dataset = self.datasets.get(split)
        if dataset is None:
            return None
        return DataLoader(dataset, batch_size=max(self.batch_size, 64), shuffle=False, num_workers=self.num_workers)


class FeatureBatches(ImageBatches):
    """Backbone features computed once (cached by weights + preprocessing + image content)."""

    features_mode = True

    def __init__(self, splits: dict[str, LabelledImages | None], preprocessing: Preprocessing, batch_size: int,
                 seed: int, balanced: bool, model: TransferModel, plan: ExecutionPlan, weights_id: str,
                 cache: FeatureCache, progress: Callable[[str], None] | None = None):
        self.splits = splits
        self.batch_size = batch_size
        self.num_workers = 0
        self.seed = seed
        self.balanced = balanced
        namespace = feature_namespace(weights_id, model.architecture, preprocessing.in_channels, plan.precision,
                                      preprocessing.fingerprint())
        self.feature_sets: dict[str, TensorDataset] = {}
        for name, images in splits.items():
            if images is None or not len(images):
                continue
            features = self._features(images, preprocessing, model, plan, cache, namespace, progress)
            self.feature_sets[name] = TensorDataset(features, torch.as_tensor(images.targets()))
        self.datasets = self.feature_sets  # type: ignore[assignment]

    @staticmethod
    def _content_keys(images: LabelledImages) -> list[str]:
        return [item.content_key or pixel_hash(np.asarray(getattr(p := item.load(), "pixels", p))) for item in images]

    def _features(self, images: LabelledImages, preprocessing: Preprocessing, model: TransferModel,
                  plan: ExecutionPlan, cache: FeatureCache, namespace: str,
                  progress: Callable[[str], None] | None) -> torch.Tensor:
        keys = self._content_keys(images)
        found = cache.lookup(namespace, keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            if progress is not None:
                progress(f"computing backbone features of {len(missing)} {images.name or 'images'} "
                         f"({len(keys) - len(missing)} cached)")
            computed: dict[str, torch.Tensor] = {}
            dataset = ImageTensorDataset(images, preprocessing, None, cache=False)
            model.eval()
            with torch.no_grad():
                for start in range(0, len(missing), max(self.batch_size, 64)):
                    chunk = missing[start:start + max(self.batch_size, 64)]
                    batch = torch.stack([dataset[i][0] for i in chunk])
                    with plan.autocast():
                        out = model.backbone(plan.to_device(batch)).float().cpu()
                    computed.update({keys[i]: out[j] for j, i in enumerate(chunk)})
            cache.add(namespace, computed)
            found.update(computed)
        return torch.stack([found[key] for key in keys])

    def train_loader(self, epoch: int) -> DataLoader:
        """This epoch's batches of cached training features."""
        seed_everything(derive_seed(self.seed, "epoch", epoch))
        images = self.splits["train"]
        return _train_loader(self.feature_sets["train"], images.targets() if images.class_names else np.zeros(0, int),
                             len(images.class_names), self.batch_size, self.balanced, self.seed, epoch, 0)

    def eval_loader(self, split: str) -> DataLoader | None:
        """Cached features of ``split`` in order."""
        dataset = self.feature_sets.get(split)
        return None if dataset is None else DataLoader(dataset, batch_size=1024, shuffle=False)
