"""One wrapper for the CLI's long commands (train, segmentation train, ensemble train, pretrain).

``with cancellable_job(quiet=args.quiet) as job:`` around the work that runs
the engine:

- installs a SIGINT handler that calls ``job.control.cancel()`` (Ctrl+C
  stops the run between batches; the engine finishes the run folder and
  returns status ``cancelled``) and puts the previous handler back when the
  block ends, also when it raises;
- ``job.progress()`` makes the :class:`ConsoleProgress` the engine reports
  to (silent with ``--quiet``, and on every process but the main one of a
  distributed job);
- turns bad input raised inside (the types of
  :func:`medtl_gui.commands.user_errors`) and a ``DistributedError`` (another
  process failed first and printed the details) into a :class:`UsageError`:
  one line, exit code 2.

:func:`exit_code` maps a finished run's status to the command's exit code:
``completed`` and ``early_stopped`` 0, ``cancelled`` 130, anything else
(``failed``) 1.

:func:`bad_input` converts the same user errors for work done before the job
starts (opening the data, reading the config), where Ctrl+C still
interrupts at once.

Only this module installs a SIGINT handler among the command modules (a test
scans them). Imports of core stay inside the functions: ``medtl --help``
must not load torch.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from medtl_gui.commands import UsageError, user_errors

#: a finished run's status -> the command's exit code (any other status: 1)
EXIT_CODES: dict[str, int] = {"completed": 0, "early_stopped": 0, "cancelled": 130}


def exit_code(status: str) -> int:
    """The exit code of a long command whose run ended with ``status``."""
    return EXIT_CODES.get(status, 1)


@dataclass
class Job:
    """What a long command's work gets: the cancel flags and its console progress."""

    control: Any  # medtl_gui.core.training.control.RunControl
    quiet: bool = False

    def progress(self, *, main_process: bool = True) -> Any:
        """A console progress printer for the engine (silent when quiet or not the main process)."""
        from medtl_gui.core.training.console_progress import ConsoleProgress

        return ConsoleProgress(quiet=self.quiet or not main_process)


@contextmanager
def bad_input() -> Iterator[None]:
    """Turn bad input raised inside into a one-line :class:`UsageError` (exit 2)."""
    try:
        yield
    except user_errors() as exc:
        raise UsageError(str(exc)) from exc


@contextmanager
def cancellable_job(*, quiet: bool = False) -> Iterator[Job]:
    """Ctrl+C cancels the job's run; bad input and a peer's distributed failure become a UsageError."""
    from medtl_gui.core.training.control import RunControl
    from medtl_gui.core.training.distributed import DistributedError

    control = RunControl()
    previous = signal.signal(signal.SIGINT, lambda *_: control.cancel())
    try:
        with bad_input():
            yield Job(control, quiet)
    except DistributedError as exc:  # another process failed first; it printed the details
        raise UsageError(str(exc)) from exc
    finally:
        signal.signal(signal.SIGINT, previous)
