"""The fuzz runner itself: every kind of contract violation is detected, and the worker survives them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the fuzz worker needs POSIX resource limits")

TARGET = "medtl_gui.core.imaging.fuzzing.selftest:misbehaving_target"


@pytest.fixture(scope="module")
def shared_worker():
    from medtl_gui.core.imaging.fuzzing.runner import WorkerProcess

    process = WorkerProcess(memory_limit=2 * 2**30, bare=True)
    process.start()
    yield process
    process.stop()


@pytest.mark.parametrize(
    ("instruction", "kind"),
    [("ok", None), ("reject", None), ("reject-memory", "memory"), ("raise", "exception"),
     ("violate", "invalid-result"), ("hang", "hang"), ("crash", "crash"), ("allocate", "memory")],
)
def test_runner_classifies_each_outcome(shared_worker, tmp_path: Path, instruction: str, kind: str | None) -> None:
    from medtl_gui.core.imaging.fuzzing.runner import FuzzCampaign, run_campaign

    def make_input(rng, folder: Path) -> Path:  # noqa: ANN001 - random.Random
        path = folder / "input.txt"
        path.write_text(instruction)
        return path

    campaign = FuzzCampaign(f"selftest-{instruction}", TARGET, make_input, bare_worker=True)
    n_inputs = 1 if instruction == "hang" else 2
    worker = None if instruction in ("hang", "crash") else shared_worker  # those two kill their worker
    result = run_campaign(campaign, n_inputs, timeout_s=1.5, memory_limit=2 * 2**30, findings_dir=tmp_path / "findings",
                          worker=worker)
    assert result.tried == n_inputs
    if kind is None:
        assert result.findings == []
        assert (result.read, result.rejected) == ((2, 0) if instruction == "ok" else (0, 2))
        return
    assert [f.kind for f in result.findings] == [kind] * n_inputs
    assert result.unique_findings == 1
    saved = Path(result.findings[0].saved_input)
    assert saved.read_text() == instruction and saved.with_name(saved.name + ".json").is_file()
    if kind == "crash":
        assert result.worker_restarts >= 1, "the worker is restarted after it was lost"
    if kind == "exception":
        assert result.findings[0].type == "KeyError" and "selftest.py" in result.findings[0].where
