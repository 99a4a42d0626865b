"""`medtl train` and `medtl evaluate` on a tiny generated .npz."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medtl_gui.cli import main
from medtl_gui.core.data.synthetic import write_synthetic_npz

REQUIRED_KEYS = {"accuracy", "balanced_accuracy", "precision", "recall", "specificity", "f1", "auc",
                 "confusion_matrix", "n"}


@pytest.fixture
def tiny_npz(tmp_path: Path) -> Path:
    return write_synthetic_npz(tmp_path / "tiny.npz", n_train=48, n_val=16, n_test=20, size=20)


def _train(tiny_npz: Path, run_dir: Path, *extra: str) -> int:
    return main(["train", str(tiny_npz), "--model", "baseline_cnn", "--epochs", "2", "--image-size", "20",
                 "--batch-size", "16", "--precision", "fp32", "--run-dir", str(run_dir), *extra])


def test_train_then_evaluate_prints_the_metrics_json(tiny_npz: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    assert _train(tiny_npz, tmp_path / "run", "--json", "--augmentation", "none") == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["status"] == "completed" and report["test"]["n"] == 20
    assert "epoch 2/2" in captured.err and "folder" in captured.err

    assert main(["evaluate", str(tiny_npz), "--run", str(tmp_path / "run"), "--split", "test", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert REQUIRED_KEYS <= set(result) and result["n"] == 20 and result["split"] == "test"
    assert result["accuracy"] == pytest.approx(report["test"]["accuracy"])
    assert result["auc"] == pytest.approx(report["test"]["auc"], abs=1e-6)
    assert set(result["ci95"]) >= {"accuracy", "auc"}

    assert main(["evaluate", str(tiny_npz), "--run", str(tmp_path / "run"), "--split", "val"]) == 0
    assert "balanced_accuracy" in capsys.readouterr().out


def test_config_file_is_used_and_options_override_it(tiny_npz: Path, tmp_path: Path) -> None:
    from medtl_gui.core.training import TrainConfig

    config = tmp_path / "cfg.json"
    TrainConfig(model="lenet5", epochs=1, strategy="finetune_last_n", trainable_stages=1, batch_size=8,
                image_size=20, precision="fp32").save(config)
    assert main(["train", str(tiny_npz), "--config", str(config), "--epochs", "2", "--run-dir",
                 str(tmp_path / "run"), "--quiet"]) == 0
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert (saved["model"], saved["epochs"], saved["strategy"]) == ("lenet5", 2, "finetune_last_n")


def test_bad_input_is_one_line_with_exit_code_2(tiny_npz: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    assert _train(tiny_npz, tmp_path / "a", "--strategy", "nonsense") == 2
    assert "strategy" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "missing.npz")]) == 2
    assert "no such file" in capsys.readouterr().err
    empty_store = tmp_path / "weights"
    assert main(["train", str(tiny_npz), "--model", "resnet18", "--pretrained", "imagenet",
                 "--weights-dir", str(empty_store)]) == 2
    err = capsys.readouterr().err
    assert "medtl weights import resnet18-f37072fd.pth" in err and len(err.strip().splitlines()) == 1
    assert main(["evaluate", str(tiny_npz), "--run", str(tmp_path / "nowhere")]) == 2


def test_resume_from_the_command_line(tiny_npz: Path, tmp_path: Path) -> None:
    assert _train(tiny_npz, tmp_path / "run", "--quiet") == 0
    # resuming a finished run continues nowhere: it re-reports without training again
    assert main(["train", str(tiny_npz), "--resume", str(tmp_path / "run"), "--quiet"]) == 0
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2
