"""Run a fuzz campaign: generate inputs, run each in the sandboxed worker, collect findings.

A :class:`FuzzCampaign` names the function under test (``"module:function"``,
called in the worker with the input's path) and how to make input number
``i`` (deterministic: the random generator is seeded with the campaign name,
the run seed and ``i``, so any finding can be regenerated). The
:class:`WorkerProcess` runs the calls one after another under a memory
limit; an input that takes longer than ``timeout_s`` is a *hang* (the worker
is killed and restarted), one that kills the worker is a *crash*.

Finding kinds: ``exception`` (anything but the documented error escaped),
``invalid-result`` (a ``ContractViolation``), ``memory`` (``MemoryError`` or
a rejection *because* memory ran out: the input asked for more than the
limit), ``hang`` and ``crash``.
"""

from __future__ import annotations

import contextlib

import json
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: a rejection whose reason says memory ran out is a memory finding, not a clean refusal
_MEMORY_WORDS = re.compile(r"not enough memory|unable to allocate|memoryerror|bad_alloc|cannot allocate|out of memory",
                           re.IGNORECASE)
_REPO_ROOT = Path(__file__).resolve().parents[4]

#: ``make_input(rng, folder)`` writes one input under ``folder`` and returns its path
InputMaker = Callable[[random.Random, Path], Path]


@dataclass
class FuzzCampaign:
    """One fuzz target: the function called on each input and how inputs are made."""

    name: str
    call: str  # "package.module:function", called as function(path) -> (status, detail)
    make_input: InputMaker
    warm_modules: tuple[str, ...] = ()  # imported by the worker before the first input
    bare_worker: bool = False  # True: the worker skips importing the scan readers up front


@dataclass
class Finding:
    """One input that broke the contract."""

    campaign: str
    index: int
    kind: str  # exception | invalid-result | memory | hang | crash
    type: str
    detail: str
    where: str = ""
    saved_input: str | None = None
    traceback: str = ""

    @property
    def signature(self) -> tuple[str, str, str]:
        """What makes two findings "the same bug" (kind, exception type, location)."""
        return (self.kind, self.type, self.where)


@dataclass
class CampaignResult:
    """Counts and findings of one campaign."""

    name: str
    tried: int = 0
    read: int = 0
    rejected: int = 0
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    worker_restarts: int = 0

    @property
    def unique_findings(self) -> int:
        """Findings counted once per (kind, type, location)."""
        return len({f.signature for f in self.findings})

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (findings without tracebacks)."""
        data = asdict(self)
        data["unique_findings"] = self.unique_findings
        for finding in data["findings"]:
            finding.pop("traceback", None)
        return data


class WorkerProcess:
    """A fuzzing worker child (see ``worker.py``) and the pipe to it."""

    def __init__(self, memory_limit: int, warm_modules: tuple[str, ...] = (), start_timeout_s: float = 120.0,
                 bare: bool = False):
        self.memory_limit = memory_limit
        self.warm_modules = warm_modules
        self.bare = bare
        self.start_timeout_s = start_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._eof = False
        self.starts = 0

    def start(self) -> None:
        """Start (or restart) the child and wait for its "ready" line."""
        self.stop()
        command = [sys.executable, "-m", "medtl_gui.core.imaging.fuzzing.worker", "--memory-limit",
                   str(self.memory_limit)]
        for module in self.warm_modules:
            command += ["--warm", module]
        if self.bare:
            command.append("--bare")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(_REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, env=env, cwd=_REPO_ROOT)
        self._buffer = b""
        self._eof = False
        self.starts += 1
        reply = self._read_line(self.start_timeout_s)
        if reply is None or reply.get("status") != "ready":
            self.stop()
            raise RuntimeError(f"fuzz worker did not start (got {reply!r})")

    def stop(self) -> None:
        """Kill the child if it runs."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self.process = None

    def call(self, call: str, path: str, timeout_s: float) -> dict[str, Any]:
        """Run ``call(path)`` in the child; a "hang" or "crash" status when it does not answer."""
        if self.process is None or self.process.poll() is not None:
            self.start()
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps({"call": call, "path": path}) + "\n").encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            return self._died()
        reply = self._read_line(timeout_s)
        if reply is not None:
            return reply
        if self._eof:  # the pipe closed: the child died (give the OS a moment to reap it)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        if self.process.poll() is None:
            self.stop()
            return {"status": "hang", "type": "Timeout", "detail": f"no answer within {timeout_s:.0f} s"}
        return self._died()

    def _died(self) -> dict[str, Any]:
        assert self.process is not None
        code = self.process.wait()
        self.stop()
        what = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        return {"status": "crash", "type": "WorkerDied", "detail": f"worker process died ({what})"}

    def _read_line(self, timeout_s: float) -> dict[str, Any] | None:
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                self._eof = True
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)


def finding_from_reply(reply: dict[str, Any], campaign: str, index: int) -> Finding | None:
    """The finding a worker reply amounts to, or None when the call kept the contract."""
    status = reply.get("status")
    if status == "read":
        return None
    if status == "rejected":
        if not _MEMORY_WORDS.search(reply.get("detail", "")):
            return None
        return Finding(campaign, index, "memory", "rejected", reply["detail"])
    kind = {"memory": "memory", "hang": "hang", "crash": "crash"}.get(status, "exception")
    if reply.get("type") == "ContractViolation":
        kind = "invalid-result"
    return Finding(campaign, index, kind, reply.get("type", "?"), reply.get("detail", ""),
                   reply.get("where", ""), traceback=reply.get("traceback", ""))


def _save_input(path: Path, findings_dir: Path, finding: Finding) -> str:
    folder = findings_dir / finding.campaign
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{finding.kind}-{finding.index:06d}-{path.name}"
    target = folder / name
    if path.is_dir():
        shutil.copytree(path, target, symlinks=True, dirs_exist_ok=True)
    elif path.exists() or path.is_symlink():
        shutil.copy2(path, target, follow_symlinks=False)
    (folder / f"{name}.json").write_text(json.dumps(asdict(finding), indent=2))
    return str(target)


def make_rng(campaign: str, seed: int, index: int) -> random.Random:
    """The generator for input ``index`` of a campaign (the same on every machine)."""
    return random.Random(f"{campaign}:{seed}:{index}")


def run_campaign(
    campaign: FuzzCampaign,
    n_inputs: int,
    *,
    seed: int = 0,
    start_index: int = 0,
    timeout_s: float = 10.0,
    memory_limit: int = 4 * 2**30,
    findings_dir: Path | None = None,
    progress: Callable[[CampaignResult], None] | None = None,
    progress_every: int = 1000,
    worker: WorkerProcess | None = None,
) -> CampaignResult:
    """Feed ``n_inputs`` generated inputs to ``campaign.call`` in a worker; return counts and findings.

    ``worker``: a started :class:`WorkerProcess` to reuse (left running); by
    default a new one is started for the campaign and stopped at the end.
    """
    result = CampaignResult(campaign.name)
    own_worker = worker is None
    if worker is None:
        worker = WorkerProcess(memory_limit, campaign.warm_modules, bare=campaign.bare_worker)
    starts_before = worker.starts
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix=f"medtl-fuzz-{campaign.name}-"))
    try:
        if worker.process is None:
            worker.start()
        starts_before = worker.starts
        for index in range(start_index, start_index + n_inputs):
            folder = scratch / f"{index:06d}"
            folder.mkdir()
            path = campaign.make_input(make_rng(campaign.name, seed, index), folder)
            reply = worker.call(campaign.call, str(path), timeout_s)
            result.tried += 1
            status = reply.get("status")
            if status == "read":
                result.read += 1
            elif status == "rejected":
                result.rejected += 1
            finding = finding_from_reply(reply, campaign.name, index)
            if finding is not None:
                if findings_dir is not None:
                    finding.saved_input = _save_input(path, findings_dir, finding)
                result.findings.append(finding)
            shutil.rmtree(folder, ignore_errors=True)
            if progress is not None and result.tried % progress_every == 0:
                result.seconds = time.monotonic() - started
                progress(result)
    finally:
        if own_worker:
            worker.stop()
        result.worker_restarts = max(0, worker.starts - starts_before)
        shutil.rmtree(scratch, ignore_errors=True)
    result.seconds = time.monotonic() - started
    return result
