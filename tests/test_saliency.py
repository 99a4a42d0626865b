"""Grad-CAM / Grad-CAM++ (core.review.saliency): localisation, every zoo architecture, heat-map colours."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from medtl_gui.core.models.builder import build_model  # noqa: E402
from medtl_gui.core.models.heads import build_head  # noqa: E402
from medtl_gui.core.models.zoo import MODEL_ZOO  # noqa: E402
from medtl_gui.core.review.heatmap_colors import blend_overlay, colorize, heatmap_rgba  # noqa: E402
from medtl_gui.core.review.saliency import SALIENCY_METHODS, explain_tensor  # noqa: E402

SIZE = 32
HALF = SIZE // 2


def quadrant_blob_images(n: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise images with one bright blob: class 1 iff the blob lies in the top-left quadrant.

    Class-0 blobs lie in one of the three other quadrants, so the only
    evidence *for* class 1 is what is in the top-left quadrant.
    """
    images = rng.normal(0.0, 0.3, (n, 1, SIZE, SIZE)).astype(np.float32)
    labels = rng.integers(0, 2, n)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    for i in range(n):
        quadrant = 0 if labels[i] == 1 else int(rng.integers(1, 4))
        cy = (quadrant // 2) * HALF + int(rng.integers(4, HALF - 4))
        cx = (quadrant % 2) * HALF + int(rng.integers(4, HALF - 4))
        images[i, 0] += 2.5 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 8.0)
    return torch.from_numpy(images), torch.from_numpy(labels)


@pytest.fixture(scope="module")
def quadrant_model():
    """LeNet-5 (a zoo model) trained for a few seconds on :func:`quadrant_blob_images`."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = build_model("lenet5", n_classes=2, in_channels=1).model
    optimiser = torch.optim.Adam(model.parameters(), 3e-3)
    model.train()
    for _ in range(120):
        images, labels = quadrant_blob_images(32, rng)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(images)[:, 0], labels.float())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    return model


@pytest.mark.parametrize("method", SALIENCY_METHODS)
def test_gradcam_highlights_the_region_the_decision_depends_on(quadrant_model, method: str) -> None:
    images, labels = quadrant_blob_images(64, np.random.default_rng(1))
    with torch.no_grad():
        accuracy = ((quadrant_model(images)[:, 0] > 0).long() == labels).float().mean().item()
    assert accuracy >= 0.9, f"the toy model did not learn the task (accuracy {accuracy:.2f})"
    positives = images[labels == 1]
    maps = explain_tensor(quadrant_model, positives, class_index=1, method=method)
    peaks_inside = []
    mass_inside = []
    for result in maps:
        heat = result.heatmap
        assert heat.shape == (SIZE, SIZE) and heat.dtype == np.float32
        assert np.isfinite(heat).all() and heat.min() >= 0.0 and heat.max() == pytest.approx(1.0)
        y, x = np.unravel_index(int(heat.argmax()), heat.shape)
        peaks_inside.append(y < HALF and x < HALF)
        mass_inside.append(heat[:HALF, :HALF].sum() / heat.sum())
    # a uniform map would give 25 % of peaks and of mass in the quadrant
    assert np.mean(peaks_inside) >= 0.8
    assert np.median(mass_inside) >= 0.35
    assert maps[0].layer == "conv2.3" and maps[0].class_index == 1


def test_default_class_is_the_predicted_one(quadrant_model) -> None:
    images, labels = quadrant_blob_images(16, np.random.default_rng(2))
    maps = explain_tensor(quadrant_model, images)
    with torch.no_grad():
        predicted = (torch.sigmoid(quadrant_model(images)[:, 0]) >= 0.5).long()
    assert [m.class_index for m in maps] == predicted.tolist()
    assert all(m.probabilities.shape == (2,) for m in maps)
    with pytest.raises(ValueError, match="class index"):
        explain_tensor(quadrant_model, images[:2], class_index=[0, 1, 1])
    with pytest.raises(ValueError, match="unknown saliency method"):
        explain_tensor(quadrant_model, images[:1], method="occlusion")


@pytest.mark.parametrize("architecture", list(MODEL_ZOO))
def test_gradcam_works_on_every_zoo_architecture(architecture: str) -> None:
    torch.manual_seed(0)
    # AlexNet's stride-4 stem and three max-pools need 64 px to keep a feature map
    size = 64 if architecture == "alexnet" else max(32, MODEL_ZOO[architecture].min_input_size)
    model = build_model(architecture, n_classes=3, in_channels=1).model
    inputs = torch.randn(2, 1, size, size)
    for n_classes in (3, 2):
        if n_classes == 2:  # the same backbone with a binary head (building big models twice is slow)
            model.head, model.head_kind = build_head("binary", model.feature_dim, 2), "binary"
        for method in SALIENCY_METHODS:
            maps = explain_tensor(model, inputs, method=method, output_size=(20, 24))
            assert len(maps) == 2
            for result in maps:
                assert result.heatmap.shape == (20, 24)
                assert np.isfinite(result.heatmap).all()
                assert 0.0 <= result.heatmap.min() and result.heatmap.max() <= 1.0
                assert 0 <= result.class_index < n_classes
                assert result.layer.split(".")[0] in model.stage_names()
        assert all(p.grad is None for p in model.parameters())  # the model's gradients are untouched


def test_a_regression_model_cannot_be_explained() -> None:
    model = build_model("lenet5", task="regression", in_channels=1).model
    with pytest.raises(ValueError, match="classifier"):
        explain_tensor(model, torch.randn(1, 1, 32, 32))


def test_heatmap_colours_and_blending() -> None:
    heat = np.array([[0.0, 1.0], [0.5, 0.25]], dtype=np.float32)
    colours = colorize(heat, "jet")
    assert colours.shape == (2, 2, 3) and colours.dtype == np.uint8
    assert tuple(colours[0, 0]) == (0, 0, 128) and tuple(colours[0, 1]) == (128, 0, 0)
    rgba = heatmap_rgba(heat, "hot", opacity=0.8)
    assert rgba[0, 0, 3] == 0 and rgba[0, 1, 3] == round(0.8 * 255)
    base = np.full((2, 2), 0.5, dtype=np.float32)
    assert (blend_overlay(base, heat, opacity=0.0) == 128).all()  # no overlay: the grey image
    blended = blend_overlay(base, heat, opacity=1.0, colormap="jet")
    assert tuple(blended[0, 1]) == (128, 0, 0) and tuple(blended[0, 0]) == (128, 128, 128)
    with pytest.raises(ValueError, match="colour map"):
        colorize(heat, "rainbow")
    with pytest.raises(ValueError, match="differ in size"):
        blend_overlay(np.zeros((3, 3)), heat)
