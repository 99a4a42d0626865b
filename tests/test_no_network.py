"""No network, proven: import -> train -> evaluate -> export with every network socket refused.

Only the user's commands: ``medtl import`` of a class-folder tree (labels from
the folder names, splits assigned by the import), ``medtl train``, ``medtl
evaluate``, ``medtl export``; no Python-API step in between.

In-process with :func:`medtl_gui.selftest.network_guard.blocked_network`,
and in a child process whose ``sitecustomize`` blocks the network before
anything else is imported (the ``medtl`` command-line path).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medtl_gui.selftest.network_guard import NetworkBlockedError, blocked_network, network_is_blocked

REPO = Path(__file__).resolve().parents[1]


def make_class_tree(root: Path, n: int = 16, size: int = 16) -> Path:
    """``n`` small greyscale PNGs in ``lesion/`` (dark with a bright square) and ``normal/`` (plain)."""
    rng = np.random.default_rng(3)
    for index in range(n):
        image = rng.integers(0, 60, (size, size)).astype(np.uint8)
        if index % 2 == 0:
            image[4:12, 4:12] = 220
        folder = root / ("lesion" if index % 2 == 0 else "normal")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"scan_{index:02d}.png")
    return root


def full_workflow(tmp_path: Path, cli_main) -> dict:
    """import -> train (baseline_cnn, 1 epoch) -> evaluate -> export; returns what each step made."""
    source = make_class_tree(tmp_path / "scans")
    project_dir, run_dir = tmp_path / "project", tmp_path / "run"
    assert cli_main(["import", str(project_dir), str(source), "--copy"]) == 0
    assert cli_main(["train", str(project_dir), "--model", "baseline_cnn", "--pretrained", "none", "--epochs", "1",
                     "--image-size", "16", "--batch-size", "8", "--precision", "fp32", "--device", "cpu",
                     "--run-dir", str(run_dir), "--quiet"]) == 0
    assert cli_main(["evaluate", str(project_dir), "--run", str(run_dir), "--split", "test", "--no-ci",
                     "--device", "cpu"]) == 0
    assert cli_main(["export", "--run", str(run_dir), "--format", "torchscript", "--out", str(tmp_path / "export")]) == 0
    from medtl_gui.core.project import Project  # reading back what the commands made

    with Project.open(project_dir) as project:
        splits = project.info()["splits"]
    return {"images": sum(s["images"] for s in splits.values()), "unassigned": splits["unassigned"]["images"],
            "report": json.loads((run_dir / "report.json").read_text()),
            "exported": sorted(p.name for p in (tmp_path / "export").iterdir())}


def test_the_guard_refuses_network_sockets_and_lookups_but_not_local_pipes() -> None:
    with blocked_network() as attempts:
        assert network_is_blocked()
        with pytest.raises(NetworkBlockedError):
            socket.create_connection(("127.0.0.1", 9))
        with pytest.raises(NetworkBlockedError):
            socket.getaddrinfo("example.org", 443)
        with pytest.raises(NetworkBlockedError):
            socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        left, right = socket.socketpair()  # Unix-domain: local IPC stays allowed
        left.close(), right.close()
    assert len(attempts) == 3 and "example.org" in attempts[1]
    assert not network_is_blocked()
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()  # restored afterwards


def test_import_label_train_evaluate_export_in_process_without_network(tmp_path: Path, monkeypatch,
                                                                        capsys: pytest.CaptureFixture) -> None:
    from medtl_gui.cli import main

    monkeypatch.setenv("MEDTL_WEIGHTS_DIR", str(tmp_path / "weights"))
    with blocked_network() as attempts:
        made = full_workflow(tmp_path, main)
    assert attempts == []
    assert made["images"] == 16 and made["unassigned"] == 0  # the import assigned every split
    assert made["report"]["status"] == "completed"
    assert any(name.endswith(".pt") for name in made["exported"]), made["exported"]
    assert "accuracy" in capsys.readouterr().out


CHILD_SCRIPT = """
import json, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
import socket
from medtl_gui.selftest.network_guard import NetworkBlockedError, network_is_blocked
assert network_is_blocked(), "sitecustomize did not block the network"
from medtl_gui.cli import main
from test_no_network import full_workflow
made = full_workflow(Path({tmp!r}), main)
from medtl_gui.selftest.network_guard import ATTEMPTS
print(json.dumps({{"status": made["report"]["status"], "exported": made["exported"], "attempts": ATTEMPTS}}))
"""


def test_command_line_workflow_in_a_child_process_with_the_network_blocked_from_start(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent("""
        from medtl_gui.selftest.network_guard import block_network
        block_network()
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(REPO)]),
               MEDTL_WEIGHTS_DIR=str(tmp_path / "weights"), OMP_NUM_THREADS="1")
    script = CHILD_SCRIPT.format(tests=str(REPO / "tests"), tmp=str(tmp_path / "work"))
    (tmp_path / "work").mkdir()
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "completed" and result["attempts"] == []
    assert any(name.endswith(".pt") for name in result["exported"])
