"""``medtl predict``: scan files and folders to CSV/JSON, and a project's images to model proposals."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from medtl_gui.cli import main
from medtl_gui.core.data.npz_source import load_npz_splits
from medtl_gui.core.data.synthetic import SYNTHETIC_CLASSES, synthetic_images, write_synthetic_npz
from medtl_gui.core.training import TrainConfig, train


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny trained run (baseline CNN, 16 px) and the .npz it was trained on."""
    folder = tmp_path_factory.mktemp("predict")
    npz = write_synthetic_npz(folder / "tiny.npz", n_train=16, n_val=8, n_test=8, size=16)
    config = TrainConfig(model="baseline_cnn", image_size=16, epochs=1, batch_size=8, precision="fp32")
    result = train(config, load_npz_splits(npz), run_dir=folder / "run")
    assert result.status == "completed"
    return folder / "run", npz


def _png(path: Path, pixels: np.ndarray) -> Path:
    from PIL import Image

    Image.fromarray(pixels).save(path)
    return path


def test_predict_files_writes_csv_and_lists_unreadable_files(tiny_run, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    run, _ = tiny_run
    images, _ = synthetic_images(2, size=20, seed=3)
    scans = tmp_path / "scans"
    scans.mkdir()
    _png(scans / "a.png", images[0])
    _png(scans / "b.png", images[1])
    (scans / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a picture")
    out = tmp_path / "predictions.csv"
    code = main(["predict", str(scans), str(tmp_path / "missing.dcm"), "--run", str(run), "--out", str(out)])
    assert code == 1  # something was skipped
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    by_name = {Path(r["path"]).name: r for r in rows}
    assert set(by_name) == {"a.png", "b.png", "broken.png", "missing.dcm"}
    for name in ("a.png", "b.png"):
        row = by_name[name]
        assert row["status"] == "ok" and row["predicted_class"] in SYNTHETIC_CLASSES
        assert float(row["p_clear"]) + float(row["p_opacity"]) == pytest.approx(1.0, abs=1e-5)
    assert by_name["broken.png"]["status"] == "skipped" and "unreadable" in by_name["broken.png"]["error"]
    assert by_name["missing.dcm"]["error"] == "no such file or folder"
    assert {"patient_id", "study_uid", "series_uid"} <= set(rows[0])
    err = capsys.readouterr().err
    assert "2 predicted, 2 skipped" in err and "broken.png" in err


def test_predict_json_and_stdout_csv(tiny_run, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run, _ = tiny_run
    images, _ = synthetic_images(1, size=16, seed=4)
    scan = _png(tmp_path / "one.png", images[0])
    assert main(["predict", str(scan), "--run", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["class_names"] == SYNTHETIC_CLASSES and len(result["predictions"]) == 1
    assert result["predictions"][0]["error"] is None
    assert main(["predict", str(scan), "--run", str(run)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1 and rows[0]["status"] == "ok"


def test_predict_project_stores_proposals_and_leaves_labels_alone(tiny_run, tmp_path: Path) -> None:
    from medtl_gui.core.project import Project, import_sources

    run, npz = tiny_run
    with Project.create(tmp_path / "project") as project:
        report = import_sources(project, [npz], class_names=SYNTHETIC_CLASSES)
        assert not report.skipped
        ids = [record.id for record in project.images()]
        labels_before = {i: project.label(i) for i in ids}
        assert all(project.proposal(i) is None for i in ids)
        broken = ids[3]
        project.image_path(broken).write_bytes(b"\x89PNG\r\n\x1a\n damaged on disk")
    code = main(["predict", str(tmp_path / "project"), "--run", str(run), "--out", str(tmp_path / "p.csv")])
    assert code == 1  # one image could not be read; the others were predicted
    with Project.open(tmp_path / "project") as project:
        assert {i: project.label(i) for i in ids} == labels_before
        assert project.proposal(broken) is None
        proposals = {i: project.proposal(i) for i in ids if i != broken}
        assert all(p is not None and p.class_name in SYNTHETIC_CLASSES and p.run_id == run.name
                   for p in proposals.values())
        assert all(sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-5) for p in proposals.values())
    rows = {int(r["image_id"]): r for r in csv.DictReader((tmp_path / "p.csv").open(encoding="utf-8"))}
    assert set(rows) == set(ids)
    assert rows[broken]["status"] == "skipped" and "unreadable" in rows[broken]["error"]
    assert all(rows[i]["predicted_class"] == p.class_name and rows[i]["status"] == "ok" for i, p in proposals.items())


def test_predict_rejects_a_folder_that_is_not_a_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["predict", str(tmp_path), "--run", str(tmp_path / "nowhere")]) == 2
    assert "not a run folder" in capsys.readouterr().err
