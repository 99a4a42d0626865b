"""`medtl check` looks into run folders: leftovers of an interrupted checkpoint save are reported and repaired."""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from medtl_gui.cli import main
from medtl_gui.core.project import Project
from medtl_gui.core.project.integrity_runs import CHECKPOINT_LEFTOVER_SUFFIXES
from medtl_gui.core.training import checkpoints


def test_leftover_suffixes_match_the_checkpoint_writer() -> None:
    assert CHECKPOINT_LEFTOVER_SUFFIXES == (checkpoints.TEMP_SUFFIX, checkpoints.PENDING_SUFFIX)


def test_interrupted_save_is_reported_then_discarded_by_repair(tmp_path: Path) -> None:
    project_dir = tmp_path / "proj"
    Project.create(project_dir).close()
    folder = project_dir / "runs" / "r1" / "checkpoints"
    folder.mkdir(parents=True)
    model = torch.nn.Linear(3, 2)
    checkpoints.save_checkpoint(folder, "last", model, {"epoch": 0})
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    # a later save killed before its commit point: its temporary files stay behind
    leftover = folder / ("last.safetensors" + checkpoints.TEMP_SUFFIX)
    leftover.write_bytes(b"half a tensor file")

    with Project.open(project_dir) as project:
        young = [p for p in project.check().problems if p.code == "checkpoint-save"]
    assert len(young) == 1 and young[0].repair is None, "a save that may still be running is left alone"
    os.utime(leftover, (time.time() - 3600, time.time() - 3600))
    with Project.open(project_dir) as project:
        old = [p for p in project.check().problems if p.code == "checkpoint-save"]
        assert len(old) == 1 and "runs/r1/checkpoints" in old[0].message and old[0].repair
    assert main(["check", str(project_dir), "--repair"]) == 0
    assert not leftover.exists()
    assert checkpoints.read_checkpoint_record(folder, "last")["epoch"] == 0
    restored = checkpoints.load_model_state(folder, "last")
    assert all(torch.equal(restored[k], v) for k, v in saved.items()), "the previous checkpoint is kept"
    with Project.open(project_dir) as project:
        assert project.check().problems == []
