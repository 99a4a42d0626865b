"""Segmentation training leaves out masked images removed by another process (or whose file was deleted).

As classification does (tests/test_concurrent_and_moved.py): the run warns once, naming the images, trains on
the others, and its config.json lists only the images it used; losing every training image fails with a
reason naming the project.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli

TRAIN = ["--task", "segmentation", "--model", "unet_small", "--epochs", "1", "--patches-per-image", "2",
         "--image-size", "32", "--base-channels", "4", "--batch-size", "2", "--device", "cpu",
         "--precision", "fp32"]


def _drive_project(tmp_path: Path) -> tuple[Path, list[int]]:
    """A project owning copies of a tiny DRIVE-like data set (two 20x24 images with vessel and FOV masks)."""
    from test_import_sources import make_drive_like

    project = tmp_path / "project"
    done = run_cli(["import", str(project), str(make_drive_like(tmp_path / "drive")), "--copy", "--json"])
    assert done.returncode == 0, done.stderr[-2000:]
    from medtl_gui.core.project import Project

    with Project.open(project) as opened:
        ids = sorted(r.id for r in opened.images(has_mask=True))
    assert len(ids) == 2
    return project, ids


def _in_split(project: Path, split: str) -> int:
    from medtl_gui.core.project import Project

    with Project.open(project) as opened:
        return min(r.id for r in opened.images(split=split, has_mask=True))


def _delete_copy(project: Path, image_id: int) -> None:
    from medtl_gui.core.project import Project

    with Project.open(project) as opened:
        opened.image_path(image_id).unlink()


@pytest.mark.parametrize("split", ["train", "val"])
def test_a_segmentation_run_leaves_out_a_masked_image_whose_file_is_gone(tmp_path, split):
    project, ids = _drive_project(tmp_path)  # the import puts one image in train and one in val
    if split == "train":
        moved = run_cli(["split", str(project), "--ids", ",".join(map(str, ids)), "--to", "train"])
        assert moved.returncode == 0, moved.stderr[-2000:]
    lost = _in_split(project, split)
    kept = next(image_id for image_id in ids if image_id != lost)
    _delete_copy(project, lost)
    run = tmp_path / "run"
    done = run_cli(["train", str(project), *TRAIN, "--run-dir", str(run)])
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "Traceback" not in done.stderr
    warnings = [line for line in done.stderr.splitlines() if "could not be read and were left out" in line]
    assert len(warnings) == 1, done.stderr[-3000:]
    assert warnings[0].startswith("warning: 1 image(s)") and warnings[0].endswith(f"ids {lost}")
    data = json.loads((run / "config.json").read_text())["data"]
    assert data["splits"] == {"train": [str(kept)]}, data["splits"]
    assert data["counts"] == {"train": 1}
    assert json.loads((run / "report.json").read_text())["status"] == "completed"


def test_a_segmentation_run_without_any_masked_image_left_names_the_project(tmp_path):
    project, ids = _drive_project(tmp_path)
    for image_id in ids:
        _delete_copy(project, image_id)
    done = run_cli(["train", str(project), *TRAIN, "--run-dir", str(tmp_path / "run")])
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert str(project) in done.stderr and "every image with a mask to train on is gone" in done.stderr, done.stderr


def test_loading_leaves_out_an_image_removed_after_the_run_listed_it(tmp_path):
    """What happens when another process removes a masked image while the run reads its images."""
    from medtl_gui.core.data.segmentation import segmentation_from_project
    from medtl_gui.core.data.segmentation_cases import SegmentationInput, prepare_available_cases
    from medtl_gui.core.project import Project

    project, (lost, kept) = _drive_project(tmp_path)
    spec = SegmentationInput(3, "per_image", (0.0,) * 3, (1.0,) * 3)
    with Project.open(project) as opened:
        listed = segmentation_from_project(opened, ("train", "val"))
        assert listed.ids == [str(lost), str(kept)]
        done = run_cli(["remove", str(project), "--ids", str(lost)])  # deletes the row and its masks too
        assert done.returncode == 0, done.stderr[-2000:]
        cases, gone = prepare_available_cases(listed, spec)
    assert [case.id for case in cases] == [str(kept)] and gone == [str(lost)]
