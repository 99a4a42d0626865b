"""The CLI limits OpenMP spinning before torch loads, as the GUI does, unless the user chose."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from medtl_gui.core.openmp import OPENMP_SPIN_LIMITS, OPENMP_VARIABLES

REPO_ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import os, sys
from medtl_gui import cli
try:
    cli.main(["--version"])
except SystemExit:
    pass
print(os.environ.get("GOMP_SPINCOUNT"), os.environ.get("KMP_BLOCKTIME"), os.environ.get("OMP_WAIT_POLICY"),
      "torch" in sys.modules)
"""


def run_probe(extra: dict[str, str]) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in OPENMP_VARIABLES} | {"PYTHONPATH": str(REPO_ROOT)} | extra
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1].split()  # the line before is --version's output


def test_cli_sets_spin_limits_before_torch_loads() -> None:
    gomp, kmp, policy, torch_loaded = run_probe({})
    assert (gomp, kmp) == (OPENMP_SPIN_LIMITS["GOMP_SPINCOUNT"], OPENMP_SPIN_LIMITS["KMP_BLOCKTIME"])
    assert policy == "None" and torch_loaded == "False"


def test_cli_leaves_a_users_choice_alone() -> None:
    gomp, kmp, policy, _ = run_probe({"OMP_WAIT_POLICY": "PASSIVE"})
    assert (gomp, kmp, policy) == ("None", "None", "PASSIVE")
