"""The fuzzing child process: runs one target per input, reports each outcome as a JSON line.

Started by :class:`medtl_gui.core.imaging.fuzzing.runner.WorkerProcess` as
``python -m medtl_gui.core.imaging.fuzzing.worker --memory-limit BYTES``.
It limits its own address space (``RLIMIT_AS``) so an input that makes a
reader allocate without bound fails with ``MemoryError`` instead of taking
the machine down, silences stdout/stderr (C libraries print there) and talks
to the parent over a private copy of the original stdout.

Request (one JSON line on stdin): ``{"call": "package.module:function", "path": "..."}``.
Reply (one JSON line): ``{"status": "read" | "rejected" | "error" | "memory", "detail": ...}``
plus ``type``, ``where`` and ``traceback`` for errors.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Callable
from typing import Any

_WARM_MODULES = ("medtl_gui.core.imaging", "pydicom", "PIL.Image", "SimpleITK", "numpy")


def _innermost_location(tb: Any) -> str:
    """``file:line function`` of the deepest frame (where the exception was raised)."""
    frames = traceback.extract_tb(tb)
    if not frames:
        return "?"
    frame = frames[-1]
    return f"{os.path.relpath(frame.filename) if frame.filename.startswith(os.getcwd()) else frame.filename}" \
           f":{frame.lineno} {frame.name}"


def _resolve(call: str, cache: dict[str, Callable[[str], Any]]) -> Callable[[str], Any]:
    if call not in cache:
        module_name, _, function = call.partition(":")
        cache[call] = getattr(importlib.import_module(module_name), function)
    return cache[call]


def _run_one(request: dict[str, Any], cache: dict[str, Callable[[str], Any]]) -> dict[str, Any]:
    try:
        status, detail = _resolve(request["call"], cache)(request["path"])
        return {"status": status, "detail": str(detail)[:500]}
    except MemoryError:
        return {"status": "memory", "detail": "MemoryError", "type": "MemoryError",
                "where": _innermost_location(sys.exc_info()[2])}
    except Exception as exc:  # every other exception is a finding: report it
        return {
            "status": "error",
            "type": type(exc).__name__,
            "detail": " ".join(str(exc).split())[:500],
            "where": _innermost_location(exc.__traceback__),
            "traceback": "".join(traceback.format_exception(exc))[-4000:],
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memory-limit", type=int, default=0, help="RLIMIT_AS in bytes (0: none)")
    parser.add_argument("--warm", action="append", default=[], help="extra modules to import up front")
    parser.add_argument("--bare", action="store_true", help="do not import the readers up front")
    args = parser.parse_args(argv)

    channel = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    for name in ((() if args.bare else _WARM_MODULES) + tuple(args.warm)):
        importlib.import_module(name)
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash must not spend seconds writing a core dump
    if args.memory_limit:
        resource.setrlimit(resource.RLIMIT_AS, (args.memory_limit, args.memory_limit))
    channel.write(json.dumps({"status": "ready", "pid": os.getpid()}) + "\n")
    cache: dict[str, Callable[[str], Any]] = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        reply = _run_one(json.loads(line), cache)
        channel.write(json.dumps(reply) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
