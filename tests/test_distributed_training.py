"""`medtl train --nproc-per-node 2`: the same engine under DDP (2 CPU processes, gloo).

The 2-process run is checked against a single-process run of the same
config: LeNet-5 (no batch norm), no augmentation, SGD, and one step per
epoch on the whole training set, so both take the same steps on the same
global batch and must end with the same weights and validation metrics.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from medtl_gui.cli import main
from medtl_gui.core.data.npz_source import load_npz_splits
from medtl_gui.core.data.synthetic import write_synthetic_npz
from medtl_gui.core.training import TrainConfig, train
from medtl_gui.core.training.distributed import DistributedWeightedSampler
from medtl_gui.core.training.distributed_launch import LaunchPlan

from conftest import run_cli

N_TRAIN, N_VAL, N_TEST = 32, 20, 12
SETTINGS = {"model": "lenet5", "epochs": 2, "batch_size": N_TRAIN, "image_size": 16, "optimizer": "sgd",
            "lr": 0.05, "augmentation": "none", "imbalance": "none", "precision": "fp32", "device": "cpu",
            "strategy": "full", "seed": 3}
OPTIONS = ["--model", "lenet5", "--epochs", "2", "--batch-size", str(N_TRAIN), "--image-size", "16",
           "--optimizer", "sgd", "--lr", "0.05", "--augmentation", "none", "--imbalance", "none",
           "--precision", "fp32", "--device", "cpu", "--strategy", "full", "--seed", "3"]


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ddp-data")
    return write_synthetic_npz(folder / "tiny.npz", n_train=N_TRAIN, n_val=N_VAL, n_test=N_TEST, size=16)


def test_two_processes_write_one_complete_run_equal_to_a_single_process_run(tiny_npz: Path,
                                                                              tmp_path: Path) -> None:
    run = tmp_path / "ddp-run"
    done = run_cli(["train", str(tiny_npz), *OPTIONS, "--run-dir", str(run), "--json", "--nproc-per-node", "2"])
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)  # rank 0 alone printed the report: exactly one JSON document
    assert report["status"] == "completed" and report["epochs_completed"] == 2

    # the run folder is complete and written once
    config = json.loads((run / "config.json").read_text())
    used = TrainConfig.from_dict(config["config"])  # the recipe's defaults plus the options
    assert {key: getattr(used, key) for key in SETTINGS} == SETTINGS
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [0, 1]
    for line in lines:  # metrics of the whole validation set, not of one process's shard
        assert np.array(line["confusion_matrix"]).sum() == N_VAL
    for name in ("best.safetensors", "best.json", "last.safetensors", "last.optim.safetensors", "last.json"):
        assert (run / "checkpoints" / name).is_file()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == sorted(
        ["best.safetensors", "best.json", "last.safetensors", "last.optim.safetensors", "last.json"])
    assert report["test"]["n"] == N_TEST and np.array(report["val"]["confusion_matrix"]).sum() == N_VAL
    assert done.stderr.count("  folder:") == 1 and done.stderr.count("completed:") == 1, "rank 0 alone prints"

    # the same config in one process: same steps on the same global batches -> same weights and metrics
    single = train(used, load_npz_splits(tiny_npz), run_dir=tmp_path / "single")
    assert single.status == "completed"
    ddp_weights = load_file(str(run / "checkpoints" / "last.safetensors"))
    one_weights = load_file(str(tmp_path / "single" / "checkpoints" / "last.safetensors"))
    assert ddp_weights.keys() == one_weights.keys()
    for key, value in one_weights.items():
        torch.testing.assert_close(ddp_weights[key], value, rtol=1e-4, atol=1e-5, msg=key)
    single_lines = [json.loads(line) for line in (tmp_path / "single" / "metrics.jsonl").read_text().splitlines()]
    for ddp_line, one_line in zip(lines, single_lines):
        assert ddp_line["val_loss"] == pytest.approx(one_line["val_loss"], rel=1e-4)
        assert ddp_line["train_loss"] == pytest.approx(one_line["train_loss"], rel=1e-4)
        assert ddp_line["confusion_matrix"] == one_line["confusion_matrix"]
    assert ddp_line["train_loss"] < lines[0]["train_loss"], "the two steps changed the weights"


def test_a_failing_process_ends_the_job_with_a_clear_message(tiny_npz: Path, tmp_path: Path) -> None:
    done = run_cli(["train", str(tiny_npz), *OPTIONS, "--run-dir", str(tmp_path / "run"), "--quiet",
                    "--nproc-per-node", "2"], extra_env={"MEDTL_TEST_FAIL_RANK": "1:1"}, timeout=180)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "[rank 1]" in done.stderr and "fails at step 1 (test hook)" in done.stderr
    assert "distributed training failed: rank 1 stopped with exit code 1" in done.stderr


def test_the_global_batch_must_split_evenly(tiny_npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["train", str(tiny_npz), *OPTIONS[:4], "--batch-size", "15", "--nproc-per-node", "2",
                 "--run-dir", str(tmp_path / "run")])
    assert code == 2
    assert "global batch" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_launch_plan_is_torchruns_options() -> None:
    assert LaunchPlan(2).torchrun_arguments() == ["--nproc-per-node", "2", "--max-restarts", "0", "--standalone"]
    two_machines = LaunchPlan(4, nnodes=2, node_rank=1, master_addr="10.0.0.1", master_port=29600)
    assert two_machines.world_size == 8
    assert two_machines.torchrun_arguments()[-8:] == ["--nnodes", "2", "--node-rank", "1", "--master-addr",
                                                       "10.0.0.1", "--master-port", "29600"]
    with pytest.raises(ValueError, match="master-addr"):
        LaunchPlan(2, nnodes=2).check()


def test_distributed_weighted_sampler_splits_one_balanced_draw() -> None:
    targets = np.array([0] * 90 + [1] * 10)
    weights = torch.as_tensor(np.where(targets == 1, 9.0, 1.0))
    shares = [list(DistributedWeightedSampler(weights, 3, r, seed=7)) for r in range(3)]
    assert [len(s) for s in shares] == [34, 34, 34]
    drawn = torch.multinomial(weights.double(), 102, replacement=True,
                              generator=torch.Generator().manual_seed(7)).tolist()
    assert sorted(sum(shares, [])) == sorted(drawn), "together the ranks see exactly one weighted draw"
    assert 0.3 < np.mean(targets[sum(shares, [])]) < 0.7, "the minority class is over-sampled"
    assert list(DistributedWeightedSampler(weights, 3, 1, seed=7)) == shares[1], "same seed, same share"
