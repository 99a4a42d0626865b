"""Honest run headlines and model scope: core figures, and `medtl train | predict | export` as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from medtl_gui.core.evaluation.headline import run_headline

CLASSES = ["normal", "lesion"]
CLASSIFICATION = {"config": {"task": "classification", "threshold": 0.5}}


# -- headline figures --------------------------------------------------------------------------------
def test_perfect_auc_with_a_class_never_found_gives_a_warning() -> None:
    report = {"class_names": CLASSES, "monitor": "val_auc", "best_metric": 1.0, "best_epoch": 3,
              "threshold_policy": "fixed", "decision_threshold": 0.5, "val": {"confusion_matrix": [[6, 0], [4, 0]]}}
    headline = run_headline(report, [], CLASSIFICATION)
    assert headline.recalls == {"normal": 1.0, "lesion": 0.0} and headline.balanced_accuracy == 0.5
    assert headline.rule == "fixed 0.50" and headline.threshold == 0.5
    assert len(headline.warnings) == 1 and "'lesion'" in headline.warnings[0] and "4 validation" in headline.warnings[0]
    text = headline.text()
    assert "val_auc 1.000 (epoch 4)" in text and "balanced accuracy 0.500" in text and "lesion 0.00" in text
    found = run_headline(report | {"val": {"confusion_matrix": [[5, 1], [1, 3]]}}, [], CLASSIFICATION)
    assert found.warnings == [] and found.balanced_accuracy == pytest.approx((5 / 6 + 3 / 4) / 2)


def test_youden_rule_and_an_unfinished_run_read_from_its_best_epoch() -> None:
    report = {"class_names": CLASSES, "monitor": "val_auc", "best_metric": 0.9, "best_epoch": 0,
              "threshold_policy": "youden", "decision_threshold": 0.31, "val": {"confusion_matrix": [[3, 1], [0, 2]]}}
    assert run_headline(report, [], CLASSIFICATION).rule == "0.31 (Youden's J on validation)"
    epochs = [{"epoch": 0, "val_auc": 0.7, "confusion_matrix": [[4, 0], [2, 0]]},
              {"epoch": 1, "val_auc": 0.8, "confusion_matrix": [[3, 1], [1, 1]]}]
    record = CLASSIFICATION | {"data": {"class_names": CLASSES}, "resolved": {"monitor": "val_auc"}}
    interrupted = run_headline(None, epochs, record)  # no report.json: the epoch best on the monitor
    assert interrupted.best_epoch == 1 and interrupted.recalls == {"normal": 0.75, "lesion": 0.5}
    assert interrupted.warnings == [] and "epoch 2" in interrupted.source
    three = run_headline({"class_names": ["a", "b", "c"], "monitor": "val_loss", "best_metric": 0.4,
                          "val": {"confusion_matrix": [[2, 0, 0], [0, 2, 0], [0, 1, 0]]}}, [], CLASSIFICATION)
    assert three.threshold is None and three.rule.startswith("argmax") and "'c'" in three.warnings[0]
    assert run_headline({"class_names": []}, [], {"config": {"task": "segmentation"}}) is None


# -- scope ----------------------------------------------------------------------------------------------
def _xray_project(folder: Path) -> tuple[Path, dict[str, int]]:
    """Grey 2D PNG X-ray-like phantoms (labelled, train/val) and unlabelled images of other kinds."""
    import SimpleITK as sitk
    from PIL import Image

    from medtl_gui.core.imaging.dicom_writer import write_dicom_series
    from medtl_gui.core.project import Project
    from medtl_gui.core.project.phantoms import chest_xray_phantom

    rng = np.random.default_rng(0)
    source = folder / "src"
    source.mkdir(parents=True)
    with Project.create(folder / "project") as project:
        for name in CLASSES:
            project.add_class(name)
        for k in range(12):
            pixels, _ = chest_xray_phantom(32, rng, lesion=k % 2 == 1)
            Image.fromarray(pixels).save(source / f"xray{k}.png")
            image_id = project.add_image(source / f"xray{k}.png", copy=True)
            if k < 10:
                project.set_label(image_id, CLASSES[k % 2])
                project.set_split(image_id, "val" if k >= 8 else "train")
        others: dict[str, int] = {"png": image_id}
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(source / "photo.png")
        others["rgb"] = project.add_image(source / "photo.png", copy=True)
        volume = sitk.GetImageFromArray((rng.random((6, 32, 32)) * 400 - 200).astype(np.int16))
        volume.SetSpacing((0.8, 0.8, 2.5))
        sitk.WriteImage(volume, str(source / "ct.nii.gz"))
        others["ct volume"] = project.add_image(source / "ct.nii.gz", copy=True)
        write_dicom_series(source / "us", (rng.random((1, 32, 32)) * 200).astype(np.int16), modality="US")
        others["ultrasound"] = project.add_image(next((source / "us").iterdir()), copy=True)
    return folder / "project", others


@pytest.fixture(scope="module")
def xray_project(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    return _xray_project(tmp_path_factory.mktemp("scope"))


def test_scope_of_grey_png_xrays_leaves_out_a_ct_volume_an_rgb_image_and_another_modality(xray_project) -> None:
    from medtl_gui.core.inference.model_scope import ModelScope, training_scope, traits_of_scan
    from medtl_gui.core.project import Project

    folder, others = xray_project
    with Project.open(folder) as project:
        train = [r for r in project.images(split="train") if r.label]
        scope = training_scope(project, [str(r.id) for r in train],
                               [lambda i=r.id: project.read_image(i) for r in train])
        assert scope.modalities == [None] and scope.dimensionalities == ["2D image"] and scope.colours == ["grey"]
        assert scope.photometric == ["MONOCHROME2"] and scope.image_size_px == [32, 32] and scope.n_images == 8
        assert ModelScope.from_json(json.loads(json.dumps(scope.to_json()))) == scope
        reasons = {kind: scope.reasons(traits_of_scan(project.read_image(i))) for kind, i in others.items()}
    assert reasons["png"] == []
    assert any("a volume; trained on 2D images" in r for r in reasons["ct volume"])
    assert reasons["rgb"] == ["a colour image; trained on grey images"]
    assert len(reasons["ultrasound"]) == 1 and reasons["ultrasound"][0].startswith("modality US")


def test_train_records_scope_and_headline_predict_skips_out_of_scope_unless_forced(xray_project, tmp_path) -> None:
    from medtl_gui.core.project import Project

    folder, others = xray_project
    project_dir = tmp_path / "project"
    shutil.copytree(folder, project_dir)
    run = tmp_path / "run"
    trained = run_cli(["train", str(project_dir), "--model", "baseline_cnn", "--pretrained", "none",
                       "--image-size", "16", "--epochs", "1", "--batch-size", "4", "--run-dir", str(run)])
    assert trained.returncode == 0, trained.stderr
    assert "balanced accuracy" in trained.stderr and "threshold fixed 0.50" in trained.stderr
    scope = json.loads((run / "scope.json").read_text())
    assert scope["modalities"] == [None] and scope["dimensionalities"] == ["2D image"] and scope["n_images"] >= 6

    skipped = run_cli(["predict", str(project_dir), "--run", str(run), "--unlabelled", "--json"])
    assert skipped.returncode == 1, skipped.stderr  # something was skipped
    rows = {r["image_id"]: r for r in json.loads(skipped.stdout)["predictions"]}
    assert rows[others["png"]]["error"] is None and rows[others["png"]]["outside_scope"] == []
    for kind in ("rgb", "ct volume", "ultrasound"):
        assert rows[others[kind]]["error"].startswith("outside the model's scope: "), kind
        assert rows[others[kind]]["outside_scope"] and rows[others[kind]]["predicted"] is None
    assert "3 image(s) outside the model's scope were skipped; --force-scope" in skipped.stderr
    with Project.open(project_dir) as project:
        assert project.proposal(others["png"]) is not None and project.proposal(others["ct volume"]) is None

    forced = run_cli(["predict", str(project_dir), "--run", str(run), "--unlabelled", "--force-scope",
                      "--out", str(tmp_path / "forced.csv")])
    assert forced.returncode == 0, forced.stderr
    with (tmp_path / "forced.csv").open(encoding="utf-8") as handle:
        csv_rows = {int(r["image_id"]): r for r in csv.DictReader(handle)}
    assert all(r["status"] == "ok" for r in csv_rows.values())
    assert csv_rows[others["ct volume"]]["error"].startswith("outside the model's scope (included on request)")
    with Project.open(project_dir) as project:
        assert project.proposal(others["ct volume"]) is not None

    (run / "scope.json").unlink()  # a run from before scopes were recorded: no check, one note
    old = run_cli(["predict", str(project_dir), "--run", str(run), "--unlabelled"])
    assert old.returncode == 0 and old.stderr.count("recorded no scope") == 1
    old_rows = list(csv.DictReader(io.StringIO(old.stdout)))
    assert len(old_rows) == 5 and all(r["status"] == "ok" for r in old_rows)  # 2 X-rays and the 3 others

    exported = run_cli(["export", "--run", str(run), "--out", str(tmp_path / "export")])
    assert exported.returncode == 0, exported.stderr
    card = (tmp_path / "export" / "model_card.md").read_text()
    assert "## Headline" in card and "balanced accuracy" in card and "recorded no scope" in card
