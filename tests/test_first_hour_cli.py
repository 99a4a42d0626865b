"""The first hour from the shell: ``medtl import P FOLDER && medtl train P && medtl evaluate P --run R --json``.

No other step: the import assigns the splits, training runs on the product's
defaults (bf16 autocast on this CPU), evaluation reports test metrics. Once on a
class-folder tree (classification) and once on DRIVE's ``training/`` folder as
it is distributed (segmentation; skipped where ../shared/data is absent).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli


def _class_tree(root: Path, per_class: int = 14, size: int = 32) -> Path:
    """normal/ (dark disc) and lesion/ (bright blob off-centre): learnable in two epochs."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:size, :size]
    for name, centre, level in (("normal", (16, 16), 90), ("lesion", (10, 22), 230)):
        folder = root / name
        folder.mkdir(parents=True)
        for k in range(per_class):
            disc = (yy - centre[0] - rng.integers(-2, 3)) ** 2 + (xx - centre[1] - rng.integers(-2, 3)) ** 2 < 40
            pixels = rng.normal(60, 12, (size, size))
            pixels[disc] = level
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(folder / f"{name}_{k:02d}.png")
    return root


def _train_run_dir(project: Path) -> Path:
    runs = sorted(p for p in (project / "runs").iterdir() if (p / "config.json").is_file())
    assert len(runs) == 1, runs
    return runs[0]


def test_class_folder_tree_imports_trains_and_evaluates_with_no_other_step(tmp_path):
    tree = _class_tree(tmp_path / "scans")
    project = tmp_path / "project"

    imported = run_cli(["import", str(project), str(tree)])
    assert imported.returncode == 0, imported.stderr
    assert "train" in imported.stdout + imported.stderr  # the import says which splits it made

    info = run_cli(["info", str(project), "--json"])
    assert info.returncode == 0, info.stderr
    splits = json.loads(info.stdout)["splits"]
    assert splits.get("unassigned", {}).get("images", 0) == 0
    for split in ("train", "val", "test"):  # every class in every split (14 images per class)
        assert set(splits[split]["classes"]) == {"normal", "lesion"}, (split, splits[split])
        assert min(splits[split]["classes"].values()) >= 1

    trained = run_cli(["train", str(project), "--epochs", "2", "--quiet"])
    assert trained.returncode == 0, trained.stderr[-2000:]
    run = _train_run_dir(project)
    record = json.loads((run / "config.json").read_text())
    assert record["config"]["precision"] == "auto"
    from medtl_gui.core.training.device import cpu_supports_bf16

    expected = "bf16" if cpu_supports_bf16() else "fp32"  # the product's default on this CPU, no fp32 shortcut
    assert record["execution"]["precision"] == expected

    evaluated = run_cli(["evaluate", str(project), "--run", str(run), "--json", "--no-ci"])
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    report = json.loads(evaluated.stdout)
    assert report["split"] == "test"
    assert report["n"] >= 2
    assert 0.0 <= report["accuracy"] <= 1.0
    assert len(report["confusion_matrix"]) == 2


def test_drive_training_folder_imports_trains_and_evaluates_with_no_other_step(tmp_path, shared_data):
    drive = shared_data / "drive" / "training"
    project = tmp_path / "drive-project"

    imported = run_cli(["import", str(project), str(drive)])
    assert imported.returncode == 0, imported.stderr

    trained = run_cli(["train", str(project), "--epochs", "1", "--patches-per-image", "4", "--quiet"], timeout=600)
    assert trained.returncode == 0, trained.stderr[-2000:]
    run = _train_run_dir(project)
    assert json.loads((run / "config.json").read_text())["config"]["task"] == "segmentation"

    evaluated = run_cli(["evaluate", str(project), "--run", str(run), "--json"], timeout=600)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    report = json.loads(evaluated.stdout)
    assert report["split"] == "test"
    assert report["n_cases"] >= 2  # DRIVE's 20 cases: a test share of whole cases
    assert len(report["per_case"]) == report["n_cases"]
    assert 0.0 <= report["dice"] <= 1.0
