"""Ensembles: identical members equal one member, fitted weights, majority vote, mixed image sizes,
checksums, TorchScript export, and the CLI (build, evaluate, predict, export, train) on tiny runs."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from medtl_gui.cli import main
from medtl_gui.core.data.npz_source import load_npz_splits
from medtl_gui.core.data.synthetic import write_synthetic_npz
from medtl_gui.core.inference.ensemble import EnsembleError, build_ensemble, load_ensemble
from medtl_gui.core.inference.ensemble_combination import combine_probabilities, fit_weights
from medtl_gui.core.inference.export import export_run
from medtl_gui.core.inference.prediction import ScanToPredict, predict_images, predict_scans
from medtl_gui.core.inference.trained_model import load_trained_model
from medtl_gui.core.training import TrainConfig, train


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, object]:
    """Two tiny baseline CNN runs (seeds 0, 1) at 16 px, one at 24 px, and an exact copy of the first."""
    folder = tmp_path_factory.mktemp("ensemble")
    npz = write_synthetic_npz(folder / "tiny.npz", n_train=16, n_val=8, n_test=8, size=16)
    data = load_npz_splits(npz)
    for name, seed, size in (("a", 0, 16), ("b", 1, 16), ("c", 2, 24)):
        config = TrainConfig(model="baseline_cnn", image_size=size, epochs=1, batch_size=8, precision="fp32",
                             seed=seed)
        assert train(config, data, run_dir=folder / name).status == "completed"
    shutil.copytree(folder / "a", folder / "a-copy")
    return {"folder": folder, "npz": npz, "data": data}


def _scans(data) -> list[ScanToPredict]:
    return [ScanToPredict(f"image {i}", item.load) for i, item in enumerate(data.test)]


def test_an_ensemble_of_identical_members_equals_one_member(runs, tmp_path: Path) -> None:
    folder, data = runs["folder"], runs["data"]
    member = load_trained_model(folder / "a")
    expected = predict_images(member, data.test, device="cpu")
    for combination in ("mean", "weighted"):
        ensemble = build_ensemble([folder / "a", folder / "a-copy"], tmp_path / combination, combination=combination,
                                  validation=data.val, device="cpu")
        assert abs(sum(ensemble.weights) - 1.0) < 1e-9
        np.testing.assert_allclose(predict_images(ensemble, data.test, device="cpu"), expected, atol=1e-7)
        rows = predict_scans(load_trained_model(tmp_path / combination), _scans(data), device="cpu")
        member_rows = predict_scans(member, _scans(data), device="cpu")
        assert [r.predicted for r in rows] == [r.predicted for r in member_rows]
        for row, single in zip(rows, member_rows):
            assert row.probabilities == pytest.approx(single.probabilities, abs=1e-7)
    vote = build_ensemble([folder / "a", folder / "a-copy"], tmp_path / "vote", combination="vote")
    voted = predict_images(vote, data.test, device="cpu")
    assert (voted.argmax(axis=1) == (expected[:, 1] >= member.threshold)).all()


def test_fitted_weights_lie_on_the_simplex_and_prefer_the_better_member() -> None:
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 2, 200)
    good = np.clip(np.where(targets == 1, 0.8, 0.2) + rng.normal(0, 0.1, 200), 0.01, 0.99)
    noise = rng.uniform(0.01, 0.99, 200)
    members = np.stack([np.stack([1 - p, p], axis=1) for p in (noise, good)])
    weights = fit_weights(members, targets)
    assert weights.shape == (2,) and abs(weights.sum() - 1.0) < 1e-9 and (weights >= 0).all()
    assert weights[1] > 0.8 > weights[0]
    same = fit_weights(np.stack([members[1], members[1]]), targets)
    np.testing.assert_allclose(same, [0.5, 0.5], atol=1e-3)  # identical members: the prior keeps them equal


def test_majority_vote_counts_votes_at_each_members_threshold_and_breaks_ties_by_the_mean() -> None:
    # three members, two images; member thresholds 0.5, 0.5, 0.9
    p1 = np.array([[0.6, 0.7, 0.8], [0.4, 0.3, 0.95]])  # positive-class probability per image and member
    members = np.stack([np.stack([1 - p1[:, m], p1[:, m]], axis=1) for m in range(3)])
    combined = combine_probabilities(members, "vote", thresholds=[0.5, 0.5, 0.9])
    # image 0: votes positive, positive, negative (0.8 < 0.9) -> 2 of 3; image 1: 1 of 3
    np.testing.assert_allclose(combined[:, 1], [2 / 3, 1 / 3], atol=2e-3)
    assert combined[0, 1] > 0.5 > combined[1, 1] and np.allclose(combined.sum(axis=1), 1.0)
    tie = combine_probabilities(members[:2, :1], "vote")  # one image, votes 1-1: the mean (0.65) decides
    assert tie[0, 1] > 0.5
    multi = np.array([[[0.7, 0.2, 0.1]], [[0.1, 0.6, 0.3]], [[0.5, 0.1, 0.4]]])
    assert combine_probabilities(multi, "vote")[0].argmax() == 0


def test_members_with_different_image_sizes_each_keep_their_preprocessing(runs, tmp_path: Path) -> None:
    folder, data = runs["folder"], runs["data"]
    ensemble = build_ensemble([folder / "a", folder / "c"], tmp_path / "mixed", combination="mean")
    a, c = (load_trained_model(folder / n) for n in ("a", "c"))
    assert (a.preprocessing.image_size, c.preprocessing.image_size) == (16, 24)
    expected = (predict_images(a, data.test, "cpu") + predict_images(c, data.test, "cpu")) / 2
    np.testing.assert_allclose(predict_images(ensemble, data.test, "cpu"), expected, atol=1e-6)
    rows = predict_scans(load_trained_model(tmp_path / "mixed"), _scans(data), device="cpu")
    np.testing.assert_allclose([[r.probabilities[n] for n in a.class_names] for r in rows], expected, atol=1e-6)
    result = export_run(tmp_path / "mixed", "torchscript", tmp_path / "mixed-export")
    assert result.max_abs_difference <= 1e-4 and result.card["input"]["shape"][-1] == 24


@pytest.mark.parametrize("combination", ["weighted", "vote"])
def test_torchscript_export_of_an_ensemble_reproduces_its_probabilities(runs, tmp_path: Path,
                                                                        combination: str) -> None:
    folder, data = runs["folder"], runs["data"]
    build_ensemble([folder / "a", folder / "b"], tmp_path / "ens", combination=combination, validation=data.val)
    result = export_run(tmp_path / "ens", "torchscript", tmp_path / "export")
    ensemble = load_trained_model(tmp_path / "ens")
    unit = torch.stack([ensemble.members[0].preprocessing.prepare(item.load()) for item in data.test])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        exported = torch.jit.load(str(result.model_path))
    with torch.no_grad():
        outputs = exported(unit).numpy()
    np.testing.assert_allclose(outputs, predict_images(ensemble, data.test, "cpu"), atol=1e-5)
    card = json.loads(result.card_json.read_text())
    assert card["ensemble"]["combination"] == combination and len(card["ensemble"]["members"]) == 2
    assert "## Limitations" in result.card_markdown.read_text()


def test_bad_ensembles_are_refused_naming_the_folder_and_reason(runs, tmp_path: Path) -> None:
    folder, data = runs["folder"], runs["data"]
    with pytest.raises(EnsembleError, match="at least 2"):
        build_ensemble([folder / "a"], tmp_path / "one")
    with pytest.raises(EnsembleError, match="listed twice"):
        build_ensemble([folder / "a", folder / "a"], tmp_path / "twice")
    with pytest.raises(EnsembleError, match="validation split"):
        build_ensemble([folder / "a", folder / "b"], tmp_path / "w", combination="weighted")
    with pytest.raises(EnsembleError, match="unknown combination"):
        build_ensemble([folder / "a", folder / "b"], tmp_path / "x", combination="median")
    # a member retrained in place after the ensemble was built is detected
    member = tmp_path / "member"
    shutil.copytree(folder / "b", member)
    build_ensemble([folder / "a", member], tmp_path / "ens")
    shutil.copy(folder / "a" / "checkpoints" / "best.safetensors", member / "checkpoints" / "best.safetensors")
    with pytest.raises(EnsembleError, match="changed since the ensemble was built"):
        load_ensemble(tmp_path / "ens")


def test_cli_build_evaluate_predict_export_and_train(runs, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder, npz = runs["folder"], runs["npz"]
    out = tmp_path / "ens"
    assert main(["ensemble", "build", str(folder / "a"), str(folder / "b"), "--combine", "weighted", "--data", str(npz),
                 "--out", str(out), "--device", "cpu"]) == 0
    manifest = json.loads((out / "ensemble.json").read_text())
    assert manifest["combination"] == "weighted" and abs(sum(manifest["weights"]) - 1) < 1e-9
    assert [len(m["sha256"]) for m in manifest["members"]] == [64, 64] and manifest["validation"]["n"] == 8
    capsys.readouterr()

    assert main(["evaluate", str(npz), "--run", str(out), "--json", "--device", "cpu", "--tta", "flips"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tta"] == "flips" and result["n"] == 8 and "ci95" in result
    assert [m["run_id"] for m in result["members"]] == ["a", "b"]
    assert all("auc" in m and "accuracy" in m for m in result["members"])
    assert main(["evaluate", str(npz), "--run", str(out), "--no-ci", "--device", "cpu"]) == 0
    assert "members and ensemble side by side" in capsys.readouterr().out

    images = tmp_path / "images"
    images.mkdir()
    from PIL import Image

    for i, pixels in enumerate(np.load(npz)["test_images"][:3]):
        Image.fromarray(pixels).save(images / f"{i}.png")
    assert main(["predict", str(images), "--run", str(out), "--json", "--tta", "flips+rot", "--device", "cpu"]) == 0
    predicted = json.loads(capsys.readouterr().out)
    assert len(predicted["predictions"]) == 3 and predicted["run"] == str(out)
    assert main(["export", "--run", str(out), "--out", str(tmp_path / "exported")]) == 0
    assert (tmp_path / "exported" / "model.torchscript.pt").is_file()
    assert main(["ensemble", "build", str(folder / "a"), "--out", str(tmp_path / "bad")]) == 2
    assert "at least 2" in capsys.readouterr().err

    trained = tmp_path / "trained"
    assert main(["ensemble", "train", str(npz), "--members", "2", "--models", "baseline_cnn", "--epochs", "1",
                 "--image-size", "16", "--batch-size", "8", "--precision", "fp32", "--device", "cpu", "--quiet",
                 "--combine", "vote", "--out", str(trained)]) == 0
    manifest = json.loads((trained / "ensemble.json").read_text())
    assert [m["seed"] for m in manifest["members"]] == [0, 1] and manifest["combination"] == "vote"
    assert all((trained / m["run"] / "report.json").is_file() for m in manifest["members"])
