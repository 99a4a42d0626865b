"""Checkpoint integrity: a damaged or missing checkpoint is an error naming the file, never used or replaced.

Every checkpoint file's SHA-256 is recorded in its JSON record at the save's commit point and checked
before evaluate, predict, export, resume and the GUI's Apply model use it; ``medtl check`` checks them too.
A missing ``best`` is not replaced by ``last`` (an explicit ``--checkpoint last`` still works); resuming
without a usable ``last`` refuses unless ``--restart`` is given.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli

TRAIN = ["--model", "baseline_cnn", "--pretrained", "none", "--epochs", "1", "--image-size", "16",
         "--batch-size", "4", "--device", "cpu", "--precision", "fp32"]


def _project(tmp: Path) -> Path:
    """Two classes of 6 small PNGs (labelled, split) and 2 unlabelled images."""
    from medtl_gui.core.project import Project

    rng = np.random.default_rng(5)
    scans = tmp / "scans"
    scans.mkdir()
    folder = tmp / "project"
    with Project.create(folder) as project:
        for name in ("normal", "effusion"):
            project.add_class(name)
        ids: dict[str, list[int]] = {"normal": [], "effusion": []}
        for k, name in enumerate(("normal", "effusion", None)):
            for i in range(6 if name else 2):
                path = scans / f"{name or 'new'}_{i}.png"
                Image.fromarray((rng.integers(0, 120, (16, 16)) + 100 * k).astype(np.uint8)).save(path)
                image_id = project.add_image(path, copy=True)
                if name:
                    project.set_label(image_id, name, user="dr.a")
                    ids[name].append(image_id)
        labelled = ids["normal"] + ids["effusion"]
        project.set_splits(labelled, "train")
        project.set_splits([ids["normal"][0], ids["effusion"][0]], "val")
        project.set_splits([ids["normal"][1], ids["effusion"][1]], "test")
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A project with one finished 1-epoch run in its runs/ folder (copy it before changing it)."""
    tmp = tmp_path_factory.mktemp("checkpoint-integrity")
    project = _project(tmp)
    done = run_cli(["train", str(project), *TRAIN, "--quiet"])
    assert done.returncode == 0, done.stderr[-3000:]
    return project


@pytest.fixture
def project(trained: Path, tmp_path: Path) -> Path:
    """A private copy of the trained project."""
    return Path(shutil.copytree(trained, tmp_path / "project"))


def _run(project: Path) -> Path:
    (run,) = sorted((project / "runs").iterdir())
    return run


def _flip(path: Path, n: int = 200) -> None:
    """Flip ``n`` bytes in the middle of the tensor data (past the header)."""
    data = bytearray(path.read_bytes())
    assert len(data) > 4 * n
    start = len(data) // 2
    for k in range(start, start + n):
        data[k] ^= 0xFF
    path.write_bytes(bytes(data))


def _proposals(project: Path) -> int:
    from medtl_gui.core.project import Project

    with Project.open(project) as opened:
        return sum(opened.proposal(r.id) is not None for r in opened.images())


def _one_line_naming(done, path: Path) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout[-1000:], done.stderr[-2000:])
    err = done.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert str(path) in err, err
    return err


def test_flipped_bytes_in_best_stop_evaluate_predict_and_export_and_check_reports_them(project: Path) -> None:
    run = _run(project)
    best = run / "checkpoints" / "best.safetensors"
    record = json.loads((run / "checkpoints" / "best.json").read_text())
    assert len(record["sha256"]["best.safetensors"]) == 64, "the hash is recorded when the checkpoint is saved"
    assert run_cli(["check", str(project)]).returncode == 0
    _flip(best)

    err = _one_line_naming(run_cli(["evaluate", str(project), "--run", str(run), "--no-ci"]), best)
    assert "SHA-256" in err
    _one_line_naming(run_cli(["predict", str(project), "--run", str(run)]), best)
    assert _proposals(project) == 0, "no proposal is stored from a damaged checkpoint"
    _one_line_naming(run_cli(["export", "--run", str(run), "--out", str(project.parent / "export")]), best)
    assert not (project.parent / "export").exists() or not any((project.parent / "export").iterdir())

    checked = run_cli(["check", str(project)])
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"runs/{run.name}/checkpoints/best.safetensors" in checked.stdout and "SHA-256" in checked.stdout
    assert "Traceback" not in checked.stderr
    # the last checkpoint is intact: naming it explicitly still works
    assert run_cli(["evaluate", str(project), "--run", str(run), "--checkpoint", "last", "--no-ci"]).returncode == 0


def test_a_deleted_best_is_refused_by_name_and_never_replaced_by_last(project: Path) -> None:
    run = _run(project)
    best = run / "checkpoints" / "best.safetensors"
    best.unlink()
    done = run_cli(["evaluate", str(project), "--run", str(run), "--no-ci", "--json"])
    _one_line_naming(done, best)
    assert done.stdout == "", "no metrics from another checkpoint"
    _one_line_naming(run_cli(["predict", str(project), "--run", str(run)]), best)
    assert _proposals(project) == 0
    checked = run_cli(["check", str(project)])
    assert checked.returncode == 1 and f"runs/{run.name}/checkpoints/best.safetensors" in checked.stdout
    explicit = run_cli(["predict", str(project), "--run", str(run), "--checkpoint", "last", "--unlabelled"])
    assert explicit.returncode == 0, explicit.stderr[-2000:]
    assert _proposals(project) == 2


def test_resume_without_a_usable_last_refuses_and_restart_trains_again_in_the_same_folder(project: Path) -> None:
    run = _run(project)
    checkpoints = run / "checkpoints"
    last = checkpoints / "last.safetensors"
    _flip(last)
    _one_line_naming(run_cli(["train", str(project), "--resume", str(run), "--quiet"]), last)
    last.unlink()
    metrics_before = (run / "metrics.jsonl").read_text()
    err = _one_line_naming(run_cli(["train", str(project), "--resume", str(run), "--quiet"]), last)
    assert "--restart" in err
    assert (run / "metrics.jsonl").read_text() == metrics_before, "a refused resume changes nothing"
    assert run_cli(["train", str(project), "--restart", "--quiet"]).returncode == 2, "--restart needs --resume"

    done = run_cli(["train", str(project), "--resume", str(run), "--restart", "--quiet", "--json"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["status"] == "completed"
    record = json.loads((checkpoints / "last.json").read_text())
    assert set(record["sha256"]) == {"last.safetensors", "last.optim.safetensors"}
    (previous,) = run.glob("previous-attempt-*")
    assert (previous / "checkpoints" / "best.safetensors").is_file(), "the earlier attempt is kept aside"
    assert (previous / "metrics.jsonl").read_text() == metrics_before
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1
    assert run_cli(["check", str(project)]).returncode == 0


def test_a_checkpoint_saved_before_hashes_were_recorded_is_checked_as_far_as_possible(project: Path) -> None:
    run = _run(project)
    for tag in ("best", "last"):
        path = run / "checkpoints" / f"{tag}.json"
        record = json.loads(path.read_text())
        del record["sha256"]
        path.write_text(json.dumps(record))
    done = run_cli(["evaluate", str(project), "--run", str(run), "--no-ci"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.count("no recorded hash") == 1 and "best.safetensors" in done.stderr
    checked = run_cli(["check", str(project)])
    assert checked.returncode == 0 and "no recorded hash" in checked.stdout
    best = run / "checkpoints" / "best.safetensors"
    best.write_bytes(best.read_bytes()[:100])  # a truncated file: its header no longer matches its size
    _one_line_naming(run_cli(["evaluate", str(project), "--run", str(run), "--no-ci"]), best)
    assert run_cli(["check", str(project)]).returncode == 1


def test_apply_model_in_the_window_refuses_a_damaged_checkpoint_naming_it(qtbot, main_window) -> None:
    from test_gui_training import RUN_TIMEOUT_MS, tiny_run

    ctl = main_window.training
    tiny_run(ctl.panel, epochs=1)
    with qtbot.waitSignal(ctl.session.finished, timeout=RUN_TIMEOUT_MS) as finished:
        assert ctl.start_training()
    assert finished.args[0].status == "completed", finished.args[0].error
    qtbot.waitUntil(lambda: any(r.usable_model for r in ctl.history.runs), timeout=10_000)
    run = ctl.model_run()
    best = run.path / "checkpoints" / "best.safetensors"
    _flip(best)
    done: list = []
    ctl.prediction_done.connect(done.append)
    job = ctl.apply_model()
    assert job is not None
    qtbot.waitUntil(lambda: not ctl.progress.busy and not ctl.progress.isVisible(), timeout=RUN_TIMEOUT_MS)
    assert done == [], "nothing was predicted"
    message = ctl.progress.last_error
    assert message and str(best) in message and "SHA-256" in message, message
    assert ctl.progress.error_box.isVisible() and str(best) in ctl.progress.error_box.text()
    assert all(main_window.project.proposal(r.id) is None for r in main_window.project.images())
