"""OpenMP thread behaviour for torch's CPU work, set before torch loads (no torch import here).

Both the GUI (before its worker first imports torch) and ``medtl`` (before
any sub-command runs) call :func:`limit_openmp_spinning`, so the two train
the same way.
"""

from __future__ import annotations

import os

#: OpenMP settings the app uses unless the user set any of them: spin briefly, then sleep
OPENMP_SPIN_LIMITS: dict[str, str] = {"GOMP_SPINCOUNT": "1000", "KMP_BLOCKTIME": "1"}
OPENMP_VARIABLES = ("OMP_WAIT_POLICY", *OPENMP_SPIN_LIMITS)


def limit_openmp_spinning(environ: dict[str, str] | None = None) -> bool:
    """Make torch's CPU threads spin only briefly between operations, then sleep; False if the user chose.

    Must run before torch is first imported (the OpenMP runtime reads the
    variables when it loads): ``GOMP_SPINCOUNT`` for GNU OpenMP (Linux
    wheels), ``KMP_BLOCKTIME`` (ms) for Intel/LLVM OpenMP. By default idle
    threads spin for about a millisecond (GNU) or 200 ms (Intel), keeping
    every core busy between two operations: with a GUI thread and other
    programs on the machine they take the CPU from the threads that have
    work. Measured on this project's 2-core machine, baseline CNN at 64 px
    (``medtl train``, images/s): quiet machine - default spinning 355, spin
    count 1000: 380, no spinning (``OMP_WAIT_POLICY=PASSIVE``): 298; with three
    busy processes beside it - default 52, spin count 1000: 82, passive: 80;
    on the shared machine under other engineers' load - default 12, passive 98.
    """
    env = os.environ if environ is None else environ
    if any(name in env for name in OPENMP_VARIABLES):
        return False
    env.update(OPENMP_SPIN_LIMITS)
    return True
