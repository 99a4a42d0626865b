"""Peak memory of `medtl weights import` on a zip-bomb `.pth` (issue 17, finding 5).

Builds a ~4 MB `.pth` laid out as `torch.save` writes it, whose tensor record
is 4 GiB of deflated zeros (streamed through zipfile, so it never exists in
memory), then runs `medtl weights import BOMB --arch resnet18` in a child
process over a temporary weight store and reads the child's peak RSS from
`os.wait4`. For scale, the same is measured for `medtl weights list` (the
cost of starting the CLI with torch). Target: refused, peak RSS < 500 MB.

    .venv/bin/python benchmarks/bench_weights_bomb.py [--declared-gib 4] [--code-root DIR]

`--code-root` runs another checkout's `medtl_gui` (e.g. the code before the
fix, extracted with `git archive`). Prints one flat JSON object last.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _build_bomb(path: Path, declared: int) -> Path:
    """Write the bomb in a child process: this process must stay small, since a child's peak RSS
    (``ru_maxrss``) starts from its parent's RSS at fork time."""
    code = ("import sys; from medtl_gui.core.models.weights.weights_fuzzing import write_weights_zip_bomb; "
            "write_weights_zip_bomb(sys.argv[1], int(sys.argv[2]))")
    subprocess.run([sys.executable, "-c", code, str(path), str(declared)], check=True, cwd=REPO_ROOT,
                   env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    return path


def _run_child(args: list[str], env: dict[str, str], timeout_s: float) -> tuple[int, float, float, str]:
    """Exit code, peak RSS in MB, seconds and the last stderr line of ``python -m medtl_gui.cli ARGS``."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, "-m", "medtl_gui.cli", *args], env=env, cwd=env["PYTHONPATH"],
                                 stdout=subprocess.DEVNULL, stderr=err)
        deadline = started + timeout_s
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                child.kill()
                pid, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.05)
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        lines = err.read().decode("utf-8", "replace").strip().splitlines()
    return child.returncode, usage.ru_maxrss / 1024, time.monotonic() - started, (lines[-1] if lines else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--declared-gib", type=float, default=4.0, help="declared size of the bomb's record")
    parser.add_argument("--code-root", type=Path, default=REPO_ROOT, help="checkout whose medtl_gui runs")
    parser.add_argument("--timeout-s", type=float, default=300.0)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="medtl-bomb-") as temp:
        folder = Path(temp)
        started = time.monotonic()
        bomb = _build_bomb(folder / "bomb.pth", int(args.declared_gib * 2**30))
        build_s = time.monotonic() - started
        env = dict(os.environ, PYTHONPATH=str(args.code_root.resolve()), OMP_NUM_THREADS="1",
                   MEDTL_WEIGHTS_DIR=str(folder / "store"), TORCH_HOME=str(folder / "torch_home"))
        base_code, base_rss, base_s, _ = _run_child(["weights", "list"], env, args.timeout_s)
        code, rss, seconds, message = _run_child(["weights", "import", str(bomb), "--arch", "resnet18"], env,
                                                 args.timeout_s)
        stored = (folder / "store" / "manifest.json").exists()
        print(f"[bench_weights_bomb] {bomb.stat().st_size / 1e6:.1f} MB file declaring {args.declared_gib:g} GiB: "
              f"exit {code} in {seconds:.1f} s, peak RSS {rss:.0f} MB (CLI start alone {base_rss:.0f} MB)")
        print(f"  {message[:300]}")
        figures = {
            "bomb_file_mb": round(bomb.stat().st_size / 1e6, 2),
            "declared_gib": args.declared_gib,
            "build_s": round(build_s, 1),
            "import_exit_code": code,
            "refused": int(code == 2 and not stored),
            "message_names_bomb": int("decompression bomb" in message),
            "import_peak_rss_mb": round(rss, 1),
            "import_s": round(seconds, 2),
            "cli_start_peak_rss_mb": round(base_rss, 1),
            "cli_start_s": round(base_s, 2),
            "baseline_exit_code": base_code,
            "target_peak_rss_mb": 500,
            "meets_target": int(code == 2 and rss < 500),
            "cpu_count": os.cpu_count() or 0,
            "parent_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    print(f"[bench_weights_bomb] {platform.machine()}, {os.cpu_count()} CPUs, code from {args.code_root}")
    print(json.dumps(figures))
    return 0 if figures["meets_target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
