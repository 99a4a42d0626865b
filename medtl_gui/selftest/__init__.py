"""``medtl-gui --self-test`` / ``medtl self-test``: is this installation complete and working?

Runs, with the network blocked: imports of the whole stack, decoding of one
DICOM file per transfer syntax (the build's bundled samples, or samples
generated on the fly in a source checkout), one training step on the CPU,
the main window opened and closed offscreen (unless ``gui=False``), and
the SHA-256 of every bundled weights file. Prints one line per check
(PASS/FAIL/SKIP with the reason) and a summary; the exit code is 1 if any
check failed.

Public API::

    results = run_self_test(gui=True)          # list[CheckResult]
    text = format_report(results)
    exit_code = main(gui=True)                 # prints the report
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from medtl_gui.selftest.checks import FAIL, PASS, SKIP, CheckResult

__all__ = ["CheckResult", "FAIL", "PASS", "SKIP", "format_report", "main", "run_self_test"]


def run_self_test(gui: bool = True, progress: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
    """Run every check (the GUI one only with ``gui``) and return the report lines in order.

    ``progress`` is called with each result as soon as it is known.
    """
    from medtl_gui.selftest import checks
    from medtl_gui.selftest.bundle import bundled_samples_dir, bundled_weights_dir
    from medtl_gui.selftest.network_guard import blocked_network

    results: list[CheckResult] = []

    def add(lines: list[CheckResult]) -> None:
        for line in lines:
            results.append(line)
            if progress:
                progress(line)

    with blocked_network() as attempts:
        add(checks.check_imports(include_gui=gui))
        add(checks.check_codecs(bundled_samples_dir()))
        add(checks.check_training_step())
        if gui:
            from medtl_gui.gui.selftest_gui import check_main_window

            add(check_main_window())
        add(checks.check_bundled_weights(bundled_weights_dir()))
    add([CheckResult("network", "no network access", FAIL if attempts else PASS,
                     f"attempted: {'; '.join(attempts)}" if attempts else "no socket was opened")])
    return results


def format_line(result: CheckResult) -> str:
    """``PASS  codec    JPEG 2000 Lossless  ...  detail  (0.01 s)``."""
    return f"{result.status:4s}  {result.group:8s} {result.name:38s} {result.detail}  ({result.seconds:.2f} s)"


def summary_line(results: list[CheckResult]) -> str:
    """``self-test: N passed, N failed, N skipped`` plus MedTL's version and edition."""
    from medtl_gui import __version__
    from medtl_gui.selftest.bundle import edition_info

    counts = {status: sum(r.status == status for r in results) for status in (PASS, FAIL, SKIP)}
    try:
        info = edition_info()
    except ValueError as exc:
        info = {"edition": f"unknown ({exc})"}
    verdict = "FAILED" if counts[FAIL] else "OK"
    return (f"self-test {verdict}: {counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped "
            f"(MedTL {__version__}, {info.get('edition')} edition, Python {sys.version.split()[0]})")


def format_report(results: list[CheckResult]) -> str:
    """The whole report: one line per check, then the summary."""
    return "\n".join([format_line(r) for r in results] + [summary_line(results)])


def main(gui: bool = True) -> int:
    """Run the self-test, print the report line by line; 0 if nothing failed, else 1."""
    start = time.perf_counter()
    stream = sys.stdout

    def show(result: CheckResult) -> None:
        if stream is not None:
            print(format_line(result), file=stream, flush=True)

    results = run_self_test(gui=gui, progress=show)
    if stream is not None:
        print(f"{summary_line(results)} in {time.perf_counter() - start:.1f} s", file=stream, flush=True)
    return 1 if any(r.failed for r in results) else 0
