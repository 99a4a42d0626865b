"""``medtl report``: every section, the numbers of ``medtl evaluate --json``, self-contained, de-identified, audited."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest

from medtl_gui.cli import main
from medtl_gui.core.data.npz_source import load_npz_splits
from medtl_gui.core.data.synthetic import write_synthetic_npz
from medtl_gui.core.reporting.html_report import CLASSIFICATION_SECTIONS, SEGMENTATION_SECTIONS
from medtl_gui.core.training import TrainConfig, train


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny trained run (baseline CNN, 16 px, 2 epochs) and the .npz it was trained on."""
    folder = tmp_path_factory.mktemp("report")
    npz = write_synthetic_npz(folder / "tiny.npz", n_train=24, n_val=12, n_test=20, size=16)
    config = TrainConfig(model="baseline_cnn", image_size=16, epochs=2, batch_size=8, precision="fp32")
    result = train(config, load_npz_splits(npz), run_dir=folder / "run")
    assert result.status == "completed"
    return folder / "run", npz


def _json_of(argv: list[str], capsys: pytest.CaptureFixture) -> dict:
    assert main(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _embedded_svgs(html: str) -> list[str]:
    return [base64.b64decode(b).decode("utf-8") for b in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)]


def test_report_has_every_section_and_the_numbers_of_medtl_evaluate(tiny_run, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    run, npz = tiny_run
    evaluation = _json_of(["evaluate", str(npz), "--run", str(run), "--split", "test", "--json"], capsys)
    out = tmp_path / "report.html"
    result = _json_of(["report", "--run", str(run), "--out", str(out), "--json"], capsys)  # data: the run's own
    html = out.read_text(encoding="utf-8")
    assert result["report"] == str(out) and result["evaluation"] == evaluation
    for key, title in CLASSIFICATION_SECTIONS.items():
        assert re.search(rf'<h2 id="{key}">.*?{re.escape(title)}</h2>', html), f"section {title!r} missing"
    embedded = json.loads(re.search(r'<script type="application/json" id="medtl-evaluation">(.*?)</script>', html,
                                    re.S).group(1))
    assert embedded == evaluation | {"run": run.name}  # de-identified: no folder paths
    shown = dict(re.findall(r'data-metric="(\w+)">([^<]+)<', html))
    for key in ("accuracy", "balanced_accuracy", "auc", "recall", "specificity", "precision", "f1"):
        assert shown[key] == f"{evaluation[key]:.4f}", key
        low, high = evaluation["ci95"][key]
        assert f"{low:.4f} – {high:.4f}" in html
    for name, values in evaluation["per_class"].items():
        assert f"<td>{name}</td><td class=\"num\">{values['support']}</td>" in html
    matrix_svg = next(s for s in _embedded_svgs(html) if "<title>Confusion matrix</title>" in s)
    counts = [int(v) for v in re.findall(r'font-weight="bold">(\d+)</text>', matrix_svg)]
    assert counts == [v for row in evaluation["confusion_matrix"] for v in row]
    errors = evaluation["n"] - sum(evaluation["confusion_matrix"][i][i] for i in range(2))
    assert html.count('class="card"') == min(8, errors)
    assert 0.0 <= float(shown["ece"]) <= 1.0
    titles = {re.search(r"<title>(.*?)</title>", s).group(1) for s in _embedded_svgs(html)}
    assert {"ROC curve", "Precision-recall curve", "Reliability diagram", "Loss", "Validation metrics"} <= titles


def test_report_references_nothing_outside_itself(tiny_run, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run, npz = tiny_run
    out = tmp_path / "r.html"
    _json_of(["report", "--run", str(run), "--data", str(npz), "--out", str(out), "--json"], capsys)
    html = out.read_text(encoding="utf-8")
    assert "http:" not in html and "https:" not in html and "@import" not in html and "url(" not in html
    assert all(src.startswith("data:image/") for src in re.findall(r'src="([^"]*)"', html))
    assert all(href.startswith("#") for href in re.findall(r'href="([^"]*)"', html))
    assert str(npz.parent) not in html, "a de-identified report shows no file paths"


def test_report_pdf_is_written_with_qt(tiny_run, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run, _ = tiny_run
    out = tmp_path / "r.html"
    result = _json_of(["report", "--run", str(run), "--out", str(out), "--pdf", "--json"], capsys)
    pdf = Path(result["pdf"])
    assert pdf == tmp_path / "r.pdf" and pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 10_000


def test_report_of_a_project_checks_patient_splits_and_is_logged(demo_project_dir: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    from medtl_gui.core.project import Project

    run = tmp_path / "run"
    assert main(["train", str(demo_project_dir), "--model", "baseline_cnn", "--epochs", "1", "--image-size", "32",
                 "--batch-size", "8", "--precision", "fp32", "--run-dir", str(run), "--quiet"]) == 0
    out = tmp_path / "report.html"
    _json_of(["report", "--run", str(run), "--split", "val", "--out", str(out), "--json"], capsys)
    html = out.read_text(encoding="utf-8")
    assert "Passed</span>: none of the" in html
    with Project.open(demo_project_dir) as project:
        records = project.images()
        patients = {r.patient_id for r in records if r.patient_id}
        assert not any(p in html for p in patients), "patient ids must not appear in a de-identified report"
        logged = [e for e in project.exports() if e.what == "report"]
        assert len(logged) == 1 and logged[0].deidentified and Path(logged[0].destination) == out.resolve()
        train_image = next(r for r in records if r.split == "train" and r.patient_id)
        val_image = next(r for r in records if r.split == "val" and r.patient_id != train_image.patient_id)
        project.set_split(train_image.id, "val")  # its patient's other image stays in train: a leak
        project.set_split(val_image.id, "train")
        leaked = train_image.patient_id
    identified = tmp_path / "identified.html"
    _json_of(["report", "--run", str(run), "--split", "val", "--out", str(identified), "--identified", "--json"],
             capsys)
    text = identified.read_text(encoding="utf-8")
    assert "Failed</span>" in text and leaked in text
    with Project.open(demo_project_dir) as project:
        assert [e.deidentified for e in project.exports() if e.what == "report"] == [True, False]


def _blob_project(folder: Path) -> Path:
    """A small segmentation project: bright discs ('disc' masks) on noise, 4 training and 2 test images."""
    from PIL import Image

    from medtl_gui.core.project import Project

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:48, 0:48]
    (folder / "images").mkdir(parents=True)
    with Project.create(folder / "project") as project:
        project.add_seg_label("disc", value=1)
        for index in range(6):
            cy, cx, radius = rng.uniform(14, 34, size=2).tolist() + [rng.uniform(6, 10)]
            mask = (((yy - cy) ** 2 + (xx - cx) ** 2) < radius**2).astype(np.uint8)
            pixels = np.clip(60 + 20 * rng.standard_normal((48, 48)) + 120 * mask, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / "images" / f"blob{index}.png")
            image_id = project.add_image(folder / "images" / f"blob{index}.png")
            project.set_mask(image_id, mask)
            project.set_split(image_id, "train" if index < 4 else "test")
    return folder / "project"


def test_segmentation_report_shows_dice_iou_auc_per_case(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    project = _blob_project(tmp_path)
    run = tmp_path / "seg-run"
    assert main(["train", str(project), "--task", "segmentation", "--model", "unet_small", "--epochs", "1",
                 "--image-size", "32", "--patches-per-image", "4", "--batch-size", "8", "--precision", "fp32",
                 "--run-dir", str(run), "--quiet"]) == 0
    evaluation = _json_of(["evaluate", str(project), "--run", str(run), "--json"], capsys)
    out = tmp_path / "seg.html"
    result = _json_of(["report", "--run", str(run), "--out", str(out), "--json"], capsys)
    html = out.read_text(encoding="utf-8")
    for key, title in SEGMENTATION_SECTIONS.items():
        assert f'<h2 id="{key}">' in html and title in html
    assert result["evaluation"] == evaluation
    shown = dict(re.findall(r'data-metric="(\w+)">([^<]+)<', html))
    assert shown["dice"] == f"{evaluation['dice']:.4f}" and shown["iou"] == f"{evaluation['iou']:.4f}"
    assert len(evaluation["per_case"]) == 2
    for case in evaluation["per_case"]:
        cells = (f"<td>{case['case']}</td><td class=\"num\">{case['n_images']}</td>"
                 f"<td class=\"num\">{case['dice']:.4f}</td><td class=\"num\">{case['iou']:.4f}</td>"
                 f"<td class=\"num\">{case['auc']:.4f}</td>")
        assert cells in html
