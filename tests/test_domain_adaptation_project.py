"""Domains in a project: marking round trip, history, migration of an old project, CLI, a project DA run."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medtl_gui.cli import main
from medtl_gui.core.project import Project, import_sources
from medtl_gui.core.project.domains import (
    domain_counts,
    images_from_folder,
    mark_images,
    mark_source_folder,
    stored_domain,
)
from medtl_gui.core.project.schema import SCHEMA_V1, _split_statements

from conftest import save_splits_npz


def _pngs(folder: Path, n: int, seed: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(folder / f"{seed}_{i}.png")
    return folder


def test_marking_round_trip_with_history(tmp_path: Path) -> None:
    site_a = _pngs(tmp_path / "site_a", 3, 1)
    site_b = _pngs(tmp_path / "site_b", 2, 2)
    with Project.create(tmp_path / "proj") as project:
        import_sources(project, [site_a])
        import_sources(project, [site_b])
        assert domain_counts(project) == {"source": {"images": 5, "labelled": 0, "unlabelled": 5}}
        b_ids = images_from_folder(project, site_b)
        assert len(b_ids) == 2
        assert mark_source_folder(project, site_b, "target", user="dr.lee") == 2
        assert mark_source_folder(project, site_b, "target") == 0  # already there: no change, no history
        assert sorted(r.id for r in project.images(domain="target")) == sorted(b_ids)
        assert domain_counts(project) == {"source": {"images": 3, "labelled": 0, "unlabelled": 3},
                                          "target": {"images": 2, "labelled": 0, "unlabelled": 2}}
        entries = [e for e in project.history(b_ids[0]) if e.action == "image-info"]
        assert len(entries) == 1 and entries[0].new_value == {"domain": "target"} and entries[0].user == "dr.lee"
        # back to the default domain: stored as NULL, one more history entry
        assert mark_images(project, b_ids[:1], "source") == 1
        assert project.image(b_ids[0]).domain is None
        assert [e.new_value for e in project.history(b_ids[0]) if e.action == "image-info"][-1] == {"domain": None}
        with pytest.raises(Exception, match="no image"):
            mark_images(project, [b_ids[1], 9999], "scanner-c")
        assert project.image(b_ids[1]).domain == "target"  # the failed bulk change left nothing behind
    assert stored_domain(" source ") is None and stored_domain("") is None and stored_domain("b") == "b"


def test_an_old_project_keeps_its_domains_after_migration(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    conn = sqlite3.connect(folder / "project.sqlite")
    for statement in _split_statements(SCHEMA_V1):
        conn.execute(statement)
    conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                     [("schema_version", "1"), ("name", "old"), ("created_at", "2025-01-01"),
                      ("created_by", "medtl 0.0")])
    for i, domain in enumerate((None, "target", "target", None)):
        conn.execute("INSERT INTO images (path, sha256, identity, kind, shape, added_at, domain)"
                     " VALUES (?, ?, ?, 'raster', '[8, 8]', '2025-01-01', ?)",
                     (f"/x/{i}.png", f"h{i}", f"id{i}", domain))
    conn.commit()
    conn.close()
    with Project.open(folder) as project:  # runs every migration since version 1
        assert domain_counts(project) == {"source": {"images": 2, "labelled": 0, "unlabelled": 2},
                                          "target": {"images": 2, "labelled": 0, "unlabelled": 2}}
        assert mark_images(project, [1], "target") == 1
        assert len(project.images(domain="target")) == 3


def test_cli_import_domain_info_and_marking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "proj"
    assert main(["import", str(proj), str(_pngs(tmp_path / "a", 2, 3))]) == 0
    assert main(["import", str(proj), str(_pngs(tmp_path / "b", 3, 4)), "--domain", "target"]) == 0
    capsys.readouterr()
    assert main(["info", str(proj), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["domains"]["source"]["images"] == 2 and info["domains"]["target"]["images"] == 3
    assert main(["info", str(proj)]) == 0
    assert "domains: source 2 (0 labelled), target 3 (0 labelled)" in capsys.readouterr().out
    assert main(["domain", str(proj), "scanner-c", "--folder", str(tmp_path / "a")]) == 0
    assert "2 image(s) moved to domain 'scanner-c'" in capsys.readouterr().out
    assert main(["domain", str(proj), "source", "--ids", "1"]) == 0
    capsys.readouterr()
    assert main(["domain", str(proj), "target", "--ids", "1,x"]) == 2
    assert main(["domain", str(proj), "target", "--folder", str(tmp_path / "nowhere")]) == 2


def _npz(path: Path, n: int, seed: int, bright: float = 0.0) -> Path:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    images = rng.normal(90 + bright, 20, size=(n, 16, 16))
    images[labels == 1, 5:11, 5:11] += 70
    images = np.clip(images, 0, 255).astype(np.uint8)
    return save_splits_npz(path, images, labels)


def test_project_domain_adaptation_run_uses_target_images_outside_the_source_splits(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "proj"
    assert main(["import", str(proj), str(_npz(tmp_path / "src.npz", 48, 0)),
                 "--class-names", "normal,pneumonia"]) == 0
    assert main(["import", str(proj), str(_npz(tmp_path / "tgt.npz", 24, 1, bright=60)), "--domain", "target",
                 "--class-names", "normal,pneumonia"]) == 0
    capsys.readouterr()
    run = tmp_path / "run"
    code = main(["train", str(proj), "--model", "baseline_cnn", "--epochs", "1", "--image-size", "16",
                 "--batch-size", "8", "--precision", "fp32", "--augmentation", "none", "--domain-adaptation", "adabn",
                 "--run-dir", str(run), "--quiet"])
    assert code == 0, capsys.readouterr().err
    record = json.loads((run / "config.json").read_text())
    with Project.open(proj) as project:
        target_ids = {str(r.id) for r in project.images(domain="target")}
    used = {i for ids in record["data"]["splits"].values() for i in ids}
    assert len(target_ids) == 24 and not used & target_ids
    report = json.loads((run / "report.json").read_text())
    assert report["domain_adaptation"]["n_target_images"] == 24
    capsys.readouterr()
    assert main(["evaluate", str(proj), "--run", str(run), "--domain", "target", "--json", "--no-ci"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["checkpoint"] == "target" and result["n"] == 6  # the target images of the test split
    assert main(["evaluate", str(proj), "--run", str(run), "--domain", "source", "--json", "--no-ci"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["checkpoint"] == "best" and result["n"] == 12
    assert main(["predict", str(proj), "--run", str(run), "--domain", "target", "--split", "test", "--json",
                 "--no-proposals"]) == 0
    predicted = json.loads(capsys.readouterr().out)
    assert len(predicted["predictions"]) == 18  # the test split of both domains, predicted with 'target'
    plain_run = tmp_path / "plain"
    assert main(["train", str(proj), "--model", "baseline_cnn", "--epochs", "1", "--image-size", "16",
                 "--batch-size", "8", "--precision", "fp32", "--run-dir", str(plain_run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(proj), "--run", str(plain_run), "--domain", "target", "--no-ci"]) == 2
    assert "no target-domain checkpoint" in capsys.readouterr().err
