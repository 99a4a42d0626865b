"""A short fuzz run over the importers: hostile CSV lists and .npz files never break an import.

Every input is imported into a fresh project in the sandboxed worker: the
import must return a report (each image imported or skipped with a reason),
write nothing outside the project, import nothing from outside the CSV's
folder, leave a project that passes its integrity check, and not allocate
what a lying ``.npy`` header declares.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the fuzz worker needs POSIX resource limits")

INPUTS_PER_TARGET = 20
SEED = int(os.environ.get("MEDTL_FUZZ_SEED", "0"))


@pytest.fixture(scope="module")
def campaigns():
    from medtl_gui.core.project.import_fuzzing import import_campaigns

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {c.name: c for c in import_campaigns(None)}


@pytest.fixture(scope="module")
def worker():
    from medtl_gui.core.imaging.fuzzing.runner import WorkerProcess

    process = WorkerProcess(memory_limit=4 * 2**30, warm_modules=("medtl_gui.core.project",))
    process.start()
    yield process
    process.stop()


@pytest.mark.parametrize("target", ["import-csv", "import-npz"])
def test_short_importer_fuzz_run_finds_nothing(campaigns, worker, target: str) -> None:
    from medtl_gui.core.imaging.fuzzing.runner import run_campaign

    result = run_campaign(campaigns[target], INPUTS_PER_TARGET, seed=SEED, timeout_s=60, worker=worker)
    assert result.tried == INPUTS_PER_TARGET
    assert result.findings == [], "\n".join(
        f"input {f.index} (seed {SEED}): {f.kind} {f.type} at {f.where}: {f.detail}\n{f.traceback}"
        for f in result.findings[:3]
    )
    assert result.read > 0, "some inputs should import"


def test_csv_input_world_holds_symlinks_out(campaigns, tmp_path: Path) -> None:
    """The CSV world really offers ways out (so the campaign tests the traversal guard)."""
    from medtl_gui.core.imaging.fuzzing.runner import make_rng

    csv_path = campaigns["import-csv"].make_input(make_rng("import-csv", 0, 0), tmp_path)
    data = csv_path.parent / "data"
    assert (data / "link_out.png").is_symlink()
    assert not (data / "link_out.png").resolve().is_relative_to(csv_path.parent)
