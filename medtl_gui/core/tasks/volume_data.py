"""Labelled volumes from MedMNIST-3D-style ``.npz`` files, and their preprocessing to tensors.

Keys as the 2D sets (:mod:`medtl_gui.core.data.npz_source`):
``train_images``/``train_labels`` (required), ``val_*``, ``test_*``; images
``(N, D, H, W)``, labels ``(N,)`` or ``(N, 1)`` with class indices. Class
names: an optional ``class_names`` array, else the MedMNIST table of the 2D
source (``vesselmnist3d``: vessel, aneurysm), else ``class_0`` ... Read with
``allow_pickle=False``. :func:`is_volume_npz` reads only the array headers.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.data.npz_source import KNOWN_CLASS_NAMES, SPLITS


def _header_shape(archive: zipfile.ZipFile, member: str) -> tuple[int, ...] | None:
    """The shape in an ``.npy`` member's header (nothing else is read)."""
    with archive.open(member) as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, _, _ = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, _, _ = np.lib.format.read_array_header_2_0(handle)
    return tuple(shape)


def volume_shapes(path: str | os.PathLike) -> dict[str, tuple[int, ...]]:
    """Shape of each ``*_images`` array of an ``.npz`` (headers only); {} for anything unreadable."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {name[:-4]: _header_shape(archive, name) for name in archive.namelist()
                    if name.endswith("_images.npy")}
    except (OSError, ValueError, zipfile.BadZipFile, KeyError):
        return {}


def is_volume_npz(path: str | os.PathLike) -> bool:
    """An ``.npz`` whose image arrays are volumes (N, D, H, W): 4-D, and not 2D colour images (N, H, W, 1|3)."""
    path = Path(path)
    if path.suffix.lower() != ".npz" or not path.is_file():
        return False
    shapes = volume_shapes(path)
    return "train_images" in shapes and all(len(s) == 4 and s[-1] not in (1, 3) for s in shapes.values())


@dataclass
class Volumes:
    """One split's volumes ``(N, D, H, W)`` with class indices; ids ``<split>:<index>`` as the 2D source's."""

    volumes: np.ndarray
    targets: np.ndarray
    class_names: list[str]
    name: str
    ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.ids:
            split = self.name.rsplit(":", 1)[-1]
            self.ids = [f"{split}:{i}" for i in range(len(self.targets))]

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> Any:
        """An item with ``id`` and ``target`` (what validation samples need)."""
        return SimpleNamespace(id=self.ids[index], target=int(self.targets[index]),
                               load=lambda index=index: self.volumes[index])

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.targets, minlength=len(self.class_names))

    def subset(self, indices: np.ndarray, name: str) -> "Volumes":
        return Volumes(self.volumes[indices], self.targets[indices], self.class_names, name,
                       [self.ids[i] for i in indices])


@dataclass
class VolumeSplits:
    """The splits of a volume ``.npz`` (what :meth:`Classification3DTask.open_data` returns)."""

    train: Volumes
    val: Volumes | None
    test: Volumes | None
    source: str
    runs_dir: Path | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def class_names(self) -> list[str]:
        return self.train.class_names

    def split(self, name: str) -> Volumes:
        images = getattr(self, name, None) if name in SPLITS else None
        if images is None:
            raise KeyError(f"the data has no {name!r} split")
        return images


def _class_names(path: Path, arrays: Any, n_classes: int) -> list[str]:
    if "class_names" in arrays.files:
        names = [str(n) for n in arrays["class_names"].tolist()]
    else:
        names = KNOWN_CLASS_NAMES.get(path.stem.lower().split("_")[0], [f"class_{i}" for i in range(n_classes)])
    if len(names) < n_classes:
        raise DataError(path, f"labels go up to {n_classes - 1} but only {len(names)} class names are known")
    return list(names)


def load_volume_npz(path: str | os.PathLike) -> VolumeSplits:
    """Every split of a volume ``.npz`` (train required); labels checked, class names shared by all splits."""
    from medtl_gui.core.project.npz_checks import npz_problem

    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such file")
    problem = npz_problem(path)  # a lying header, a zip bomb or pickled objects: refused before reading
    if problem:
        raise DataError(path, problem)
    try:
        with np.load(path, allow_pickle=False) as archive:
            raw = {s: (archive[f"{s}_images"], archive[f"{s}_labels"]) for s in SPLITS
                   if f"{s}_images" in archive.files and f"{s}_labels" in archive.files}
            if "train" not in raw:
                raise DataError(path, "has no training split ('train_images' and 'train_labels')")
            labels = {}
            for split, (images, values) in raw.items():
                if images.ndim != 4:
                    raise DataError(path, f"{split}_images must hold volumes (N, D, H, W), got {images.shape}")
                values = values[:, 0] if values.ndim == 2 and values.shape[1] == 1 else values
                if values.ndim != 1 or len(values) != len(images):
                    raise DataError(path, f"{split}_labels must have shape (N,) or (N, 1) with N={len(images)}, "
                                          f"got {values.shape}")
                if not (np.issubdtype(values.dtype, np.integer) or np.all(np.mod(values, 1) == 0)) or values.min() < 0:
                    raise DataError(path, f"{split}_labels must be class indices (integers >= 0)")
                labels[split] = values.astype(np.int64)
            n_classes = max(int(v.max(initial=0)) for v in labels.values()) + 1
            names = _class_names(path, archive, max(n_classes, 2))
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(path, f"not a readable .npz file ({exc})") from exc
    parts = {s: Volumes(raw[s][0], labels[s], names, f"{path.name}:{s}") for s in raw}
    return VolumeSplits(parts["train"], parts.get("val"), parts.get("test"), str(path), path.parent / "runs")


def stratified_holdout(volumes: Volumes, fraction: float, seed: int) -> tuple[Volumes, Volumes]:
    """(rest, held out): ``fraction`` of each class held out (at least one per class with two or more)."""
    rng = np.random.default_rng(seed)
    held: list[int] = []
    for label in np.unique(volumes.targets):
        members = np.flatnonzero(volumes.targets == label)
        rng.shuffle(members)
        take = max(1, round(len(members) * fraction)) if len(members) >= 2 else 0
        held.extend(members[:take].tolist())
    held_index = np.array(sorted(held), dtype=np.int64)
    rest = np.setdiff1d(np.arange(len(volumes)), held_index)
    split = volumes.name.rsplit(":", 1)[0]
    return volumes.subset(rest, f"{split}:train"), volumes.subset(held_index, f"{split}:train-held-out")


# ----------------------------------------------------------------------------- preprocessing
@dataclass
class VolumePreprocessing:
    """Volumes to network input: scale to [0, 1] (uint8 / 255, else / the training maximum), resize to
    ``shape`` (trilinear) when it differs, then ``(x - mean) / std`` with the training set's statistics."""

    shape: tuple[int, int, int]
    scale: float
    mean: float
    std: float

    @classmethod
    def fit(cls, train: Volumes, size: int | None = None) -> "VolumePreprocessing":
        volumes = train.volumes
        scale = 1.0 / 255.0 if volumes.dtype == np.uint8 else 1.0 / max(float(np.abs(volumes).max()), 1e-6)
        sample = volumes[: min(len(volumes), 512)].astype(np.float32) * scale
        shape = tuple(int(s) for s in volumes.shape[1:]) if size is None else (size, size, size)
        return cls(shape, scale, float(sample.mean()), float(max(sample.std(), 1e-6)))

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> "VolumePreprocessing":
        return cls(tuple(record["shape"]), float(record["scale"]), float(record["mean"]), float(record["std"]))

    def to_json(self) -> dict[str, Any]:
        return {"kind": "volume", "shape": list(self.shape), "scale": self.scale, "mean": self.mean, "std": self.std}

    def tensor(self, volumes: np.ndarray) -> Any:
        """A float tensor (N, 1, D, H, W), normalised (converted in chunks to keep memory low)."""
        import torch
        import torch.nn.functional as F

        out = torch.empty((len(volumes), 1, *self.shape), dtype=torch.float32)
        for start in range(0, len(volumes), 256):
            chunk = torch.from_numpy(np.asarray(volumes[start:start + 256], dtype=np.float32))[:, None] * self.scale
            if tuple(chunk.shape[2:]) != self.shape:
                chunk = F.interpolate(chunk, size=self.shape, mode="trilinear", align_corners=False)
            out[start:start + len(chunk)] = (chunk - self.mean) / self.std
        return out
