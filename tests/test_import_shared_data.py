"""Importing the real reference data in ../shared/data (skipped when the folder is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medtl_gui.core.project import Project, import_sources
from medtl_gui.core.project.atomic_files import sha256_file

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def require(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"reference data {path} is absent (see ../shared/data/README.md)")
    return path


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    with Project.create(tmp_path / "proj") as opened:
        yield opened


def test_drive_training_imports_20_cases_with_vessel_and_fov_masks(project: Project) -> None:
    drive = require("drive/training")
    before = {p: sha256_file(p) for p in drive.rglob("*") if p.is_file()}
    report = import_sources(project, [drive])
    assert report.sources[0][1] == "image-mask-pairs"
    assert report.imported == 20 and report.masks_imported == 20 and report.skipped == []
    assert [s.name for s in project.seg_labels()] == ["vessel"]
    records = project.images()
    assert all(r.shape == (584, 565, 3) and r.has_mask for r in records)
    first = records[0]
    case = Path(first.path).name.split("_")[0]
    manual = np.array(Image.open(drive / "1st_manual" / f"{case}_manual1.gif").convert("L"))
    np.testing.assert_array_equal(project.mask(first.id), (manual == 255).astype(np.uint8))
    assert project.fov_mask(first.id).sum() > 0.5 * 584 * 565
    assert project.check_integrity() == []
    assert {p: sha256_file(p) for p in before} == before, "DRIVE files must not change"


def test_pneumoniamnist_keeps_official_splits_and_class_counts(project: Project) -> None:
    npz = require("medmnist/pneumoniamnist.npz")
    report = import_sources(project, [npz])
    assert report.imported == 3882 + 524 + 624 and report.duplicates == 0
    assert report.classes_created == ["normal", "pneumonia"]
    splits = project.info()["splits"]
    assert splits["train"]["classes"] == {"normal": 388, "pneumonia": 3494}
    assert splits["val"]["classes"] == {"normal": 135, "pneumonia": 389}
    assert splits["test"]["classes"] == {"normal": 234, "pneumonia": 390}
    assert any("pixel-identical" in w for w in report.warnings)
    assert all(r.split_origin == "import" for r in project.images(split="test"))


def test_mr_series_is_one_volume(project: Project) -> None:
    series = require("dicom/mr_series")
    report = import_sources(project, [series])
    assert report.imported == 1
    (record,) = project.images()
    assert record.kind == "dicom-series" and record.n_frames == 128 and record.modality == "MR"


def test_codec_folder_imports_readable_files_and_explains_the_rest(project: Project) -> None:
    codecs = require("dicom/codecs")
    report = import_sources(project, [codecs])
    assert report.imported >= 10
    assert all(reason for _, reason in report.skipped)
    n_files = sum(1 for p in codecs.iterdir() if p.is_file())
    assert report.imported + report.duplicates + len(report.skipped) <= n_files  # a series counts once
    assert any(path.endswith("_too_short.dcm") for path, _ in report.skipped)
