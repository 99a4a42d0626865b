"""``medtl explain`` and ``explain_image``: heat-maps of a trained run at each image's own resolution."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medtl_gui.cli import main
from medtl_gui.core.data.npz_source import load_npz_splits
from medtl_gui.core.data.synthetic import SYNTHETIC_CLASSES, synthetic_images, write_synthetic_npz
from medtl_gui.core.training import TrainConfig, train


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A tiny trained run (baseline CNN, 32 px: block4 keeps a 2x2 map)."""
    folder = tmp_path_factory.mktemp("explain")
    npz = write_synthetic_npz(folder / "tiny.npz", n_train=16, n_val=8, n_test=8, size=32)
    config = TrainConfig(model="baseline_cnn", image_size=32, epochs=1, batch_size=8, precision="fp32", device="cpu")
    assert train(config, load_npz_splits(npz), run_dir=folder / "run").status == "completed"
    return folder / "run"


def test_explain_image_returns_a_map_at_the_image_resolution(tiny_run: Path) -> None:
    from medtl_gui.core.inference.trained_model import load_trained_model
    from medtl_gui.core.review.saliency import explain_image

    trained = load_trained_model(tiny_run)
    images, _ = synthetic_images(1, size=48, seed=5)
    image = np.ascontiguousarray(images[0][:40, :])  # not square: 40 x 48
    result = explain_image(trained, image)
    assert result.heatmap.shape == (40, 48) and result.class_name in SYNTHETIC_CLASSES
    assert result.layer == "block4"
    named = explain_image(trained, image, "opacity", method="gradcam++")
    assert named.class_index == 1 and named.class_name == "opacity" and named.method == "gradcam++"
    assert explain_image(trained, image, 0).class_name == "clear"
    with pytest.raises(ValueError, match="no class 'nodule'"):
        explain_image(trained, image, "nodule")


def test_medtl_explain_writes_overlays_and_lists_unreadable_scans(tiny_run: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    from PIL import Image

    images, _ = synthetic_images(2, size=36, seed=7)
    scans = tmp_path / "scans"
    scans.mkdir()
    Image.fromarray(images[0]).save(scans / "a.png")
    Image.fromarray(images[1][:30]).save(scans / "b.png")
    (scans / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    out = tmp_path / "cams"
    code = main(["explain", str(scans), "--run", str(tiny_run), "--out", str(out), "--json", "--opacity", "0.6"])
    assert code == 1  # one scan was skipped
    captured = capsys.readouterr()
    records = {Path(r["source"]).name: r for r in map(json.loads, captured.out.strip().splitlines())}
    assert set(records) == {"a.png", "b.png"}
    assert "broken.png" in captured.err
    overlay = np.asarray(Image.open(records["b.png"]["overlay"]))
    heatmap = np.asarray(Image.open(records["b.png"]["heatmap"]))
    assert overlay.shape == (30, 36, 3) and heatmap.shape == (30, 36) and heatmap.max() == 255
    assert records["a.png"]["class"] in SYNTHETIC_CLASSES
    assert sum(records["a.png"]["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert sorted(p.name for p in out.iterdir()) == ["a_gradcam.png", "a_gradcam_heatmap.png",
                                                     "b_gradcam.png", "b_gradcam_heatmap.png"]
    assert main(["explain", str(scans / "a.png"), "--run", str(tiny_run), "--out", str(out),
                 "--class", "nodule"]) == 2
    assert "no class 'nodule'" in capsys.readouterr().err
