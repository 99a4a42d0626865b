"""GUI responsiveness benchmark (issue 4).

1. Time to first window: a fresh process runs ``python -m medtl_gui
   --quit-after-show`` (MedTL's main window, no project) and, interleaved in
   the same run, a bare ``QMainWindow`` launch; each prints READY once its
   window is shown. Medians of ``--repeats`` launches and the ratio MedTL / bare.
2. Next image in a 512x512 project (``--n-512`` generated PNGs): time from
   "next image" (the Right key's action) to the image and its masks on screen,
   median and max, with the user's usual pace (a pause after each image, so the
   neighbours are prefetched: "cached") and with key repeat (no pause: "rapid").
3. Opening a generated 10,000-image project (``--n-large``): time from
   ``open_project`` to the first image on screen, and the longest stall of the
   GUI thread meanwhile (a 5 ms timer measures event-loop gaps).
4. A brush stroke on a 512x512 image: GUI-thread time per stroke (paint +
   commit + queue the save) and the background save time.

Usage: .venv/bin/python benchmarks/bench_gui.py [--repeats 5] [--n-512 40] [--n-large 10000]
Runs offscreen unless DISPLAY is set (e.g. under xvfb-run). The last line
printed is one JSON object with flat numeric figures.
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

from _scale_data import make_large_project  # shared with bench_scale.py (benchmarks/ is on sys.path)

ROOT = Path(__file__).resolve().parents[1]

BARE_WINDOW = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])
window = QMainWindow()
window.resize(1440, 900)
window.show()
def ready():
    print("READY", flush=True)
    app.quit()
QTimer.singleShot(0, ready)
app.exec()
"""


# -- 1. first window -------------------------------------------------------------------------
def launch_seconds(command: list[str], env: dict[str, str]) -> float:
    """Wall time from starting a process to its READY line."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                            cwd=ROOT)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "READY":
            elapsed = time.perf_counter() - started
            break
    else:
        raise RuntimeError(f"{command} ended without showing its window")
    proc.wait(30)
    return elapsed


def time_first_window(repeats: int, env: dict[str, str], settings_dir: Path) -> dict[str, float]:
    child_env = dict(env, XDG_CONFIG_HOME=str(settings_dir))
    medtl = [sys.executable, "-m", "medtl_gui", "--quit-after-show"]
    bare = [sys.executable, "-c", BARE_WINDOW]
    launch_seconds(bare, child_env)  # warm the file cache for both
    launch_seconds(medtl, child_env)
    ours, base = [], []
    for _ in range(repeats):
        base.append(launch_seconds(bare, child_env))
        ours.append(launch_seconds(medtl, child_env))
    medtl_ms, bare_ms = statistics.median(ours) * 1000, statistics.median(base) * 1000
    return {"first_window_ms": medtl_ms, "bare_qmainwindow_ms": bare_ms, "first_window_ratio": medtl_ms / bare_ms}


# -- helpers -----------------------------------------------------------------------------------
class StallMeter:
    """Longest gap between ticks of a 5 ms timer on the GUI thread (event-loop stall)."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.longest = 0.0
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setInterval(5)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self._last)
        self._last = now

    def start(self) -> None:
        self.longest = 0.0
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> float:
        self._timer.stop()
        return self.longest


def wait_for(app, condition, timeout: float = 60.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("condition not met in time")
        app.processEvents()
        time.sleep(0.0005)


def make_512_project(folder: Path, n: int) -> Path:
    from PIL import Image

    from medtl_gui.core.project import Project

    rng = np.random.default_rng(0)
    sources = folder / "png512"
    sources.mkdir(parents=True)
    yy, xx = np.mgrid[0:512, 0:512]
    with Project.create(folder / "p512") as project:
        project.add_class("normal")
        project.add_class("lesion")
        for i in range(n):
            picture = 90 + 60 * np.sin(xx / (20 + i)) * np.cos(yy / 31) + rng.normal(0, 12, (512, 512))
            path = sources / f"img_{i:03d}.png"
            Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8)).save(path)
            image_id = project.add_image(path)
            if i % 3 == 0:
                mask = np.zeros((512, 512), np.uint8)
                mask[200:260, 180 + i: 260 + i] = 1
                project.set_mask(image_id, mask)
    return folder / "p512"


# -- 2.-4. in-process measurements ---------------------------------------------------------------
def time_in_process(workdir: Path, n_512: int, n_large: int) -> dict[str, float]:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(workdir / "settings"))
    app = QApplication.instance() or QApplication([])
    from medtl_gui.gui.main_window import MainWindow
    from medtl_gui.gui.theme import apply_theme

    apply_theme(app, "dark")
    results: dict[str, float] = {}
    meter = StallMeter()

    # 2. next image in a 512x512 project
    project_512 = make_512_project(workdir, n_512)
    window = MainWindow()
    window.show()
    window.open_project(project_512)
    wait_for(app, lambda: window.viewer.scan is not None and window.editor.document is not None)
    shown: list[int] = []
    window.image_shown.connect(shown.append)

    def step_and_time() -> float:
        before = window.current_id
        started = time.perf_counter()
        window.actions_by_name["next_image"].trigger()
        wait_for(app, lambda: window.current_id != before and shown and shown[-1] == window.current_id)
        return time.perf_counter() - started

    cached = []
    for _ in range(n_512 // 2 - 1):
        pause_until = time.perf_counter() + 0.25  # a reader's pace: neighbours get prefetched
        while time.perf_counter() < pause_until:
            app.processEvents()
            time.sleep(0.002)
        cached.append(step_and_time())
    meter.start()
    rapid = [step_and_time() for _ in range(n_512 // 2 - 2)]
    results["next_image_stall_max_ms"] = meter.stop() * 1000
    results["next_image_cached_median_ms"] = statistics.median(cached) * 1000
    results["next_image_cached_max_ms"] = max(cached) * 1000
    results["next_image_rapid_median_ms"] = statistics.median(rapid) * 1000
    results["next_image_rapid_max_ms"] = max(rapid) * 1000

    # 4. brush stroke on a 512x512 image, GUI-thread part and background save
    editor = window.editor
    editor.set_tool("brush")
    editor.set_radius(10)
    strokes = []
    for row in range(40, 480, 40):
        started = time.perf_counter()
        editor.drag_started((20.5, row + 0.5), (40.5, row + 0.5))
        for x in range(60, 500, 20):
            editor.drag_moved((x + 0.5, row + 0.5))
        editor.drag_finished((500.5, row + 0.5))
        strokes.append(time.perf_counter() - started)
        app.processEvents()
    window.saver.flush()
    results["stroke_gui_median_ms"] = statistics.median(strokes) * 1000
    results["stroke_gui_max_ms"] = max(strokes) * 1000
    results["mask_save_background_ms"] = window.saver.last_write_seconds * 1000
    window.close()

    # 3. open a large project
    large = make_large_project(workdir, n_large)
    window = MainWindow()
    window.show()
    app.processEvents()
    meter.start()
    started = time.perf_counter()
    window.open_project(large)
    results["open_large_call_ms"] = (time.perf_counter() - started) * 1000
    wait_for(app, lambda: window.viewer.scan is not None and len(window.browser.model.rows) == n_large)
    results["open_large_first_image_ms"] = (time.perf_counter() - started) * 1000
    results["open_large_stall_max_ms"] = meter.stop() * 1000
    results["large_project_images"] = float(len(window.browser.model.rows))
    meter.start()
    started = time.perf_counter()
    window.browser.set_filter("Unlabelled")
    window.browser.sort_by(1)
    window.browser.search.setText("case_0001")  # case_000100 .. case_000199: 100 rows
    results["large_filter_sort_search_ms"] = (time.perf_counter() - started) * 1000
    window.browser.search.setText("")
    window.browser.set_grid_mode(True)
    app.processEvents()
    results["large_grid_switch_stall_ms"] = meter.stop() * 1000
    window.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="launches of each kind for the first-window time")
    parser.add_argument("--n-512", type=int, default=40, help="images in the 512x512 project")
    parser.add_argument("--n-large", type=int, default=10000, help="images in the large project")
    args = parser.parse_args()
    env = dict(os.environ)
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="medtl-bench-gui-") as tmp:
        workdir = Path(tmp)
        results = time_first_window(args.repeats, env, workdir / "xdg")
        results.update(time_in_process(workdir, args.n_512, args.n_large))
    results["platform_offscreen"] = float(os.environ.get("QT_QPA_PLATFORM") == "offscreen")
    rounded = {k: round(v, 2) for k, v in results.items()}
    for key, value in rounded.items():
        print(f"{key:32s} {value}")
    print(json.dumps(rounded))


if __name__ == "__main__":
    main()
