"""Supervised in-domain pretraining and the ``medtl pretrain`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from medtl_gui.cli import main
from medtl_gui.core.data.npz_source import load_npz_splits
from medtl_gui.core.data.synthetic import write_synthetic_npz
from medtl_gui.core.models.weights import WeightStore
from medtl_gui.core.pretraining import PretrainConfig
from medtl_gui.core.pretraining.supervised import pretrain_supervised
from medtl_gui.core.training import TrainConfig
from medtl_gui.core.training.checkpoints import load_model_state
from medtl_gui.core.training.run_setup import build_run_model, resolve_settings


@pytest.fixture
def source_npz(tmp_path: Path) -> Path:
    return write_synthetic_npz(tmp_path / "source.npz", n_train=16, n_val=8, n_test=4, size=16)


def test_supervised_pretraining_keeps_the_best_backbone(source_npz: Path, tmp_path: Path) -> None:
    store = WeightStore(tmp_path / "weights", hub_dirs=[])
    config = PretrainConfig(method="supervised", name="source-sup", model="resnet18", image_size=32, epochs=2,
                            precision="fp32")
    result = pretrain_supervised(config, load_npz_splits(source_npz), run_dir=tmp_path / "run", weight_store=store)
    assert result.status == "completed" and result.weights is not None
    entry = store.find("source-sup")
    assert entry.source == "supervised on source.npz (clear, opacity)" and entry.layout == "medtl-backbone"
    run_config = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert (run_config["recipe"], run_config["image_size"], run_config["epochs"]) == ("balanced", 32, 2)

    best = load_model_state(tmp_path / "run" / "checkpoints", "best")
    stored = store.load(entry).state_dict
    assert all(torch.equal(best[f"backbone.{key}"], value) for key, value in stored.items())

    target = load_npz_splits(write_synthetic_npz(tmp_path / "target.npz", n_train=8, n_val=4, n_test=4, size=16,
                                                 seed=5))
    train_config = TrainConfig(model="resnet18", pretrained="source-sup", image_size=32, precision="fp32")
    bundle = build_run_model(train_config, resolve_settings(train_config, target), store)
    assert torch.equal(bundle.model.backbone.stem[0].weight, stored["stem.0.weight"])
    assert torch.equal(bundle.model.backbone.layer4[1].bn2.running_mean, stored["layer4.1.bn2.running_mean"])


def test_pretrain_command_then_train_with_the_weights(source_npz: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    weights = tmp_path / "weights"
    assert main(["pretrain", str(source_npz), "--method", "ssl", "--name", "cli-ssl", "--model", "baseline_cnn",
                 "--epochs", "1", "--image-size", "16", "--batch-size", "8", "--precision", "fp32",
                 "--weights-dir", str(weights), "--run-dir", str(tmp_path / "pre"), "--quiet"]) == 0
    assert "--pretrained cli-ssl" in capsys.readouterr().err
    assert main(["weights", "list", "--dir", str(weights), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["entries"]
    assert [(e["name"], e["source"]) for e in listed] == [("cli-ssl", "self-supervised (SimCLR) on source.npz")]

    assert main(["train", str(source_npz), "--model", "baseline_cnn", "--pretrained", "cli-ssl", "--epochs", "1",
                 "--image-size", "16", "--precision", "fp32", "--weights-dir", str(weights),
                 "--run-dir", str(tmp_path / "fine"), "--quiet"]) == 0
    record = json.loads((tmp_path / "fine" / "config.json").read_text())
    assert record["weights"]["name"] == "cli-ssl" and record["weights"]["source"].startswith("self-supervised")

    assert main(["pretrain", str(source_npz), "--method", "ssl", "--name", "cli-ssl", "--weights-dir",
                 str(weights)]) == 2
    assert "already holds weights named 'cli-ssl'" in capsys.readouterr().err
