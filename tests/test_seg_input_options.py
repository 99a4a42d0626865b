"""How images become segmentation inputs: colour channel, CLAHE contrast, working resolution, U-Net width."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from medtl_gui.core.data.contrast import clahe, enhance_contrast
from medtl_gui.core.data.segmentation import ImagePlane, SegmentationImages, SegmentationItem, SegmentationSplits
from medtl_gui.core.data.segmentation_cases import SegmentationInput, prepare_case
from medtl_gui.core.training import ConfigError, TrainConfig, train


def _spec(**changes) -> SegmentationInput:
    values = dict(in_channels=1, normalisation="per_image", mean=(0.5,), std=(0.25,))
    return SegmentationInput(**(values | changes))


def _item(pixels: np.ndarray, mask: np.ndarray, fov: np.ndarray | None = None, name: str = "a") -> SegmentationItem:
    return SegmentationItem(name, name, lambda: ImagePlane(pixels), lambda: mask, lambda: fov)


# ------------------------------------------------------------------ CLAHE

def test_clahe_with_one_tile_and_no_clip_is_global_histogram_equalisation() -> None:
    rng = np.random.default_rng(0)
    image = rng.beta(2, 5, size=(40, 30)).astype(np.float32)
    out = clahe(image, clip_limit=1e6, tiles=1, bins=256)
    levels = np.rint(image * 255).astype(int)
    cdf = np.cumsum(np.bincount(levels.ravel(), minlength=256)) / levels.size
    np.testing.assert_allclose(out, cdf[levels], atol=1e-6)


def test_clahe_raises_local_contrast_in_a_dark_region_and_keeps_order_within_a_tile() -> None:
    rng = np.random.default_rng(1)
    image = np.full((128, 128), 0.8, np.float32)
    image[:, :64] = 0.1 + 0.02 * rng.random((128, 64))  # a dark half with faint texture
    out = clahe(image, clip_limit=2.0, tiles=4)
    assert out.shape == image.shape and out.dtype == np.float32 and 0.0 <= out.min() and out.max() <= 1.0
    assert out[:, :48].std() > 2 * image[:, :48].std()
    tile, enhanced = image[:32, :32].ravel(), out[:32, :32].ravel()
    order = np.argsort(tile, kind="stable")
    assert np.all(np.diff(enhanced[order]) >= -0.02)  # monotone up to the interpolation between tiles


def test_clahe_clip_limit_bounds_the_contrast_gain() -> None:
    rng = np.random.default_rng(2)
    image = (0.5 + 0.01 * rng.standard_normal((64, 64))).clip(0, 1).astype(np.float32)
    mild, strong = clahe(image, clip_limit=1.0), clahe(image, clip_limit=40.0)
    assert image.std() < mild.std() < strong.std()


def test_contrast_methods_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown contrast"):
        enhance_contrast(np.zeros((1, 4, 4), np.float32), "gamma")
    with pytest.raises(ValueError, match="2-D"):
        clahe(np.zeros((2, 4, 4)))


# ------------------------------------------------------------------ channel, contrast and scale in prepare_case

def test_green_channel_is_the_network_input_of_a_colour_image() -> None:
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, size=(20, 24, 3), dtype=np.uint8)
    case = prepare_case(_item(rgb, np.zeros((20, 24), np.uint8)), _spec(colour_channel="green"))
    assert case.image.shape == (1, 20, 24)
    np.testing.assert_allclose(case.image[0].numpy(), rgb[..., 1] / 255.0, atol=1e-6)
    enhanced = prepare_case(_item(rgb, np.zeros((20, 24), np.uint8)), _spec(colour_channel="green", contrast="clahe"))
    np.testing.assert_allclose(enhanced.image[0].numpy(), clahe(rgb[..., 1] / 255.0), atol=1e-6)
    with pytest.raises(ValueError, match="colour_channel"):
        _spec(colour_channel="alpha")


def test_resampled_case_keeps_label_values_and_scales_every_plane_together() -> None:
    labels = np.zeros((40, 50), np.uint8)
    labels[10:20, 5:25] = 2
    fov = np.ones((40, 50), bool)
    fov[:, :3] = False
    case = prepare_case(_item(np.full((40, 50), 100, np.uint8), labels, fov), _spec())
    bigger = case.resampled(1.5)
    assert bigger.size == (60, 75) and bigger.image.shape == (1, 60, 75)
    assert set(np.unique(bigger.labels.numpy())) == {0, 2} and bigger.labels.dtype == torch.uint8
    assert int((bigger.labels == 2).sum()) == pytest.approx(200 * 1.5**2, rel=0.1)
    assert not bool(bigger.fov[:, :4].any()) and bool(bigger.fov[:, 5:].all())
    assert case.resampled(1.0) is case


def test_a_network_working_at_another_scale_returns_results_at_the_image_size() -> None:
    from medtl_gui.core.training.segmentation_inference import predict_case

    class Doubler(torch.nn.Module):  # logit = the normalised input itself, so the output shows its geometry
        def __init__(self) -> None:
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, :1]

    ramp = np.tile(np.linspace(0, 255, 37), (29, 1)).astype(np.uint8)
    case = prepare_case(_item(ramp, np.zeros(ramp.shape, np.uint8)), _spec())
    _, at_size = predict_case(Doubler(), case, window=16, scale=1.0)
    logits, scaled = predict_case(Doubler(), case, window=16, scale=1.7)
    assert logits.shape[-2:] == ramp.shape and scaled.shape == at_size.shape == (1, 29, 37)
    np.testing.assert_allclose(scaled[:, :, 2:-2], at_size[:, :, 2:-2], atol=0.02)


# ------------------------------------------------------------------ through the engine

def _vessel_items(n: int, seed: int, prefix: str) -> list[SegmentationItem]:
    """Thin dark lines on a colour background whose green channel carries them (as in fundus photographs)."""
    rng = np.random.default_rng(seed)
    items = []
    for index in range(n):
        mask = np.zeros((48, 48), np.uint8)
        for _ in range(3):
            row = int(rng.integers(6, 42))
            mask[row:row + 2, :] = 1
        rgb = np.empty((48, 48, 3), np.uint8)
        rgb[..., 0] = rng.integers(100, 200, (48, 48))  # red: noise only
        rgb[..., 1] = np.clip(150 - 90 * mask + rng.normal(0, 10, (48, 48)), 0, 255)
        rgb[..., 2] = rng.integers(0, 60, (48, 48))
        items.append(_item(rgb, mask, None, f"{prefix}{index}"))
    return items


def test_a_run_with_green_channel_clahe_and_a_scale_trains_and_predicts_the_same_way(tmp_path: Path) -> None:
    from medtl_gui.core.evaluation.segmentation_run import evaluate_segmentation_run

    data = SegmentationSplits(SegmentationImages(_vessel_items(6, 0, "t"), ["vessel"], "lines:train"),
                              SegmentationImages(_vessel_items(2, 1, "v"), ["vessel"], "lines:val"), source="lines")
    config = TrainConfig(task="segmentation", model="unet_small", base_channels=8, image_size=32, epochs=4,
                         patches_per_image=12, batch_size=8, lr=1e-2, schedule="constant", augmentation="none",
                         precision="fp32", colour_channel="green", contrast="clahe", input_scale=1.5,
                         dice_weight=0.5)
    result = train(config, data, run_dir=tmp_path / "run")
    assert result.status == "completed", result.error
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["model"]["in_channels"] == 1
    assert {k: record["preprocessing"][k] for k in ("colour_channel", "contrast", "scale")} == {
        "colour_channel": "green", "contrast": "clahe", "scale": 1.5}
    assert result.report["val"]["dice"] > 0.6
    # the saved run rebuilds the 8-channel network and prepares images exactly as training did
    scores = evaluate_segmentation_run(tmp_path / "run", data.val, device="cpu")
    assert scores["dice"] == pytest.approx(result.report["val"]["dice"], abs=1e-6)


def test_input_options_are_checked() -> None:
    base = dict(task="segmentation", model="unet_small")
    with pytest.raises(ConfigError, match="contrast"):
        TrainConfig(**base, contrast="equalise").validate()
    with pytest.raises(ConfigError, match="in_channels"):
        TrainConfig(**base, colour_channel="green", in_channels=3).validate()
    with pytest.raises(ConfigError, match="input_scale"):
        TrainConfig(**base, input_scale=10.0).validate()
    with pytest.raises(ConfigError, match="encoder"):
        TrainConfig(task="segmentation", model="resnet18", base_channels=16).validate()
    with pytest.raises(ConfigError, match="dice_weight"):
        TrainConfig(**base, dice_weight=-1.0).validate()
    with pytest.raises(ConfigError, match="contrast.*segmentation runs only"):
        TrainConfig(model="resnet18", contrast="clahe").validate()
