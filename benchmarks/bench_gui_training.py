"""GUI responsiveness and throughput while a full-CPU training run works in the background (issue 5).

1. A generated demo project (``--n-images`` chest phantoms of ``--size`` px,
   labelled and split; or a MedMNIST ``.npz`` with ``--npz``) is opened in
   the real main window.
2. The training panel is filled (``--model`` at ``--image-size`` px, batch
   ``--batch-size``, ``--epochs``, every core) and the exact config it
   produces is saved.
3. The same config then trains alternately from the command line (``medtl
   train PROJECT --config ...`` in a subprocess) and under the GUI (worker
   thread, live monitor): CLI, GUI, CLI, GUI, ..., CLI (``--rounds`` GUI
   runs). Alternating short runs evens out the load of a shared machine.
4. During each GUI run a ``QTimer`` probe ticks every 10 ms (100 Hz,
   ``Qt.PreciseTimer``) on the GUI thread; a tick's *stall* is how much later
   than 10 ms after the previous tick it came. Figures cover the engine's
   RunStarted to the end of each run ("during training"); the start-up phase
   (labels snapshot, the first torch import on the worker thread) is
   reported separately. With ``--browse-ms N`` the user also moves to the
   next image every N ms (decoded by the loader pool) during the GUI runs.
5. Throughput: the engine's own ``train_images_per_s`` per epoch
   (``metrics.jsonl``; validation and start-up excluded), median over the
   epochs after the first of every run of a kind; ratio = GUI / CLI.

The window limits OpenMP's spinning (``GOMP_SPINCOUNT=1000``,
``KMP_BLOCKTIME=1``; see ``medtl_gui.core.openmp.limit_openmp_spinning``); the CLI
runs get the same values so both train the same way; ``--cli-default-omp``
adds one CLI run with OpenMP's defaults (long spinning) for comparison.

Usage: .venv/bin/python benchmarks/bench_gui_training.py [--rounds 2] [--model baseline_cnn] [--browse-ms 1000]
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
from typing import Any

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


def epoch_rates(run_dir: Path) -> list[float]:
    """The engine's images/s of every epoch after the first (every epoch when there is only one)."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    rates = [float(r["train_images_per_s"]) for r in records if r.get("train_images_per_s")]
    return rates[1:] if len(rates) > 1 else rates


def cli_run(project: Path, config: Path, run_dir: Path, openmp: dict[str, str]) -> list[float]:
    """Epoch throughputs of ``medtl train`` with ``config`` and these OpenMP variables (others unset)."""
    from medtl_gui.core.training.setup_checks import OPENMP_VARIABLES

    env = {k: v for k, v in os.environ.items() if k not in OPENMP_VARIABLES} | {"PYTHONPATH": str(ROOT)} | openmp
    subprocess.run([sys.executable, "-m", "medtl_gui.cli", "train", str(project), "--config", str(config),
                    "--run-dir", str(run_dir), "--quiet"], check=True, cwd=ROOT, env=env)
    return epoch_rates(run_dir)


def stalls_of(ticks: list[float]) -> np.ndarray:
    """Stall (ms beyond the 10 ms interval) before each tick after the first."""
    gaps = np.diff(np.asarray(ticks)) * 1000.0
    return np.maximum(gaps - PROBE_MS, 0.0)


def worst_stalls(ticks: list[float], events: list[tuple[float, str]], count: int = 3) -> list[tuple[float, str]]:
    """The ``count`` longest stalls and what the GUI thread was handling just before or during each."""
    stalls = stalls_of(ticks)
    found = []
    for i in np.argsort(stalls)[::-1][:count]:
        end = ticks[i + 1]
        start = end - (stalls[i] + PROBE_MS) / 1000.0
        near = sorted({name for t, name in events if start - 0.03 <= t <= end})
        found.append((float(stalls[i]), ", ".join(near) or "no GUI event (scheduling / GIL)"))
    return found


class GuiHarness:
    """The real main window on the project, a 100 Hz probe, and GUI runs on demand."""

    def __init__(self, project: Path, args: argparse.Namespace, work: Path):
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(work / "settings"))
        self.app = QApplication.instance() or QApplication(sys.argv[:1])
        from medtl_gui.core.training.config import TrainConfig
        from medtl_gui.gui.main_window import MainWindow

        self.args = args
        self.window = MainWindow()
        self.window.resize(1600, 1000)
        self.window.show()
        self.window.open_project(project)
        self.spin(lambda: self.window.viewer.scan is not None, 60)
        self.panel = self.window.training.panel
        self.panel.set_config(TrainConfig(model=args.model, image_size=args.image_size, batch_size=args.batch_size,
                                          epochs=args.epochs, lr=2e-3, schedule="onecycle", augmentation="light",
                                          precision="auto", seed=0))
        self.training_stalls: list[np.ndarray] = []
        self.startup_stalls: list[np.ndarray] = []
        self.rates: list[float] = []
        self.walls: list[float] = []
        self.redraw_hz: list[float] = []
        self.worst: list[tuple[float, str]] = []

    def spin(self, until: Any, timeout_s: float) -> None:
        end = time.perf_counter() + timeout_s
        while not until() and time.perf_counter() < end:
            self.app.processEvents()
            time.sleep(0.002)

    def save_config(self, path: Path) -> None:
        self.panel.config().save(path)

    def run(self) -> None:
        """One GUI run with the probe (and browsing) on."""
        from PySide6.QtCore import Qt, QTimer

        ctl = self.window.training
        ticks: list[float] = []
        marks: dict[str, Any] = {}
        probe = QTimer()
        probe.setTimerType(Qt.TimerType.PreciseTimer)
        probe.setInterval(PROBE_MS)
        probe.timeout.connect(lambda: ticks.append(time.perf_counter()))
        browse = QTimer()
        browse.setInterval(max(1, self.args.browse_ms))
        browse.timeout.connect(lambda: self.window.browser.step(1) or self.window.browser.select_row(0))
        events: list[tuple[float, str]] = []
        for name in ("batches", "epoch_finished", "validation"):
            getattr(ctl.session, name).connect(lambda *_a, n=name: events.append((time.perf_counter(), n)))
        browse.timeout.connect(lambda: events.append((time.perf_counter(), "browse")))
        on_started = lambda _event: marks.setdefault("train_tick", len(ticks))  # noqa: E731
        on_finished = lambda outcome: marks.setdefault("outcome", outcome)  # noqa: E731
        ctl.session.run_started.connect(on_started)
        ctl.session.finished.connect(on_finished)
        redraws = ctl.monitor.curves.redraws
        probe.start()
        if self.args.browse_ms > 0:
            browse.start()
        started = time.perf_counter()
        if not ctl.start_training():
            raise SystemExit(f"the panel refused to start: {self.panel.problems()}")
        self.spin(lambda: "outcome" in marks, self.args.timeout)
        wall = time.perf_counter() - started
        probe.stop()
        browse.stop()
        ctl.session.run_started.disconnect(on_started)
        ctl.session.finished.disconnect(on_finished)
        outcome = marks.get("outcome")
        if outcome is None or outcome.status != "completed":
            raise SystemExit(f"the GUI run did not complete: {getattr(outcome, 'error', 'timeout')}")
        split = marks.get("train_tick", 0)
        self.startup_stalls.append(stalls_of(ticks[: split + 1]))
        self.training_stalls.append(stalls_of(ticks[split:]))
        self.worst += worst_stalls(ticks[split:], events)
        self.rates += epoch_rates(Path(outcome.run_dir))
        self.walls.append(wall)
        self.redraw_hz.append((ctl.monitor.curves.redraws - redraws) / max(wall, 1e-9))

    def close(self) -> None:
        self.window.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=1000, help="demo phantoms to generate")
    parser.add_argument("--size", type=int, default=64, help="pixel size of the generated phantoms")
    parser.add_argument("--npz", help="use a MedMNIST .npz instead of generated phantoms")
    parser.add_argument("--model", default="baseline_cnn")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="GUI runs (each between two CLI runs)")
    parser.add_argument("--browse-ms", type=int, default=0,
                        help="also browse: next image every N ms during the GUI runs (0: only the probe)")
    parser.add_argument("--cli-default-omp", action="store_true",
                        help="add a CLI run with OpenMP's defaults (long spinning) for comparison")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = Path(tempfile.mkdtemp(prefix="medtl-bench-gui-training-"))
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    project = make_project(work / "project", args)
    gui = GuiHarness(project, args, work)
    config_path = work / "config.json"
    gui.save_config(config_path)
    from medtl_gui.core.training.setup_checks import OPENMP_SPIN_LIMITS, OPENMP_VARIABLES

    openmp = {k: os.environ[k] for k in OPENMP_VARIABLES if k in os.environ}  # as the window set them
    cli_rates: list[float] = []
    for round_index in range(args.rounds):
        cli_rates += cli_run(project, config_path, work / f"cli-{round_index}", openmp)
        gui.run()
    cli_rates += cli_run(project, config_path, work / f"cli-{args.rounds}", openmp)
    default_omp = cli_run(project, config_path, work / "cli-default-omp", {}) if args.cli_default_omp else []
    gui.close()

    training = np.concatenate(gui.training_stalls)
    startup_first = gui.startup_stalls[0]
    n_train = len(json.loads((work / "cli-0" / "config.json").read_text())["data"]["splits"]["train"])
    cli, gui_rate = statistics.median(cli_rates), statistics.median(gui.rates)
    result: dict[str, float] = {
        "n_train_images": n_train, "epochs": args.epochs, "image_size": args.image_size,
        "batch_size": args.batch_size, "gui_runs": args.rounds, "cli_runs": args.rounds + 1,
        "cpu_count": os.cpu_count() or 0, "load_before": load_before, "load_after": os.getloadavg()[0],
        "openmp_spin_limited": float(openmp == OPENMP_SPIN_LIMITS), "browse_ms": args.browse_ms,
        "cli_images_per_s": cli, "cli_images_per_s_min": min(cli_rates), "cli_images_per_s_max": max(cli_rates),
        "gui_images_per_s": gui_rate, "gui_images_per_s_min": min(gui.rates), "gui_images_per_s_max": max(gui.rates),
        "throughput_ratio_gui_vs_cli": gui_rate / cli if cli else float("nan"),
        "stall_max_ms": float(training.max()), "stall_p99_ms": float(np.percentile(training, 99)),
        "stall_p50_ms": float(np.percentile(training, 50)), "probe_ticks": int(training.size),
        "startup_stall_max_ms": float(startup_first.max()) if startup_first.size else 0.0,
        "startup_stall_p99_ms": float(np.percentile(startup_first, 99)) if startup_first.size else 0.0,
        "curve_redraw_hz": float(np.mean(gui.redraw_hz)), "gui_wall_s_mean": float(np.mean(gui.walls)),
        "total_wall_s": time.perf_counter() - started,
    }
    if default_omp:
        result["cli_default_omp_images_per_s"] = statistics.median(default_omp)
    result["pass_stall_max_lt_50ms"] = float(result["stall_max_ms"] < 50)
    result["pass_stall_p99_lt_20ms"] = float(result["stall_p99_ms"] < 20)
    result["pass_throughput_ge_0_9"] = float(result["throughput_ratio_gui_vs_cli"] >= 0.9)
    print(f"CLI {cli:.0f} images/s (runs {min(cli_rates):.0f}-{max(cli_rates):.0f}), GUI {gui_rate:.0f} images/s "
          f"(ratio {result['throughput_ratio_gui_vs_cli']:.3f}); GUI-thread stall during training: max "
          f"{result['stall_max_ms']:.1f} ms, p99 {result['stall_p99_ms']:.1f} ms, p50 {result['stall_p50_ms']:.2f} ms "
          f"over {result['probe_ticks']} ticks; first start-up max {result['startup_stall_max_ms']:.0f} ms; "
          f"load {load_before:.1f} -> {result['load_after']:.1f}", file=sys.stderr)
    for stall, near in sorted(gui.worst, reverse=True)[:5]:
        print(f"  stall {stall:.1f} ms near: {near}", file=sys.stderr)
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
