"""kill -9 during training: mid-epoch, and inside the checkpoint write; then check, resume and finish.

A child process trains on a tiny project (``engine.train``, printing a line
per batch and epoch) and is killed with SIGKILL (a) in the middle of an
epoch and (b) while a checkpoint is being written: the test hook
``MEDTL_TEST_CHECKPOINT_PAUSE`` makes the writer stop at a chosen point of
the write (temporary files written but not committed; committed but half
moved into place) so the kill lands there every time. Afterwards the
project passes ``medtl check``, the checkpoint is the previous complete one
or the new complete one, and ``medtl train --resume`` finishes the run with
exactly the weights of an uninterrupted run (so nothing but the epoch in
progress was lost, and the resumed state was consistent).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_crash_safety import run_and_kill  # the shared kill -9 helper

from medtl_gui.cli import main
from medtl_gui.core.data.sources import open_data_source
from medtl_gui.core.data.synthetic import write_synthetic_npz
from medtl_gui.core.project import Project, import_sources
from medtl_gui.core.training import TrainConfig, train
from medtl_gui.core.training.checkpoints import PAUSE_ENV, load_model_state, read_checkpoint_record

CONFIG = TrainConfig(model="baseline_cnn", epochs=3, batch_size=16, image_size=16, precision="fp32", device="cpu",
                     lr=3e-3, augmentation="light", seed=5)
BATCHES_PER_EPOCH = 3  # 48 training images / 16

TRAIN_CHILD = """
import json, sys, time
import torch
torch.set_num_threads(1)
from medtl_gui.core.data.sources import open_data_source
from medtl_gui.core.training import BatchEnd, EpochEnd, TrainConfig, train
config = TrainConfig.from_dict(json.loads(sys.argv[3]))
data = open_data_source(sys.argv[1])
pace = float(sys.argv[4])
def events(event):
    if isinstance(event, BatchEnd):
        print(f"batch {event.epoch} {event.batch}", flush=True)
        time.sleep(pace)
    elif isinstance(event, EpochEnd):
        print(f"epoch {event.epoch}", flush=True)
print("ready", flush=True)
train(config, data, events, run_dir=sys.argv[2])
print("finished", flush=True)
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train-crash")
    npz = write_synthetic_npz(root / "set.npz", n_train=48, n_val=16, n_test=8, size=16)
    with Project.open_or_create(root / "proj") as store:
        import_sources(store, [npz])
    return root / "proj"


@pytest.fixture(scope="module")
def reference(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkpoints of the same run, uninterrupted."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the child: same kernels, same rounding
    try:
        assert train(CONFIG, open_data_source(project), run_dir=run_dir).status == "completed"
    finally:
        torch.set_num_threads(threads)
    return run_dir / "checkpoints"


def kill_training(project: Path, run_dir: Path, kill_after_lines: int, pace_s: float) -> list[str]:
    return run_and_kill(TRAIN_CHILD, [str(project), str(run_dir), json.dumps(CONFIG.to_dict()), str(pace_s)],
                        kill_after_lines=kill_after_lines, extra_delay_s=0.05)


def resume_and_compare(project: Path, run_dir: Path, reference: Path) -> None:
    """``medtl train --resume`` finishes the run; its checkpoints equal the uninterrupted run's."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["train", str(project), "--resume", str(run_dir), "--quiet"]) == 0
    finally:
        torch.set_num_threads(threads)
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [0, 1, 2], "every epoch recorded exactly once"
    assert json.loads((run_dir / "report.json").read_text())["status"] == "completed"
    checkpoints = run_dir / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == sorted(p.name for p in reference.iterdir())
    for tag in ("last", "best"):
        assert read_checkpoint_record(checkpoints, tag)["epoch"] == read_checkpoint_record(reference, tag)["epoch"]
        resumed, expected = load_model_state(checkpoints, tag), load_model_state(reference, tag)
        for key, value in expected.items():
            torch.testing.assert_close(resumed[key], value, rtol=1e-4, atol=1e-5, msg=f"{tag} {key}")
    assert main(["check", str(project)]) == 0


def test_kill_mid_epoch_loses_only_that_epoch(project: Path, reference: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    # epoch 0's batches and end, then the first batch of epoch 1; the child is paced so the kill lands mid-epoch
    lines = kill_training(project, run_dir, kill_after_lines=BATCHES_PER_EPOCH + 2, pace_s=0.5)
    assert "epoch 0" in lines and "epoch 1" not in lines and "finished" not in lines
    assert main(["check", str(project)]) == 0, "the project passes `medtl check` right after the kill"
    checkpoints = run_dir / "checkpoints"
    assert read_checkpoint_record(checkpoints, "last")["epoch"] == 0
    assert load_model_state(checkpoints, "last").keys() == load_file(str(reference / "last.safetensors")).keys()
    assert not (run_dir / "report.json").exists()
    resume_and_compare(project, run_dir, reference)


@pytest.mark.parametrize(("pause", "lines_before", "epoch_after_kill"), [
    ("written:last:2", 2 * BATCHES_PER_EPOCH + 1, 0),  # epoch 1's files written, not committed: epoch 0 kept
    ("committing:last:2", 2 * BATCHES_PER_EPOCH + 1, 1),  # committed, model file moved, the rest not yet
    ("written:best:1", BATCHES_PER_EPOCH, 0),  # between 'last' and 'best' of epoch 0: best rebuilt from last
])
def test_kill_inside_a_checkpoint_write_keeps_a_complete_checkpoint(
        project: Path, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        pause: str, lines_before: int, epoch_after_kill: int) -> None:
    run_dir = tmp_path / "run"
    phase, tag, _ = pause.split(":")
    monkeypatch.setenv(PAUSE_ENV, pause)
    lines = kill_training(project, run_dir, kill_after_lines=lines_before + 1, pace_s=0.0)
    monkeypatch.delenv(PAUSE_ENV)
    assert lines[-1] == f"checkpoint-pause {phase} {tag}", "the kill landed inside the checkpoint write"
    checkpoints = run_dir / "checkpoints"
    leftovers = {p.name for p in checkpoints.iterdir() if p.name.endswith((".tmp", ".pending"))}
    assert leftovers, "the write was interrupted half-way"
    assert main(["check", str(project)]) == 0
    # readers see a complete checkpoint: the previous one before the commit point, the new one after it
    record = read_checkpoint_record(checkpoints, "last")
    assert record["epoch"] == epoch_after_kill
    state = load_model_state(checkpoints, "last")
    assert state.keys() == load_file(str(reference / "last.safetensors")).keys()
    resume_and_compare(project, run_dir, reference)
    assert not [p for p in checkpoints.iterdir() if p.name.endswith((".tmp", ".pending"))]
