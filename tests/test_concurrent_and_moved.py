"""Another process removes an image while it is in use, and projects are moved or copied with their runs.

Removal from elsewhere (a second window, ``medtl remove``) is a normal event: the window refreshes its
list and says so in one line, nothing else is lost; a training run leaves a vanished image out with a
warning. A run refers to its project relative to the run folder, so a moved or copied project keeps
working and a report of a copy is logged in the copy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli

GONE = "no longer in the project"


# ------------------------------------------------------------------------------------ GUI
def _remove_elsewhere(folder: Path, image_id: int) -> None:
    """Remove an image through a second connection to the project (as another process would)."""
    from medtl_gui.core.project import Project

    with Project.open(folder) as other:
        assert other.remove_images([image_id]) == [image_id]


def _wait_for_status(qtbot, window, text: str) -> None:
    qtbot.waitUntil(lambda: text in window.statusBar().currentMessage(), timeout=10_000)


def _row_ids(window) -> set[int]:
    return {row.image_id for row in window.browser.model.rows}


def test_a_class_key_enter_and_a_note_on_an_image_removed_elsewhere(qtbot, main_window, demo_project_dir):
    window = main_window
    gone = window.current_id
    n_rows = len(window.browser.model.rows)
    _remove_elsewhere(demo_project_dir, gone)
    with qtbot.waitSignal(window.browser.rows_loaded, timeout=10_000):
        window.window_actions.class_actions[0].trigger()  # key "1": no exception escapes the slot
    _wait_for_status(qtbot, window, f"Image {gone} is {GONE}")
    assert gone not in _row_ids(window) and len(window.browser.model.rows) == n_rows - 1
    qtbot.waitUntil(lambda: window.current_id not in (None, gone), timeout=10_000)  # the next image is shown
    assert window.project.label(window.current_id) is None or window.current_id != gone

    second = window.current_id
    _remove_elsewhere(demo_project_dir, second)
    window.window_actions.actions["confirm"].trigger()  # Enter
    _wait_for_status(qtbot, window, f"Image {second} is {GONE}")
    qtbot.waitUntil(lambda: second not in _row_ids(window), timeout=10_000)

    qtbot.waitUntil(lambda: window.current_id not in (None, second), timeout=10_000)
    third = window.current_id
    _remove_elsewhere(demo_project_dir, third)
    window.labelling.save_note("seen")  # the note field's editingFinished
    _wait_for_status(qtbot, window, f"Image {third} is {GONE}")
    assert len(window.browser.model.rows) == n_rows - 3
    assert not [h for h in window.project.history() if h.action == "label" and h.image_id in (gone, second)]


def test_navigating_onto_an_image_removed_elsewhere(qtbot, main_window, demo_project_dir):
    from medtl_gui.gui.browser_model import ROW_ROLE

    window = main_window
    row = window.browser.table.currentIndex().row()
    following = window.browser.proxy.index(row + 1, 0).data(ROW_ROLE).image_id
    after_that = window.browser.proxy.index(row + 2, 0).data(ROW_ROLE).image_id
    _remove_elsewhere(demo_project_dir, following)
    window.loader.clear()  # not prefetched: the pixels must be read now
    window.window_actions.actions["next_image"].trigger()  # Right arrow
    _wait_for_status(qtbot, window, f"Image {following} is {GONE}")
    assert following not in _row_ids(window)
    qtbot.waitUntil(lambda: window.shown_id == after_that, timeout=10_000)  # the image that took its place


def test_the_import_summary_appears_when_the_image_on_screen_was_removed(qtbot, main_window, demo_project_dir,
                                                                         tmp_path):
    window = main_window
    gone = window.current_id
    n_rows = len(window.browser.model.rows)
    source = tmp_path / "more"
    source.mkdir()
    Image.fromarray(np.full((16, 16), 90, np.uint8)).save(source / "extra.png")
    _remove_elsewhere(demo_project_dir, gone)
    window.import_paths([str(source)])
    qtbot.waitUntil(lambda: window.last_import_summary is not None, timeout=20_000)
    window.last_import_summary.close()
    qtbot.waitUntil(lambda: len(window.browser.model.rows) == n_rows, timeout=10_000)  # -1 removed, +1 imported
    assert gone not in _row_ids(window)
    _wait_for_status(qtbot, window, f"Image {gone} is {GONE}")


def test_a_mask_painted_on_an_image_removed_elsewhere_is_reported_and_the_others_are_saved(
        qtbot, main_window, demo_project_dir, monkeypatch):
    from medtl_gui.gui import main_window as main_window_module

    window = main_window
    boxes: list[str] = []
    monkeypatch.setattr(main_window_module.QMessageBox, "warning", lambda *a, **k: boxes.append(a[2]))
    flat = sorted(row.image_id for row in window.browser.model.rows if row.n_frames <= 1)  # 2D images
    gone, kept = flat[-1], flat[-2]
    shape = tuple(window.project.image(kept).shape[:2])
    _remove_elsewhere(demo_project_dir, gone)
    mask = np.zeros(shape, np.uint8)
    mask[2:6, 2:6] = 1
    window.saver.save(window.project, gone, None, mask)  # painted just before another process removed it
    window.saver.save(window.project, kept, None, mask)
    assert window.saver.flush()
    _wait_for_status(qtbot, window, f"The mask of image {gone} could not be saved")
    assert GONE in window.statusBar().currentMessage()
    assert window.project.mask_record(kept) is not None, f"the other image's mask is stored {boxes}"
    assert boxes == [], "no message box: one line in the status bar"
    qtbot.waitUntil(lambda: gone not in _row_ids(window), timeout=10_000)


# ------------------------------------------------------------------------------ training
def _class_tree(root: Path, per_class: int = 6, size: int = 16) -> Path:
    rng = np.random.default_rng(3)
    for k, name in enumerate(("normal", "effusion")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 120, (size, size), dtype=np.uint8) + 100 * k
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{name}_{i}.png")
    return root


TRAIN = ["--model", "baseline_cnn", "--pretrained", "none", "--epochs", "1", "--image-size", "16",
         "--batch-size", "4", "--device", "cpu", "--precision", "fp32"]


def _project_with_splits(tmp_path: Path) -> tuple[Path, dict[str, list[int]]]:
    project = tmp_path / "project"
    done = run_cli(["import", str(project), str(_class_tree(tmp_path / "scans")), "--copy", "--json"])
    assert done.returncode == 0, done.stderr[-2000:]
    from medtl_gui.core.project import Project

    with Project.open(project) as opened:
        ids = [r.id for r in opened.images()]
        normal = [r.id for r in opened.images(label="normal")]
        effusion = [r.id for r in opened.images(label="effusion")]
        splits = {"val": [normal[0]], "test": [normal[1], effusion[1]]}
        opened.set_splits(ids, "train")
        for name, chosen in splits.items():
            opened.set_splits(chosen, name)
        splits["train"] = sorted(set(ids) - set(splits["val"]) - set(splits["test"]))
    return project, splits


def _delete_copy(project: Path, image_id: int) -> None:
    from medtl_gui.core.project import Project

    with Project.open(project) as opened:
        opened.image_path(image_id).unlink()


def test_a_run_leaves_out_vanished_images_with_a_warning_and_survives_losing_all_validation(tmp_path):
    project, splits = _project_with_splits(tmp_path)
    lost_train, lost_val = splits["train"][0], splits["val"][0]
    _delete_copy(project, lost_train)
    _delete_copy(project, lost_val)  # the only validation image
    run = tmp_path / "run"
    done = run_cli(["train", str(project), *TRAIN, "--run-dir", str(run)])
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "correct the setting" not in output and "Traceback" not in output
    assert "2 image(s) could not be read and were left out" in output, output[-3000:]
    assert f"{lost_train}" in output and f"{lost_val}" in output
    used = json.loads((run / "config.json").read_text())["data"]["splits"]
    assert str(lost_train) not in used["train"] + used.get("val", [])
    assert str(lost_val) not in used["train"] + used.get("val", [])
    assert json.loads((run / "report.json").read_text())["status"] == "completed"


# ------------------------------------------------------------------------ moved / copied
@pytest.fixture(scope="module")
def trained_project(tmp_path_factory) -> tuple[Path, Path]:
    """A small project with one trained run in its runs/ folder: (project, run)."""
    tmp = tmp_path_factory.mktemp("portable")
    project, _ = _project_with_splits(tmp)
    done = run_cli(["train", str(project), *TRAIN, "--quiet", "--json"])
    assert done.returncode == 0, done.stderr[-3000:]
    runs = sorted((project / "runs").iterdir())
    assert len(runs) == 1
    return project, runs[0]


def _exports(project: Path) -> list[dict]:
    done = run_cli(["exports", str(project), "--json"])
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_a_copied_projects_report_reads_the_copy_and_is_logged_there(trained_project, tmp_path):
    project, run = trained_project
    record = json.loads((run / "config.json").read_text())
    assert record["data"]["source_in_run"] == "../..", "the run names its project relative to itself"
    copy = tmp_path / "copy"
    shutil.copytree(project, copy)
    before = len(_exports(project))
    copied_run = copy / "runs" / run.name
    done = run_cli(["report", "--run", str(copied_run), "--json"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["export_logged"] is True
    assert len(_exports(project)) == before, "the original project's audit table is untouched"
    logged = [e for e in _exports(copy) if e["what"] == "report"]
    assert len(logged) == before + 1 and str(copied_run) in json.dumps(logged[-1])


def test_a_moved_project_and_an_old_run_with_an_absolute_path(trained_project, tmp_path):
    project, run = trained_project
    moved = tmp_path / "moved"
    shutil.copytree(project, moved)
    old_run = moved / "runs" / run.name
    record = json.loads((old_run / "config.json").read_text())
    del record["data"]["source_in_run"]  # as written before runs named their project relatively
    record["data"]["source"] = str(tmp_path / "gone-away")
    (old_run / "config.json").write_text(json.dumps(record))
    done = run_cli(["report", "--run", str(old_run)])
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("using the project the run lies in") == 1, done.stderr
    assert str(moved) in done.stderr


def test_a_run_copied_out_of_its_project_says_so(trained_project, tmp_path):
    project, run = trained_project
    outside = tmp_path / "elsewhere" / run.name
    shutil.copytree(run, outside)
    record = json.loads((outside / "config.json").read_text())
    record["data"]["source"] = str(tmp_path / "deleted-project")
    (outside / "config.json").write_text(json.dumps(record))
    done = run_cli(["report", "--run", str(outside)])
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "outside its project" in lines[0] and "--data" in lines[0], done.stderr
    works = run_cli(["report", "--run", str(outside), "--data", str(project), "--out", str(tmp_path / "r.html")])
    assert works.returncode == 0, works.stderr[-3000:]  # what the project is not needed for still works
