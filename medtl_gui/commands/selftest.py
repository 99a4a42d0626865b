"""`medtl self-test [--no-gui]`: check this installation and print a PASS/FAIL report.

The same checks as ``medtl-gui --self-test`` (see :mod:`medtl_gui.selftest`);
on Windows this console program is the one whose report shows in a terminal.
Exit 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add ``self-test`` to the CLI's sub-parsers."""
    p = sub.add_parser("self-test", help="check this installation (codecs, training, window, weights)",
                       description="Imports everything, decodes one DICOM file per transfer syntax, runs one "
                                   "CPU training step, opens the main window offscreen and verifies bundled "
                                   "weights, with the network blocked. Exit 1 if any check failed.")
    p.add_argument("--no-gui", action="store_true", help="skip the Qt checks (no main window)")
    p.set_defaults(func=run_self_test)


def run_self_test(args: argparse.Namespace) -> int:
    """Handler of ``medtl self-test``."""
    from medtl_gui.selftest import main

    return main(gui=not args.no_gui)
