"""Rebuilding a run's model from its folder (``core.inference``), used by evaluate, predict and export."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from medtl_gui.core.data.npz_source import load_npz_splits
from medtl_gui.core.data.synthetic import write_synthetic_npz
from medtl_gui.core.evaluation.run_evaluation import evaluate_run
from medtl_gui.core.inference.trained_model import load_trained_model
from medtl_gui.core.training import TrainConfig, train


def test_loaded_model_reproduces_the_runs_own_test_report(tmp_path: Path) -> None:
    data = load_npz_splits(write_synthetic_npz(tmp_path / "tiny.npz", n_train=16, n_val=8, n_test=12, size=16))
    config = TrainConfig(model="baseline_cnn", image_size=16, epochs=2, batch_size=8, precision="fp32",
                         threshold_policy="youden")
    result = train(config, data, run_dir=tmp_path / "run")
    trained = load_trained_model(tmp_path / "run")
    assert trained.checkpoint == "best" and trained.class_names == ["clear", "opacity"]
    assert trained.threshold == pytest.approx(result.report["decision_threshold"])
    assert trained.report["status"] == "completed" and trained.run_id == "run"
    evaluated = evaluate_run(tmp_path / "run", data.test, confidence_intervals=False, device="cpu")
    assert evaluated["auc"] == pytest.approx(result.report["test"]["auc"], abs=1e-6)
    assert evaluated["accuracy"] == pytest.approx(result.report["test"]["accuracy"])


def test_a_folder_without_checkpoints_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        load_trained_model(tmp_path)


def test_inference_package_imports_without_torch() -> None:
    code = "import sys, medtl_gui.core.inference, medtl_gui.core.pretraining; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
