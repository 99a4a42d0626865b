"""Training data: npz source, preprocessing, augmentation, datasets, sampling, project adapter."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from medtl_gui.core.data import DataError, from_npz, from_project, load_npz_splits, stratified_split
from medtl_gui.core.data.augmentation import AUGMENTATION_PRESETS, Augmenter
from medtl_gui.core.data.preprocessing import Preprocessing, to_unit_range
from medtl_gui.core.data.sampling import balanced_sample_weights, inverse_frequency_weights, resolve_imbalance_mode
from medtl_gui.core.data.synthetic import write_synthetic_npz
from medtl_gui.core.data.torch_dataset import ImageTensorDataset

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def test_npz_splits_ids_labels_and_class_names(tmp_path: Path) -> None:
    data = load_npz_splits(write_synthetic_npz(tmp_path / "p.npz", n_train=10, n_val=4, n_test=6))
    assert (len(data.train), len(data.val), len(data.test)) == (10, 4, 6)
    assert data.class_names == ["clear", "opacity"] and data.train.ids[0] == "train:0"
    assert data.train[3].load().shape == (28, 28) and data.train[3].content_key
    assert data.runs_dir == tmp_path / "runs"


def test_npz_errors_name_the_file_and_reason(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        from_npz(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, train_images=np.zeros((3, 4, 4)), train_labels=np.zeros(2))
    with pytest.raises(DataError, match=r"bad.npz.*train_labels must have shape"):
        from_npz(bad)
    with pytest.raises(DataError, match="has no val split"):
        from_npz(bad, "val")
    not_npz = tmp_path / "x.npz"
    not_npz.write_text("hello")
    with pytest.raises(DataError, match="not a readable .npz"):
        from_npz(not_npz)


def test_pneumoniamnist_loads_with_its_class_names() -> None:
    path = SHARED_DATA / "medmnist" / "pneumoniamnist.npz"
    if not path.exists():
        pytest.skip(f"shared reference data not present at {path}")
    data = load_npz_splits(path)
    assert data.class_names == ["normal", "pneumonia"]
    assert data.train.class_counts().tolist() == [388, 3494]
    assert (len(data.val), len(data.test)) == (524, 624)


def test_stratified_split_keeps_every_class() -> None:
    from medtl_gui.core.data import ImageItem, LabelledImages

    items = [ImageItem(str(i), int(i < 10), lambda: np.zeros((4, 4))) for i in range(40)]
    train, val = stratified_split(LabelledImages(items, ["a", "b"]), 0.25, seed=0)
    assert val.class_counts().tolist() == [8, 2] and len(train) == 30
    assert set(train.ids).isdisjoint(val.ids)


def test_unit_range_uses_uint8_scale_window_or_percentiles() -> None:
    assert to_unit_range(np.array([[0, 255]], np.uint8)).tolist() == [[0.0, 1.0]]
    hu = np.array([[-1000.0, 40.0, 1000.0]])
    assert to_unit_range(hu, window=(40.0, 400.0)).tolist() == [[0.0, 0.5, 1.0]]
    ramp = np.arange(1000, dtype=np.float32).reshape(10, 100)
    unit = to_unit_range(ramp)
    assert unit.min() == 0.0 and unit.max() == 1.0 and 0.45 < unit[5, 0] < 0.55


def test_preprocessing_resizes_converts_channels_and_normalises() -> None:
    grey = Preprocessing(32, 3, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    out = grey.prepare(np.full((20, 28), 255, np.uint8))
    assert out.shape == (3, 32, 32) and torch.allclose(out, torch.ones_like(out))
    assert torch.allclose(grey.normalise(out), torch.full_like(out, 2.0))
    colour_to_grey = Preprocessing(16, 1, (0.5,), (0.5,))
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[..., 1] = 255
    assert colour_to_grey.prepare(rgb)[0, 0, 0].item() == pytest.approx(0.587, abs=1e-3)
    volume = np.stack([np.full((8, 8), v, np.uint8) for v in (0, 100, 200)])
    assert Preprocessing(8, 1, (0.0,), (1.0,)).prepare(volume)[0, 0, 0].item() == pytest.approx(100 / 255)
    scan = SimpleNamespace(pixels=np.array([[-1000.0, 1000.0]]), window=(0.0, 2000.0))
    assert Preprocessing(8, 1, (0.0,), (1.0,)).prepare(scan).min().item() == 0.0
    assert grey.fingerprint() != Preprocessing(64, 3, (0.5,) * 3, (0.25,) * 3).fingerprint()


@pytest.mark.parametrize("preset", list(AUGMENTATION_PRESETS))
def test_augmentation_moves_image_and_mask_together(preset: str) -> None:
    torch.manual_seed(0)
    image = torch.zeros(1, 32, 32)
    image[:, 8:16, 8:16] = 1.0
    mask = (image[0] > 0.5).to(torch.uint8)
    out_image, out_mask = Augmenter(preset)(image, mask)
    assert out_image.shape == image.shape and out_mask.dtype == torch.uint8
    assert set(out_mask.unique().tolist()) <= {0, 1}
    assert 0.0 <= out_image.min() and out_image.max() <= 1.0
    if preset == "none":
        assert torch.equal(out_image, image) and torch.equal(out_mask, mask)
    # geometry is shared: the mask still sits on the bright square
    inside = out_image[0][out_mask.bool()].mean() if out_mask.any() else torch.tensor(1.0)
    outside = out_image[0][~out_mask.bool()].mean()
    assert inside > outside


def test_dataset_caches_prepared_images_and_normalises(tmp_path: Path) -> None:
    data = load_npz_splits(write_synthetic_npz(tmp_path / "p.npz", n_train=6, n_val=2, n_test=2, size=16))
    prep = Preprocessing(24, 1, (0.5,), (0.25,))
    dataset = ImageTensorDataset(data.train, prep)
    assert dataset.prepared is not None and dataset.prepared.shape == (6, 1, 24, 24)
    image, target = dataset[2]
    assert image.shape == (1, 24, 24) and int(target) == data.train[2].target
    expected = prep.normalise(prep.prepare(data.train[2].load()))
    assert torch.allclose(image, expected, atol=2e-3)  # float16 cache


def test_imbalance_modes_and_weights() -> None:
    counts = np.array([388, 3494])
    assert resolve_imbalance_mode("auto", counts) == "weighted_loss"
    assert resolve_imbalance_mode("auto", np.array([50, 60])) == "none"
    weights = inverse_frequency_weights(counts)
    assert weights[0] * counts[0] == pytest.approx(weights[1] * counts[1])
    targets = np.array([0, 1, 1, 1])
    sample = balanced_sample_weights(targets, 2)
    assert sample[targets == 0].sum() == pytest.approx(sample[targets == 1].sum())


class FakeProject:
    """Duck-typed stand-in with the store's public API (images, classes, label, read_image, folder)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._records = [
            SimpleNamespace(id=1, split="train", label="normal", label_status="labelled", sha256="aa"),
            SimpleNamespace(id=2, split="train", label="pneumonia", label_status="labelled", sha256="bb"),
            SimpleNamespace(id=3, split="train", label=None, label_status=None, sha256="cc"),
            SimpleNamespace(id=4, split="train", label="normal", label_status="uncertain", sha256="dd"),
            SimpleNamespace(id=5, split="val", label="pneumonia", label_status="labelled", sha256="ee"),
        ]

    def classes(self):
        return [SimpleNamespace(name="pneumonia", index=1), SimpleNamespace(name="normal", index=0)]

    def images(self, split=None, label=None):
        return [r for r in self._records if split is None or r.split == split]

    def read_image(self, image_id):
        return SimpleNamespace(pixels=np.full((4, 4), image_id, np.uint8), window=None)


def test_from_project_uses_only_the_public_store_api(tmp_path: Path) -> None:
    project = FakeProject(tmp_path)
    train = from_project(project, "train")
    assert train.class_names == ["normal", "pneumonia"]
    assert train.ids == ["1", "2"] and train.targets().tolist() == [0, 1]
    assert train[1].load().pixels[0, 0] == 2 and train[0].content_key == "sha256:aa"


def test_from_a_real_project_store(tmp_path: Path) -> None:
    project_module = pytest.importorskip("medtl_gui.core.project", reason="project store not importable yet")
    from medtl_gui.core.data import project_splits

    pytest.importorskip("PIL")
    from PIL import Image

    images_dir = tmp_path / "scans"
    images_dir.mkdir()
    project = project_module.Project.create(tmp_path / "proj")
    project.add_class("normal")
    project.add_class("pneumonia")
    rng = np.random.default_rng(0)
    for index in range(8):
        path = images_dir / f"img{index}.png"
        Image.fromarray(rng.integers(0, 255, (12, 12), dtype=np.uint8)).save(path)
        image_id = project.add_image(path)
        project.set_label(image_id, "pneumonia" if index % 2 else "normal")
        project.set_split(image_id, "train" if index < 6 else "val")
    splits = project_splits(project)
    assert len(splits.train) == 6 and len(splits.val) == 2 and splits.test is None
    assert splits.runs_dir == Path(project.folder) / "runs"
    assert splits.train[0].load().pixels.shape[:2] == (12, 12)
    project.close()
