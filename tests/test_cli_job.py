"""The CLI's one job wrapper (medtl_gui.commands.job): Ctrl+C, exit codes, bad input, handler restored."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medtl_gui.commands import UsageError
from medtl_gui.commands.job import cancellable_job, exit_code

COMMANDS = Path(__file__).resolve().parents[1] / "medtl_gui" / "commands"


def _marker_handler(signum, frame) -> None:  # pragma: no cover - never called, only compared
    raise AssertionError("the previous handler must not be called during a job")


def _wait_for_cancel(control, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not control.cancelled and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.parametrize("status, code", [("completed", 0), ("early_stopped", 0), ("cancelled", 130),
                                          ("failed", 1), ("something_new", 1)])
def test_a_runs_status_maps_to_the_exit_code(status: str, code: int) -> None:
    assert exit_code(status) == code


def test_sigint_during_a_job_cancels_it_and_the_previous_handler_comes_back() -> None:
    previous = signal.signal(signal.SIGINT, _marker_handler)
    try:
        def fake_job(job) -> str:
            assert not job.control.cancelled
            os.kill(os.getpid(), signal.SIGINT)
            _wait_for_cancel(job.control)
            return "cancelled" if job.control.cancelled else "completed"

        with cancellable_job(quiet=True) as job:
            status = fake_job(job)
        assert job.control.cancelled and exit_code(status) == 130
        assert signal.getsignal(signal.SIGINT) is _marker_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_the_previous_handler_comes_back_when_the_job_raises() -> None:
    previous = signal.signal(signal.SIGINT, _marker_handler)
    try:
        with pytest.raises(RuntimeError, match="engine bug"):  # not bad input: passes through unchanged
            with cancellable_job():
                assert signal.getsignal(signal.SIGINT) is not _marker_handler
                raise RuntimeError("engine bug")
        assert signal.getsignal(signal.SIGINT) is _marker_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_bad_input_inside_a_job_is_one_usage_error_and_the_handler_comes_back() -> None:
    from medtl_gui.core.data.errors import DataError
    from medtl_gui.core.training.config import ConfigError

    before = signal.getsignal(signal.SIGINT)
    for error in (DataError("scans.npz", "no train_images array"), ConfigError("epochs", "must be at least 1"),
                  FileExistsError("runs/a: already exists")):
        with pytest.raises(UsageError) as raised:
            with cancellable_job():
                raise error
        assert str(raised.value) == str(error) and raised.value.__cause__ is error
        assert signal.getsignal(signal.SIGINT) is before


def test_progress_is_silent_when_quiet_or_not_the_main_process() -> None:
    with cancellable_job(quiet=False) as job:
        assert not job.progress().quiet and job.progress(main_process=False).quiet
    with cancellable_job(quiet=True) as job:
        assert job.progress().quiet


def test_only_the_job_module_installs_a_sigint_handler() -> None:
    pattern = re.compile(r"signal\.signal\(\s*(signal\.)?SIGINT")
    installers = sorted(p.name for p in COMMANDS.glob("*.py") if pattern.search(p.read_text(encoding="utf-8")))
    assert installers == ["job.py"]
    assert not any("_user_errors() ->" in p.read_text(encoding="utf-8") for p in COMMANDS.glob("*.py"))


def test_help_and_the_job_module_do_not_load_torch() -> None:
    code = ("import sys, medtl_gui.cli as cli, medtl_gui.commands.job; cli.build_parser(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=COMMANDS.parents[1], env=dict(os.environ, PYTHONPATH=str(COMMANDS.parents[1])))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_ctrl_c_during_medtl_train_cancels_the_run_with_exit_130(tmp_path: Path) -> None:
    from medtl_gui.core.data.synthetic import write_synthetic_npz

    data = write_synthetic_npz(tmp_path / "tiny.npz", n_train=48, n_val=16, n_test=20, size=20)
    root = COMMANDS.parents[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "medtl_gui.cli", "train", str(data), "--model", "baseline_cnn", "--epochs", "500",
         "--image-size", "20", "--batch-size", "16", "--precision", "fp32", "--run-dir", str(tmp_path / "run")],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root,
        env=dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1"))
    lines, rest = [], ""
    try:
        for line in process.stderr:  # the run has started (the handler is in place) once its folder is named
            lines.append(line)
            if "folder:" in line:
                process.send_signal(signal.SIGINT)
                break
        _, rest = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    err = "".join(lines) + rest
    assert process.returncode == 130, err
    assert "interrupted" not in err and "Traceback" not in err  # cancelled by the engine, not a KeyboardInterrupt
