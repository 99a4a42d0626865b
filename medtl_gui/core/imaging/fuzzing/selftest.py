"""Targets that break the contract on purpose: the runner must report each kind of finding.

Used by ``tests/test_fuzz_harness.py`` to show the harness can fail. The
input file's content selects the misbehaviour.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from medtl_gui.core.imaging.fuzzing.contract import ContractViolation, Outcome


def misbehaving_target(path: str) -> Outcome:
    """Read ``path`` and do what it says: ok, reject, raise, violate, hang, crash or allocate."""
    what = Path(path).read_text().strip()
    if what == "ok":
        return "read", "fine"
    if what == "reject":
        return "rejected", "not an image"
    if what == "reject-memory":
        return "rejected", "not enough memory to load this scan"
    if what == "raise":
        raise KeyError("an unexpected exception")
    if what == "violate":
        raise ContractViolation("returned garbage")
    if what == "hang":
        time.sleep(3600)
    if what == "crash":
        os.abort()
    if what == "allocate":
        block = bytearray(2**36)  # 64 GiB: beyond any worker memory limit
        return "read", str(len(block))
    raise ValueError(f"unknown instruction {what!r}")
