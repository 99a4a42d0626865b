"""GUI responsiveness and throughput while a full-CPU training run works in the background (issue 5).

1. A generated demo project (``--n-images`` chest phantoms of ``--size`` px,
   labelled and split; or PneumoniaMNIST with ``--npz``) is opened in the
   real main window.
2. The training panel is filled (``--model`` at ``--image-size`` px, batch
   ``--batch-size``, ``--epochs``), and the exact config it produces is saved.
3. The same config trains from the command line (``medtl train PROJECT
   --config ...`` in a subprocess), then under the GUI (worker thread, live
   monitor), then from the command line again: the CLI throughput is the
   mean of the two CLI runs around the GUI run, which evens out the load of
   a shared machine.
4. During the GUI run a ``QTimer`` probe ticks every 10 ms (100 Hz,
   ``Qt.PreciseTimer``) on the GUI thread; a tick's *stall* is how much later
   than 10 ms after the previous tick it came. Optionally the user browses
   if ``--browse-ms`` is set (next image every N ms, decoded by the loader
   pool), so the GUI thread has real work. Measured from the engine's RunStarted to the
   end of the run ("during training"); the start-up phase (labels snapshot,
   torch import on the worker thread) is reported separately.
5. Throughput: the engine's own ``train_images_per_s`` per epoch
   (``metrics.jsonl``; validation and start-up excluded), median over the
   epochs after the first of each run; ratio = GUI / CLI.

The window sets ``OMP_WAIT_POLICY=PASSIVE`` (see ``training_setup.prefer_passive_cpu_threads``);
the CLI runs get the same value so both train the same way; ``--cli-default-omp`` adds a CLI run
with OpenMP's default (spinning) threads for comparison.

Usage: .venv/bin/python benchmarks/bench_gui_training.py [--n-images 1000] [--epochs 3] [--browse-ms 1000]
Runs offscreen unless DISPLAY is set. Last line: one JSON object with flat numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PROBE_MS = 10


def make_project(folder: Path, args: argparse.Namespace) -> Path:
    """A labelled, split project: demo phantoms or an imported .npz."""
    from medtl_gui.core.project import Project, create_demo_project, import_sources

    if args.npz:
        with Project.create(folder) as project:
            import_sources(project, [args.npz])
        return folder
    create_demo_project(folder, n_images=args.n_images, size=args.size, seed=0).close()
    return folder


def epoch_throughput(run_dir: Path) -> float:
    """Median engine images/s over the epochs after the first (all epochs if only one)."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    rates = [r["train_images_per_s"] for r in records if r.get("train_images_per_s")]
    return float(statistics.median(rates[1:] if len(rates) > 1 else rates))


def cli_run(project: Path, config: Path, run_dir: Path, omp_policy: str | None) -> tuple[float, float]:
    """(images/s, wall seconds) of ``medtl train`` with ``config`` (``omp_policy``: OMP_WAIT_POLICY or unset)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("OMP_WAIT_POLICY", None)
    if omp_policy:
        env["OMP_WAIT_POLICY"] = omp_policy
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "medtl_gui.cli", "train", str(project), "--config", str(config),
                    "--run-dir", str(run_dir), "--quiet"], check=True, cwd=ROOT, env=env)
    return epoch_throughput(run_dir), time.perf_counter() - started


def stall_figures(ticks: list[float]) -> dict[str, float]:
    """Max / p99 / p50 stall (ms beyond the 10 ms interval) of a list of tick times (s)."""
    gaps = np.diff(np.asarray(ticks)) * 1000.0
    if gaps.size == 0:
        return {"max_ms": float("nan"), "p99_ms": float("nan"), "p50_ms": float("nan"), "ticks": 0}
    stalls = np.maximum(gaps - PROBE_MS, 0.0)
    return {"max_ms": float(stalls.max()), "p99_ms": float(np.percentile(stalls, 99)),
            "p50_ms": float(np.percentile(stalls, 50)), "ticks": int(gaps.size)}


def gui_run(project: Path, args: argparse.Namespace, config_path: Path) -> dict[str, float]:
    """Train under the real main window with the probe running; returns the figures and saves the config."""
    from PySide6.QtCore import QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope,
                      str(config_path.parent / "settings"))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from medtl_gui.core.training.config import TrainConfig
    from medtl_gui.gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1600, 1000)
    window.show()

    def spin(until, timeout_s: float) -> None:
        end = time.perf_counter() + timeout_s
        while not until() and time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.005)

    window.open_project(project)
    spin(lambda: window.viewer.scan is not None, 60)
    ctl = window.training
    panel = ctl.panel
    panel.set_config(TrainConfig(model=args.model, image_size=args.image_size, batch_size=args.batch_size,
                                 epochs=args.epochs, lr=2e-3, schedule="onecycle", augmentation="light",
                                 precision="auto", seed=0))
    config = panel.config()
    config.save(config_path)
    if args.cli_only:
        window.close()
        return {}

    ticks: list[float] = []
    phase = {"name": "startup", "start_ticks": 0, "train_ticks": 0}
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(PROBE_MS)
    probe.timeout.connect(lambda: ticks.append(time.perf_counter()))
    browse = QTimer()
    browse.setInterval(args.browse_ms)
    browse.timeout.connect(lambda: window.browser.step(1) or window.browser.select_row(0))
    outcome = {}

    def started(_event) -> None:
        phase["train_ticks"] = len(ticks)
        phase["name"] = "training"

    ctl.session.run_started.connect(started)
    ctl.session.finished.connect(lambda o: outcome.setdefault("outcome", o))
    probe.start()
    if args.browse_ms > 0:
        browse.start()
    started_at = time.perf_counter()
    assert ctl.start_training(), "the panel refused to start (see its problems)"
    spin(lambda: "outcome" in outcome, args.timeout)
    wall = time.perf_counter() - started_at
    probe.stop()
    browse.stop()
    result = outcome.get("outcome")
    if result is None or result.status != "completed":
        raise SystemExit(f"the GUI run did not complete: {getattr(result, 'error', 'timeout')}")
    startup = stall_figures(ticks[: phase["train_ticks"] + 1])
    training = stall_figures(ticks[phase["train_ticks"]:])
    figures = {
        "gui_images_per_s": epoch_throughput(Path(result.run_dir)),
        "gui_wall_s": wall,
        "stall_max_ms": training["max_ms"], "stall_p99_ms": training["p99_ms"], "stall_p50_ms": training["p50_ms"],
        "probe_ticks": training["ticks"],
        "startup_stall_max_ms": startup["max_ms"], "startup_stall_p99_ms": startup["p99_ms"],
        "curve_redraws": ctl.monitor.curves.redraws,
        "curve_redraw_hz": ctl.monitor.curves.redraws / max(wall, 1e-9),
    }
    window.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=1000, help="demo phantoms to generate")
    parser.add_argument("--size", type=int, default=64, help="pixel size of the generated phantoms")
    parser.add_argument("--npz", help="use a MedMNIST .npz instead of generated phantoms")
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--browse-ms", type=int, default=0,
                        help="also browse: next image every N ms during the GUI run (0: only the probe)")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--cli-default-omp", action="store_true",
                        help="also train from the CLI without OMP_WAIT_POLICY (OpenMP's default: spinning threads)")
    parser.add_argument("--cli-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = Path(tempfile.mkdtemp(prefix="medtl-bench-gui-training-"))
    load_before = os.getloadavg()[0]
    project = make_project(work / "project", args)
    config_path = work / "config.json"
    gui_first = {}

    # the config comes from the panel: build it once without training, then CLI, GUI, CLI
    args_cli_only = argparse.Namespace(**(vars(args) | {"cli_only": True}))
    gui_run(project, args_cli_only, config_path)
    policy = os.environ.get("OMP_WAIT_POLICY")  # what the GUI process uses (the window sets PASSIVE)
    cli1, cli1_wall = cli_run(project, config_path, work / "cli-1", policy)
    gui_first = gui_run(project, args, config_path)
    cli2, cli2_wall = cli_run(project, config_path, work / "cli-2", policy)
    cli = (cli1 + cli2) / 2
    if args.cli_default_omp:
        gui_first["cli_default_omp_images_per_s"] = cli_run(project, config_path, work / "cli-default", None)[0]
    n_train = len(json.loads((work / "cli-1" / "config.json").read_text())["data"]["splits"]["train"])
    result = {
        "n_train_images": n_train, "epochs": args.epochs, "image_size": args.image_size, "batch_size": args.batch_size,
        "cpu_count": os.cpu_count() or 0, "load_before": load_before, "load_after": os.getloadavg()[0],
        "cli_images_per_s": cli, "cli_images_per_s_first": cli1, "cli_images_per_s_second": cli2,
        "cli_wall_s": (cli1_wall + cli2_wall) / 2, "omp_passive": float(policy == "PASSIVE"),
        "browse_ms": args.browse_ms, **gui_first,
    }
    result["throughput_ratio_gui_vs_cli"] = result["gui_images_per_s"] / cli if cli else float("nan")
    result["pass_stall_max_lt_50ms"] = float(result["stall_max_ms"] < 50)
    result["pass_stall_p99_lt_20ms"] = float(result["stall_p99_ms"] < 20)
    result["pass_throughput_ge_0_9"] = float(result["throughput_ratio_gui_vs_cli"] >= 0.9)
    print(f"CLI {cli1:.0f} / {cli2:.0f} images/s, GUI {result['gui_images_per_s']:.0f} images/s "
          f"(ratio {result['throughput_ratio_gui_vs_cli']:.3f}); GUI-thread stall during training: "
          f"max {result['stall_max_ms']:.1f} ms, p99 {result['stall_p99_ms']:.1f} ms, "
          f"p50 {result['stall_p50_ms']:.2f} ms over {result['probe_ticks']} ticks; start-up max "
          f"{result['startup_stall_max_ms']:.0f} ms", file=sys.stderr)
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
