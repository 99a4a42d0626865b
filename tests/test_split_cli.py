"""`medtl import` assigns splits and `medtl split` changes them: through the command line, as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import run_cli


def class_tree(root: Path, counts: dict[str, int]) -> Path:
    rng = np.random.default_rng(5)
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for k in range(n):
            Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(root / name / f"{name}_{k}.png")
    return root


def drive_like(root: Path, cases: range) -> Path:
    """DRIVE's layout: images/NN_training.tif, 1st_manual/NN_manual1.gif, mask/NN_training_mask.gif."""
    rng = np.random.default_rng(2)
    for folder in ("images", "1st_manual", "mask"):
        (root / folder).mkdir(parents=True)
    for case in cases:
        Image.fromarray(rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)).save(root / "images" / f"{case}_training.tif")
        Image.fromarray(((rng.random((16, 20)) > 0.8) * 255).astype(np.uint8)).save(
            root / "1st_manual" / f"{case}_manual1.gif")
        fov = np.zeros((16, 20), np.uint8)
        fov[1:15, 1:19] = 255
        Image.fromarray(fov).save(root / "mask" / f"{case}_training_mask.gif")
    return root


def cli_json(args: list[str]) -> dict:
    done = run_cli(args)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_import_assigns_splits_and_medtl_split_changes_them(tmp_path: Path) -> None:
    tree = class_tree(tmp_path / "scans", {"normal": 12, "effusion": 6, "rare": 2})
    project = str(tmp_path / "project")
    imported = run_cli(["import", project, str(tree)])
    assert imported.returncode == 0, imported.stderr
    table = imported.stdout.splitlines()
    header = next(i for i, line in enumerate(table) if line.split()[:1] == ["split"])
    assert table[header].split() == ["split", "effusion", "normal", "rare", "total"]
    rows = {line.split()[0]: [int(v) for v in line.split()[1:]] for line in table[header + 1:header + 4]}
    assert set(rows) == {"train", "val", "test"} and sum(r[-1] for r in rows.values()) == 20
    assert rows["train"][2] == 1 and rows["val"][2] == 1  # a class of two: one to train, one to validate
    assert "medtl split" in imported.stdout

    shown = cli_json(["split", project, "--json"])  # nothing left to assign
    assert shown["changed"] == 0 and shown["grouping"] == "image" and shown["splits"]["unassigned"]["images"] == 0
    assert [shown["splits"][s]["classes"]["normal"] for s in ("train", "val", "test")] == [rows[s][1] for s in rows]

    changed = cli_json(["split", project, "--val", "0.3", "--test", "0.2", "--seed", "7", "--reassign", "--json"])
    assert changed["settings"] == {"val_fraction": 0.3, "test_fraction": 0.2, "by": None, "seed": 7}
    assert changed["settings_saved"] and changed["reassigned"]
    assert changed["splits"]["val"]["classes"]["normal"] == 4 and changed["splits"]["test"]["classes"]["normal"] == 2

    moved = cli_json(["split", project, "--ids", "1,2", "--to", "test", "--json"])
    assert moved["to"] == "test" and set(moved["moved"]) <= {1, 2}
    kept = cli_json(["split", project, "--reassign", "--seed", "8", "--json"])  # by hand: never redistributed
    info = cli_json(["info", project, "--json"])
    assert info["splits"]["unassigned"]["images"] == 0
    assert {s: info["splits"][s]["images"] for s in ("train", "val", "test")} == {
        s: kept["splits"][s]["images"] for s in ("train", "val", "test")}

    from medtl_gui.core.project import Project  # reading what the commands recorded

    with Project.open(project) as opened:
        assert opened.split_of(1) == "test" and opened.split_of(2) == "test"
        history = [e for e in opened.history(1) if e.action == "split"]
        assert history[0].origin == "import" and history[-1].new_value == "test"
        assert opened.split_settings().seed == 8

    for bad, message in ((["--ids", "1"], "--ids and --to go together"),
                         (["--val", "0.7", "--test", "0.5"], "sum to < 1"),
                         (["--ids", "1,x", "--to", "val"], "comma-separated integers")):
        refused = run_cli(["split", project, *bad])
        assert refused.returncode == 2 and message in refused.stderr and "Traceback" not in refused.stderr


def test_import_of_a_drive_like_folder_gives_every_case_a_split(tmp_path: Path) -> None:
    root = drive_like(tmp_path / "training", range(21, 28))
    project = str(tmp_path / "drive")
    report = cli_json(["import", project, str(root), "--json"])
    assert report["imported"] == 7 and report["masks_imported"] == 7
    splits = report["splits"]
    assert splits["grouping"] == "case" and splits["changed"] == 7
    assert splits["splits"]["unassigned"]["images"] == 0
    assert [splits["splits"][s]["masked"] for s in ("train", "val", "test")] == [5, 1, 1]
    info = cli_json(["info", project, "--json"])
    assert info["splits"]["unassigned"]["images"] == 0 and info["images_with_masks"] == 7


def test_training_on_images_without_a_split_uses_them_and_says_so(tmp_path: Path) -> None:
    tree = class_tree(tmp_path / "scans", {"normal": 5, "effusion": 5})
    project = str(tmp_path / "project")
    assert run_cli(["import", project, str(tree)]).returncode == 0
    cleared = cli_json(["split", project, "--ids", ",".join(map(str, range(1, 11))), "--to", "none", "--json"])
    assert cleared["splits"]["unassigned"]["images"] == 10
    kept_for_test = cli_json(["split", project, "--ids", "1,10", "--to", "test", "--json"])
    assert kept_for_test["splits"]["unassigned"]["images"] == 8
    trained = run_cli(["train", project, "--model", "baseline_cnn", "--pretrained", "none", "--epochs", "1",
                       "--image-size", "16", "--batch-size", "4", "--device", "cpu", "--precision", "fp32",
                       "--run-dir", str(tmp_path / "run")])
    assert trained.returncode == 0, trained.stderr[-2000:]
    output = trained.stdout + trained.stderr
    assert "8 labelled image(s) without a split train with the training images" in output
    assert "held out" in output
    used = json.loads((tmp_path / "run" / "config.json").read_text())["data"]["splits"]
    assert sorted(used["train"] + used["val"], key=int) == [str(i) for i in range(2, 10)]  # never the test images
