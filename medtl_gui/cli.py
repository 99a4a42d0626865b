"""`medtl`: the headless entry point. Same jobs as the GUI, driven from a shell.

Each group of sub-commands lives in its own module under
``medtl_gui/commands/`` and registers itself through ``register(subparsers)``;
this file only assembles them and turns errors into exit codes:

- 0: success
- 1: the job ran but failed (e.g. training diverged)
- 2: bad input (unreadable scan, missing project, invalid arguments),
     reported as one line on stderr, never a traceback.

A full disk is one line too (exit 1): the project store undoes what the
failed operation wrote and says what was not written. Output piped into a
reader that stops early (``medtl info P | head -3``) ends quietly with
exit 141 (128 + SIGPIPE, what other tools give), as the Python
documentation recommends for ``BrokenPipeError``: stdout is pointed at
``os.devnull`` so the interpreter's last flush cannot fail again.
"""

from __future__ import annotations

import argparse
import contextlib
import os
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

    from medtl_gui.core.project.disk_space import is_disk_full

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # inside the try: a closed pipe shows here, not in the interpreter's last flush
        return code
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except (ScanReadError, UsageError, FileNotFoundError, NotADirectoryError) as exc:
        if is_disk_full(exc):
            return _disk_full(args.command, exc)
        print(f"medtl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"medtl {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if is_disk_full(exc):
            return _disk_full(args.command, exc)
        raise


def _disk_full(command: str, exc: BaseException) -> int:
    """One line for a full disk; project errors already name the project and what was not written."""
    from medtl_gui.core.project.disk_space import DiskFullError

    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, DiskFullError):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:
        text = str(cause)
    else:
        where = getattr(exc, "filename", None)
        text = f"{where}: the disk is full ({exc})" if where else f"the disk is full ({exc})"
    print(f"medtl {command}: error: {' '.join(text.split())}", file=sys.stderr)
    return 1


def _silence_stdout() -> None:
    """Point stdout at the null device (the reader of the pipe is gone)."""
    with contextlib.suppress(OSError, ValueError):  # best effort: the process is about to exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    raise SystemExit(main())
