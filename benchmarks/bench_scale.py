"""Scale benchmark (issue 10, part 5): large projects and a large CT volume in the real main window.

Data (generated once, cached under ``--workdir``; see ``_scale_data.py``):
(a) a 10,000-image project (``--n-images`` distinct ``--image-size``² PNGs,
labels, splits, a mask on every 10th image), (b) a 100,000-row project
(``--n-rows`` tiny 16² PNGs, recorded through the store's bulk insert) and
(c) a 512x512x500 int16 CT phantom (NIfTI) in a project of its own and
(d) a project of eight such phantoms (more than the image cache holds).

Each scenario runs in a fresh process (so its RSS figures are its own),
offscreen, in the real ``MainWindow``:

- projects: ``Project.open`` time; ``open_project`` until the browser holds
  every row and the first image is on screen (``open_call_ms``: the
  synchronous part of it, which on the first open also imports the project
  store), with the longest GUI stall after that call while rows and image
  load (a 5 ms ``QTimer`` heartbeat: longest gap between ticks); RSS
  (``/proc/self/status`` VmRSS) after opening and the peak (VmHWM); filter
  ("Unlabelled"), search ("case_0010"), sort (by label) and clearing them; grid
  and table scrolling by pages (``scrollbar.setValue`` + the paint it causes,
  per step); next image: the real "next image" action (Right key), time until
  the viewer shows the new image, with key repeat (no pause) and at a reading
  pace (a pause after each image, neighbours prefetched);
  Also label edits: a class given to the image on screen (store write,
  browser row and counts update), timed to the end of the events it causes;
- volume: time from ``open_project`` to the first slice on screen, the
  longest GUI stall while it loads, slice scrolling with the real "next
  slice" action (Down key: set the slice and paint it), RSS peak;
- volumes: browsing a project of ``--n-volumes`` such volumes (next image
  to the last, then back), a 1 s look at each: step times, longest GUI
  stall, the loader cache's size and the RSS peak (memory must stay bounded).

Targets (issue 10): RSS < 2 GB; next-image median < 50 ms.
Usage: .venv/bin/python benchmarks/bench_scale.py [--workdir /tmp/medtl-bench-scale] [--steps 300]
The last line printed is one flat JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _scale_data import cached, make_large_project, make_volume_project, make_volumes_project  # noqa: E402
from bench_gui import StallMeter, wait_for  # noqa: E402

#: how long a scenario process may run before it counts as hung (seconds)
PHASE_TIMEOUT_S = 1800
#: the scenarios, each in a process of its own
PHASES: tuple[str, ...] = ("images", "rows", "volume", "volumes")


# -- measurement helpers --------------------------------------------------------------------
def memory_mb() -> dict[str, float]:
    """Resident set size now and its peak (VmRSS, VmHWM) of this process, MB."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024.0
    return {"rss_mb": fields["VmRSS"], "rss_peak_mb": fields["VmHWM"]}


def summary(prefix: str, seconds: list[float]) -> dict[str, float]:
    """Median, 95th percentile and maximum of durations, in ms, under ``prefix``."""
    ms = sorted(s * 1000.0 for s in seconds)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return {f"{prefix}_median_ms": statistics.median(ms), f"{prefix}_p95_ms": p95, f"{prefix}_max_ms": ms[-1]}


def idle(app: Any, seconds: float) -> None:
    """Run the event loop for ``seconds`` (a user pausing)."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        app.processEvents()
        time.sleep(0.002)


def timed_event(app: Any, action: Any) -> float:
    """Seconds for ``action()`` plus the events (paint) it causes."""
    started = time.perf_counter()
    action()
    app.processEvents()
    return time.perf_counter() - started


def make_app(workdir: Path) -> Any:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(workdir / "settings"))
    app = QApplication.instance() or QApplication([])
    from medtl_gui.gui.theme import apply_theme

    apply_theme(app, "dark")
    return app


def shown_window(workdir: Path) -> tuple[Any, Any]:
    """The application and a shown, empty main window."""
    app = make_app(workdir)
    from medtl_gui.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    return app, window


# -- scenario: a large project ---------------------------------------------------------------
def scroll_latencies(app: Any, view: Any, steps: int) -> list[float]:
    """Scroll ``view`` down by pages (wrapping to the top), timing each step with its paint."""
    bar = view.verticalScrollBar()
    times = []
    for _ in range(steps):
        target = bar.value() + bar.pageStep()
        times.append(timed_event(app, lambda t=target: bar.setValue(t if t <= bar.maximum() else 0)))
    return times


def next_image_latencies(app: Any, window: Any, steps: int, pause_s: float) -> list[float]:
    """Trigger "next image" ``steps`` times; seconds until the viewer shows each new image."""
    shown: list[int] = []
    window.image_shown.connect(shown.append)
    times = []
    for _ in range(steps):
        if pause_s:
            idle(app, pause_s)
        before = window.current_id
        started = time.perf_counter()
        window.actions_by_name["next_image"].trigger()
        wait_for(app, lambda: window.current_id != before and shown and shown[-1] == window.current_id)
        times.append(time.perf_counter() - started)
    window.image_shown.disconnect(shown.append)
    return times


def label_edit_latencies(app: Any, window: Any, n: int) -> list[float]:
    """Label the image on screen with another class (what a class key does, without advancing), timing
    the store write, the browser's row and counts update and the events that follow; the old label is
    put back afterwards (untimed), so the cached data set stays as generated."""
    from _scale_data import CLASSES

    times = []
    for k in range(n):
        image_id = window.current_id
        old = window.project.label(image_id)
        new_class = next(c for c in CLASSES if old is None or c != old.class_name)
        started = time.perf_counter()
        window.labelling.assign(new_class, advance=False)
        app.processEvents()
        times.append(time.perf_counter() - started)
        window.labelling.assign(old.class_name if old is not None else None, advance=False)
        app.processEvents()
        window.actions_by_name["next_image"].trigger()
        wait_for(app, lambda: window.current_id != image_id)
    return times


def run_project(project_dir: Path, workdir: Path, steps: int) -> dict[str, float]:
    """Open a large project in the main window and measure it (see the module docstring)."""
    from medtl_gui.core.project import Project

    results: dict[str, float] = {}
    started = time.perf_counter()
    Project.open(project_dir).close()
    results["project_open_ms"] = (time.perf_counter() - started) * 1000
    from medtl_gui.gui.browser_model import UNLABELLED

    app, window = shown_window(workdir)
    idle(app, 0.2)
    results["rss_before_open_mb"] = memory_mb()["rss_mb"]
    meter = StallMeter()
    started = time.perf_counter()
    window.open_project(project_dir)  # the first call also imports the project store (about 0.3 s)
    results["open_call_ms"] = (time.perf_counter() - started) * 1000
    meter.start()  # GUI stalls while the rows load in the background
    wait_for(app, lambda: window.browser.model.rowCount() > 0, timeout=600)
    results["open_browser_populated_ms"] = (time.perf_counter() - started) * 1000
    wait_for(app, lambda: window.viewer.scan is not None, timeout=600)
    results["open_first_image_ms"] = (time.perf_counter() - started) * 1000
    results["open_stall_max_ms"] = meter.stop() * 1000
    n_rows = window.browser.model.rowCount()
    results["rows"] = float(n_rows)
    idle(app, 0.5)
    results["rss_after_open_mb"] = memory_mb()["rss_mb"]
    started = time.perf_counter()
    gc.collect()  # what a full garbage collection costs the GUI thread with these rows alive
    results["gc_full_collection_ms"] = (time.perf_counter() - started) * 1000

    browser = window.browser
    meter.start()
    results["filter_unlabelled_ms"] = timed_event(app, lambda: browser.set_filter(UNLABELLED)) * 1000
    results["filtered_rows"] = float(browser.proxy.rowCount())
    results["search_ms"] = timed_event(app, lambda: browser.search.setText("case_0010")) * 1000
    results["searched_rows"] = float(browser.proxy.rowCount())
    results["clear_filter_search_ms"] = timed_event(
        app, lambda: (browser.search.setText(""), browser.set_filter("All images"))) * 1000
    results["sort_label_ms"] = timed_event(app, lambda: browser.sort_by(1)) * 1000
    results["sort_back_ms"] = timed_event(app, lambda: browser.sort_by(-1)) * 1000
    results["filter_sort_stall_max_ms"] = meter.stop() * 1000

    browser.select_row(0)
    idle(app, 0.3)
    results.update(summary("table_scroll", scroll_latencies(app, browser.table, steps)))
    results["grid_switch_ms"] = timed_event(app, lambda: window.actions_by_name["grid_view"].trigger()) * 1000
    idle(app, 0.3)
    results.update(summary("grid_scroll", scroll_latencies(app, browser.grid, steps)))
    results["thumbnails_in_memory"] = float(browser.thumbnails.cached_count)
    thumbnails = browser.thumbnails  # (getattr: the benchmark also runs against older code, for a baseline)
    results["thumbnail_memory_mb"] = getattr(thumbnails, "cached_bytes", -2**20) / 2**20
    results["thumbnail_requests"] = float(getattr(thumbnails, "request_count", -1))  # cells painted anew
    window.actions_by_name["grid_view"].trigger()
    browser.thumbnails.set_project(window.project)  # stop queued thumbnails: next-image timing on its own
    browser.select_row(0)
    wait_for(app, lambda: window.viewer.scan is not None and window.current_id == browser.current_image_id())
    results.update(summary("next_image", next_image_latencies(app, window, steps, 0.0)))
    results.update(summary("next_image_paced", next_image_latencies(app, window, max(10, steps // 5), 0.15)))
    results.update(summary("label_edit", label_edit_latencies(app, window, max(5, steps // 15))))
    results["loader_cache_mb"] = window.loader.cached_bytes / 1e6
    results["mask_documents"] = float(len(window.editor.documents))
    memory = memory_mb()
    results["rss_end_mb"], results["rss_peak_mb"] = memory["rss_mb"], memory["rss_peak_mb"]
    window.close()
    return results


# -- scenario: a large volume ----------------------------------------------------------------
def run_volume(project_dir: Path, workdir: Path, steps: int) -> dict[str, float]:
    """Open the CT phantom's project and measure loading and slice scrolling."""
    app, window = shown_window(workdir)
    results: dict[str, float] = {}
    idle(app, 0.2)
    results["rss_before_open_mb"] = memory_mb()["rss_mb"]
    meter = StallMeter()
    started = time.perf_counter()
    window.open_project(project_dir)
    results["open_call_ms"] = (time.perf_counter() - started) * 1000
    meter.start()  # GUI stalls while the volume loads in the background
    viewer = window.viewer
    wait_for(app, lambda: viewer.scan is not None and viewer.image_item.image is not None, timeout=600)
    app.processEvents()  # its first paint
    if viewer.n_slices <= 1:
        raise RuntimeError(f"the first image shown is not the volume ({viewer.scan.path})")
    results["first_slice_ms"] = (time.perf_counter() - started) * 1000
    results["load_stall_max_ms"] = meter.stop() * 1000
    results["slices"] = float(viewer.n_slices)
    results["rss_after_load_mb"] = memory_mb()["rss_mb"]

    action = window.actions_by_name["next_slice"]
    meter.start()
    down = [timed_event(app, action.trigger) for _ in range(steps)]
    back = [timed_event(app, window.actions_by_name["previous_slice"].trigger) for _ in range(steps)]
    jumps = [timed_event(app, lambda k=k: viewer.slice_slider.setValue((k * 37) % viewer.n_slices))
             for k in range(max(10, steps // 3))]
    results["scroll_stall_max_ms"] = meter.stop() * 1000
    results.update(summary("slice_scroll", down + back))
    results.update(summary("slice_jump", jumps))
    # to the next (2D) image and back to the volume (cached: no second read)
    results["to_2d_image_ms"] = next_image_latencies(app, window, 1, 0.0)[0] * 1000
    started = time.perf_counter()
    window.actions_by_name["previous_image"].trigger()
    wait_for(app, lambda: viewer.n_slices > 1, timeout=600)
    results["back_to_volume_ms"] = (time.perf_counter() - started) * 1000
    memory = memory_mb()
    results["rss_end_mb"], results["rss_peak_mb"] = memory["rss_mb"], memory["rss_peak_mb"]
    window.close()
    return results


def run_volumes(project_dir: Path, workdir: Path, steps: int) -> dict[str, float]:
    """Browse a project of several large volumes (next image, next, ..., then back): memory must stay bounded."""
    app, window = shown_window(workdir)
    results: dict[str, float] = {}
    window.open_project(project_dir)
    viewer = window.viewer
    wait_for(app, lambda: viewer.n_slices > 1, timeout=600)
    n_images = window.browser.model.rowCount()
    shown: list[int] = []
    window.image_shown.connect(shown.append)
    idle(app, 1.0)  # a look at the first volume
    meter = StallMeter()
    meter.start()
    times = []
    for action in ["next_image"] * (n_images - 1) + ["previous_image"] * (n_images - 1):
        before = window.current_id
        started = time.perf_counter()
        window.actions_by_name[action].trigger()
        wait_for(app, lambda: window.current_id != before and shown and shown[-1] == window.current_id,
                 timeout=600)
        times.append(time.perf_counter() - started)
        idle(app, 1.0)  # a look at it (a prefetch of the next volume may run meanwhile)
    results["stall_max_ms"] = meter.stop() * 1000
    results["volumes"] = float(n_images)
    results["step_median_ms"] = statistics.median(times) * 1000
    results["step_max_ms"] = max(times) * 1000
    results["loader_cache_mb"] = window.loader.cached_bytes / 1e6
    memory = memory_mb()
    results["rss_end_mb"], results["rss_peak_mb"] = memory["rss_mb"], memory["rss_peak_mb"]
    window.close()
    return results


# -- driver ------------------------------------------------------------------------------------
def prepare_data(args: argparse.Namespace) -> dict[str, Path]:
    """Generate (or reuse) the three data sets; their project folders by scenario name."""
    workdir = Path(args.workdir)
    images = cached(workdir / f"images{args.n_images}",
                    {"n": args.n_images, "size": args.image_size, "mask_every": 10},
                    lambda f: make_large_project(f, args.n_images, image_size=args.image_size, mask_every=10))
    rows = cached(workdir / f"rows{args.n_rows}", {"n": args.n_rows, "size": 16},
                  lambda f: make_large_project(f, args.n_rows, image_size=16))
    volume = cached(workdir / f"volume{args.volume_size}x{args.volume_slices}",
                    {"size": args.volume_size, "slices": args.volume_slices, "version": 2},
                    lambda f: make_volume_project(f, args.volume_size, args.volume_slices))
    volumes = cached(workdir / f"volumes{args.n_volumes}x{args.volume_size}x{args.volume_slices}",
                     {"n": args.n_volumes, "size": args.volume_size, "slices": args.volume_slices},
                     lambda f: make_volumes_project(f, args.n_volumes, args.volume_size, args.volume_slices))
    return {"images": images / "p_large", "rows": rows / "p_large", "volume": volume / "p_volume",
            "volumes": volumes / "p_volumes"}


def run_phase_process(phase: str, project: Path, args: argparse.Namespace) -> dict[str, float]:
    """Run one scenario in a fresh Python process; its JSON figures."""
    command = [sys.executable, __file__, "--phase", phase, "--project", str(project),
               "--workdir", args.workdir, "--steps", str(args.steps)]
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    done = subprocess.run(command, capture_output=True, text=True, timeout=PHASE_TIMEOUT_S, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"scenario {phase} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="/tmp/medtl-bench-scale", help="generated data (cached here)")
    parser.add_argument("--n-images", type=int, default=10_000, help="images in the image project")
    parser.add_argument("--image-size", type=int, default=256, help="side of those images, pixels")
    parser.add_argument("--n-rows", type=int, default=100_000, help="rows in the large project")
    parser.add_argument("--volume-size", type=int, default=512, help="rows and columns of the CT volume")
    parser.add_argument("--volume-slices", type=int, default=500, help="slices of the CT volume")
    parser.add_argument("--n-volumes", type=int, default=8, help="volumes in the volume-browsing project")
    parser.add_argument("--steps", type=int, default=300, help="scroll / next-image steps per measurement")
    parser.add_argument("--only", choices=PHASES, action="append",
                        help="run only these scenarios (repeatable)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--project", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    if args.phase:  # a child process: one scenario
        run = {"volume": run_volume, "volumes": run_volumes}.get(args.phase, run_project)
        figures = run(Path(args.project), Path(args.workdir), args.steps)
        print(json.dumps({k: round(v, 2) for k, v in figures.items()}))
        return

    started = time.perf_counter()
    projects = prepare_data(args)
    results: dict[str, float] = {"data_prepare_s": time.perf_counter() - started}
    for phase in args.only or PHASES:
        figures = run_phase_process(phase, projects[phase], args)
        results.update({f"{phase}_{key}": value for key, value in figures.items()})
    peaks = [v for k, v in results.items() if k.endswith("rss_peak_mb")]
    results["rss_peak_max_mb"] = max(peaks) if peaks else 0.0
    results["target_rss_ok"] = float(results["rss_peak_max_mb"] < 2048)
    if "images_next_image_median_ms" in results:
        results["target_next_image_ok"] = float(results["images_next_image_median_ms"] < 50)
    rounded = {k: round(float(v), 2) for k, v in results.items()}
    for key, value in rounded.items():
        print(f"{key:40s} {value}")
    print(json.dumps(rounded))


if __name__ == "__main__":
    main()
