"""Test-time augmentation: flip-invariant models are unchanged by it, transforms invert, bad modes are refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from medtl_gui.core.data.npz_source import load_npz_splits
from medtl_gui.core.data.synthetic import write_synthetic_npz
from medtl_gui.core.inference.prediction import ScanToPredict, predict_images, predict_scans
from medtl_gui.core.inference.trained_model import load_trained_model
from medtl_gui.core.inference.tta import (
    TTA_MODES,
    TTAModeError,
    averaged_maps,
    averaged_probabilities,
    tta_transforms,
)
from medtl_gui.core.training import TrainConfig, train


class FlipInvariantNet(nn.Module):
    """Pointwise convolution, global average pooling, linear head: invariant to flips and 90-degree rotations."""

    head_kind = "multiclass"

    def __init__(self, in_channels: int = 1, classes: int = 2):
        super().__init__()
        torch.manual_seed(3)
        self.pointwise = nn.Conv2d(in_channels, 8, kernel_size=1)
        self.head = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.pointwise(x)).mean(dim=(2, 3)))


class PositionSensitiveNet(nn.Module):
    """A linear layer on the flattened image: mirrored images give other outputs."""

    head_kind = "multiclass"

    def __init__(self, size: int = 16, classes: int = 2):
        super().__init__()
        torch.manual_seed(4)
        self.head = nn.Linear(size * size, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.flatten(1))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, object]:
    folder = tmp_path_factory.mktemp("tta")
    data = load_npz_splits(write_synthetic_npz(folder / "tiny.npz", n_train=16, n_val=8, n_test=8, size=16))
    config = TrainConfig(model="baseline_cnn", image_size=16, epochs=1, batch_size=8, precision="fp32")
    assert train(config, data, run_dir=folder / "run").status == "completed"
    return folder / "run", data


def _softmax_of(model: nn.Module):
    return lambda batch: torch.softmax(model(batch), dim=1)


@pytest.mark.parametrize("mode", ["flips", "flips+rot"])
def test_tta_of_a_flip_invariant_model_changes_nothing(mode: str) -> None:
    images = torch.rand(5, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    model = FlipInvariantNet().eval()
    with torch.no_grad():
        plain = _softmax_of(model)(images)
        augmented = averaged_probabilities(_softmax_of(model), images, mode)
    torch.testing.assert_close(augmented, plain, atol=1e-6, rtol=0)
    # a model that sees positions does change: the average is really over transformed images
    sensitive = PositionSensitiveNet().eval()
    with torch.no_grad():
        moved = (averaged_probabilities(_softmax_of(sensitive), images, mode) - _softmax_of(sensitive)(images)).abs()
    assert float(moved.max()) > 1e-3


def test_prediction_pipeline_with_tta_equals_plain_prediction_for_a_flip_invariant_model(tiny_run) -> None:
    run, data = tiny_run
    trained = load_trained_model(run)
    invariant = replace(trained, model=FlipInvariantNet(trained.preprocessing.in_channels))
    plain = predict_images(invariant, data.test, device="cpu")
    for mode in ("flips", "flips+rot"):
        with_tta = predict_images(replace(invariant, tta=mode), data.test, device="cpu")
        np.testing.assert_allclose(with_tta, plain, atol=1e-6)
    scans = [ScanToPredict(f"image {i}", item.load) for i, item in enumerate(data.test)]
    rows = predict_scans(replace(invariant, tta="flips+rot"), scans, device="cpu")
    np.testing.assert_allclose([[r.probabilities[c] for c in trained.class_names] for r in rows], plain, atol=1e-6)


def test_tta_mode_reaches_the_runs_own_model_and_full_mode_runs(tiny_run) -> None:
    run, data = tiny_run
    plain = predict_images(load_trained_model(run), data.test, device="cpu")
    full = predict_images(load_trained_model(run, tta="full"), data.test, device="cpu")
    assert full.shape == plain.shape and np.allclose(full.sum(axis=1), 1.0)
    assert not np.allclose(full, plain, atol=1e-7), "the trained CNN is not symmetric: TTA must change something"


def test_transforms_invert_and_dense_averaging_of_an_equivariant_map_is_exact() -> None:
    images = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(1))
    assert [len(tta_transforms(m)) for m in TTA_MODES] == [1, 3, 8, 10]
    assert len({t.name for t in tta_transforms("full")}) == 10
    for transform in tta_transforms("flips+rot"):
        torch.testing.assert_close(transform.invert(transform.apply(images)), images)
    # a segmentation "model" that is the identity: every inverted prediction is the image itself
    torch.testing.assert_close(averaged_maps(lambda x: x, images, "flips+rot"), images)
    wide = torch.rand(1, 1, 8, 12)
    torch.testing.assert_close(averaged_maps(lambda x: x, wide, "flips+rot"), wide)  # rotations skipped


def test_unknown_mode_is_refused_with_the_valid_ones(tiny_run) -> None:
    with pytest.raises(TTAModeError, match="flips\\+rot"):
        tta_transforms("mirror")
    with pytest.raises(TTAModeError):
        load_trained_model(tiny_run[0], tta="sideways")
