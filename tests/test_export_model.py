"""``medtl export``: TorchScript (and ONNX when installed) that reproduce the run's model, plus a model card."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from medtl_gui.cli import main
from medtl_gui.core.data.npz_source import load_npz_splits
from medtl_gui.core.data.synthetic import write_synthetic_npz
from medtl_gui.core.inference.export import ExportError, export_run
from medtl_gui.core.inference.prediction import predict_images
from medtl_gui.core.inference.trained_model import load_trained_model
from medtl_gui.core.training import TrainConfig, train

CARD_KEYS = {"architecture", "weights_source", "training_data", "metrics", "intended_use", "limitations", "input",
             "output", "training", "export"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, object]:
    folder = tmp_path_factory.mktemp("export")
    data = load_npz_splits(write_synthetic_npz(folder / "tiny.npz", n_train=16, n_val=8, n_test=8, size=16))
    config = TrainConfig(model="resnet18", image_size=32, epochs=1, batch_size=8, precision="fp32")
    assert train(config, data, run_dir=folder / "run").status == "completed"
    return folder / "run", data


def test_torchscript_export_gives_the_run_models_outputs(trained, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    run, data = trained
    assert main(["export", "--run", str(run), "--format", "torchscript", "--out", str(tmp_path / "ts")]) == 0
    assert "model card" in capsys.readouterr().out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        exported = torch.jit.load(str(tmp_path / "ts" / "model.torchscript.pt"))
    model = load_trained_model(run)
    unit = torch.stack([model.preprocessing.prepare(item.load()) for item in data.test])  # [0, 1] model inputs
    with torch.no_grad():
        outputs = exported(unit).numpy()
    expected = predict_images(model, data.test, device="cpu")
    np.testing.assert_allclose(outputs, expected, atol=1e-5)
    assert outputs.shape == (8, 2) and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-6)

    card = json.loads((tmp_path / "ts" / "model_card.json").read_text())
    assert CARD_KEYS <= set(card)
    assert card["architecture"]["name"] == "resnet18" and card["output"]["class_names"] == ["clear", "opacity"]
    assert card["weights_source"].startswith("random initialisation")
    assert card["training_data"]["counts"]["train"] == [int(n) for n in data.train.class_counts()]
    assert card["metrics"]["test"]["n"] == 8 and "auc" in card["metrics"]["test"]
    assert card["export"]["max_abs_difference"] <= 1e-4 and len(card["export"]["sha256"]) == 64
    markdown = (tmp_path / "ts" / "model_card.md").read_text()
    for heading in ("## Model details", "## Intended use", "## Training data", "## Metrics", "## Limitations"):
        assert heading in markdown


def test_onnx_export_or_a_clear_message_naming_the_package(trained, tmp_path: Path, monkeypatch) -> None:
    run, _ = trained
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the package were not installed
    with pytest.raises(ExportError, match="needs the Python package 'onnx'"):
        export_run(run, "onnx", tmp_path / "missing")
    assert not (tmp_path / "missing").exists()
    monkeypatch.undo()
    pytest.importorskip("onnx")
    result = export_run(run, "onnx", tmp_path / "onnx")
    assert result.model_path.name == "model.onnx" and result.max_abs_difference <= 1e-4
    assert json.loads(result.card_json.read_text())["export"]["format"] == "onnx"


def test_unknown_format_and_missing_run_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(ExportError, match="unknown export format"):
        export_run(tmp_path, "pickle")
    assert main(["export", "--run", str(tmp_path / "nowhere")]) == 2
    assert "not a run folder" in capsys.readouterr().err
