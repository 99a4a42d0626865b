"""Segmentation under DDP: `medtl train --task segmentation --nproc-per-node 2` (2 CPU processes, gloo)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from medtl_gui.core.data.segmentation_cases import PreparedCase
from medtl_gui.core.training import ConfigError, TrainConfig
from medtl_gui.core.tasks.segmentation_batches import SegmentationBatches

from conftest import run_cli


def _cases(n: int) -> list[PreparedCase]:
    cases = []
    for index in range(n):
        labels = torch.zeros((40, 40), dtype=torch.uint8)
        labels[10:20, 10:20] = 1
        cases.append(PreparedCase(f"c{index}", f"c{index}", torch.rand(1, 40, 40), labels,
                                  torch.ones((40, 40), dtype=torch.bool), False, torch.zeros(1), torch.ones(1)))
    return cases


def test_each_process_takes_an_equal_disjoint_share_of_the_epochs_patches() -> None:
    config = TrainConfig(task="segmentation", model="unet_small", batch_size=4, patches_per_image=5,
                         augmentation="none", seed=2)
    cases = {"train": _cases(3)}  # 15 patches: 8 per process, one of them repeated to even the steps
    single = SegmentationBatches(cases, config, 16)
    shares = [SegmentationBatches(cases, config, 16, replicas=2, rank=rank) for rank in (0, 1)]
    # the global batch of 4 is 2 patches per process: as many steps as one process takes
    assert [s.batches_per_epoch() for s in shares] == [4, 4] == [single.batches_per_epoch()] * 2
    loaders = [share.train_loader(epoch=1) for share in shares]
    plans = [[loader.dataset.plan[i] for i in loader.sampler] for loader in loaders]
    whole = single.train_loader(epoch=1).dataset.plan
    assert len(plans[0]) == len(plans[1]) == 8
    assert sorted(plans[0] + plans[1][:-1]) == sorted(whole), "together the shares are the epoch's plan"
    assert plans[1][-1] in plans[0], "the padding repeats a patch of the epoch"
    with pytest.raises(ConfigError, match="batch_size"):
        SegmentationBatches(cases, config, 16, replicas=3, rank=0)


def test_two_processes_train_one_segmentation_run(demo_project_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    done = run_cli(["train", str(demo_project_dir), "--task", "segmentation", "--model", "unet_small",
                    "--base-channels", "8", "--epochs", "2", "--image-size", "48", "--patches-per-image", "4",
                    "--batch-size", "8", "--precision", "fp32", "--device", "cpu", "--run-dir", str(run),
                    "--json", "--nproc-per-node", "2"])
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)  # rank 0 alone printed: exactly one JSON document
    assert report["status"] == "completed" and report["epochs_completed"] == 2 and "dice" in report["val"]
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [0, 1], "each epoch recorded once"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == sorted(
        ["best.safetensors", "best.json", "last.safetensors", "last.optim.safetensors", "last.json"])
    assert done.stderr.count("  folder:") == 1, "rank 0 alone prints"
    refused = run_cli(["train", str(demo_project_dir), "--task", "segmentation", "--batch-size", "7",
                       "--run-dir", str(tmp_path / "odd"), "--nproc-per-node", "2"])
    assert refused.returncode == 2 and "multiple of the 2 processes" in refused.stderr
