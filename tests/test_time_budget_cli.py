"""From the shell on a fresh install: ``--recipe quick`` with an empty weight store trains (and says how),
``--time-budget`` chooses the epochs from a timed probe and records them."""

from __future__ import annotations

import json
import time

from conftest import run_cli, save_splits_npz


def _tiny_npz(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    labels = np.arange(48) % 2
    images = rng.normal(80, 10, (48, 16, 16))
    images[labels == 1, 4:12, 4:12] += 90  # a bright square: learnable
    return save_splits_npz(tmp_path / "tiny.npz", np.clip(images, 0, 255).astype(np.uint8), labels)


def _empty_store_env(tmp_path) -> dict[str, str]:
    return {"MEDTL_WEIGHTS_DIR": str(tmp_path / "weights"), "TORCH_HOME": str(tmp_path / "torch")}


def test_quick_recipe_on_an_empty_weight_store_trains_from_scratch_and_says_why(tmp_path):
    project = tmp_path / "project"
    imported = run_cli(["import", str(project), str(_tiny_npz(tmp_path))])
    assert imported.returncode == 0, imported.stderr
    run = tmp_path / "run"
    done = run_cli(["train", str(project), "--recipe", "quick", "--epochs", "2", "--image-size", "32",
                    "--run-dir", str(run)], extra_env=_empty_store_env(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    reason = done.stderr.splitlines()[0]
    assert "ImageNet ResNet-18 weights are not installed" in reason and "from scratch" in reason
    config = json.loads((run / "config.json").read_text())["config"]
    assert (config["recipe"], config["pretrained"], config["strategy"]) == ("balanced", None, "full")
    assert config["batch_size"] == 16  # 24 training images: adapted to the data
    assert json.loads((run / "report.json").read_text())["status"] == "completed"


def test_time_budget_records_the_budget_and_the_epochs_it_chose(tmp_path):
    run = tmp_path / "run"
    started = time.perf_counter()
    done = run_cli(["train", str(_tiny_npz(tmp_path)), "--time-budget", "0.2", "--image-size", "32",
                    "--run-dir", str(run)], extra_env=_empty_store_env(tmp_path))
    wall = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((run / "config.json").read_text())
    report = json.loads((run / "report.json").read_text())
    assert record["config"]["time_budget_minutes"] == 0.2
    plan = record["time_budget"]
    replans = plan.get("replans", [])
    final = replans[-1]["epochs"] if replans else plan["epochs"]
    assert final == record["config"]["epochs"] >= 1  # the chosen (or re-planned) epochs are the run's epochs
    assert plan["costs"]["batches_timed"] >= 1 and plan["epoch_s"] > 0
    assert report["time_budget"]["epochs_completed"] == report["epochs_completed"] <= final
    metrics = (run / "metrics.jsonl").read_text().splitlines()
    assert len(metrics) == report["epochs_completed"]
    assert "budget 0.2 min" in done.stderr and "left" in done.stderr  # the console shows budget and time left
    assert report["seconds"] < 4 * 12 and wall < 120  # generous: within a multiple of the 12 s budget
