"""`medtl`: the headless entry point. Same jobs as the GUI, driven from a shell.

Each group of sub-commands lives in its own module under
``medtl_gui/commands/`` and registers itself through ``register(subparsers)``;
this file only assembles them and turns errors into exit codes:

- 0: success
- 1: the job ran but failed (e.g. training diverged)
- 2: bad input (unreadable scan, missing project, invalid arguments),
     reported as one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from medtl_gui import __version__
from medtl_gui.commands import UsageError

#: modules under medtl_gui.commands that define ``register(subparsers)``
COMMAND_MODULES = ("scan", "project", "splits", "engine", "weights", "review", "ensemble", "report", "selftest")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="medtl",
        description="MedTL headless tools: read scans, manage projects, train and evaluate models.",
    )
    parser.add_argument("--version", action="version", version=f"medtl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"medtl_gui.commands.{name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from medtl_gui.core.openmp import limit_openmp_spinning

    limit_openmp_spinning()  # before anything imports torch: the same thread behaviour as the GUI's training
    from medtl_gui.core.imaging.errors import ScanReadError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ScanReadError, UsageError, FileNotFoundError, NotADirectoryError) as exc:
        print(f"medtl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"medtl {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
