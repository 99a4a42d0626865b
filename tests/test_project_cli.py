"""`medtl import | info | demo | check` through medtl_gui.cli.main."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medtl_gui.cli import main
from medtl_gui.core.project import Project


def make_class_folders(root: Path) -> Path:
    for class_name, seeds in (("normal", (1, 2)), ("effusion", (3, 4, 5))):
        for seed in seeds:
            path = root / class_name / f"{seed}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.random.default_rng(seed).integers(0, 256, (8, 8), dtype=np.uint8)).save(path)
    (root / "effusion" / "bad.png").write_bytes(b"not a png")
    return root


def test_import_creates_the_project_and_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = make_class_folders(tmp_path / "src")
    assert main(["import", str(tmp_path / "proj"), str(source), "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["imported"] == 5 and report["duplicates"] == 0
    assert [s["path"] for s in report["skipped"]] == [str(source / "effusion" / "bad.png")]
    assert report["skipped"][0]["reason"]
    assert "[import]" in captured.err  # progress goes to stderr
    assert main(["import", str(tmp_path / "proj"), str(source)]) == 0
    summary = capsys.readouterr().out
    assert "imported 0 images" in summary and "5 duplicates" in summary and "bad.png" in summary


def test_import_of_a_missing_source_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(tmp_path / "proj"), str(tmp_path / "nothing-here")]) == 2
    err = capsys.readouterr().err
    assert "source does not exist" in err and "Traceback" not in err
    assert not (tmp_path / "proj").exists()


def test_import_npz_with_class_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", train_images=rng.integers(0, 256, (4, 6, 6), dtype=np.uint8),
             train_labels=np.array([[0], [1], [1], [0]]))
    assert main(["import", str(tmp_path / "p"), str(tmp_path / "d.npz"), "--class-names", "no,yes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["classes_created"] == ["no", "yes"]


def test_info_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["import", str(tmp_path / "proj"), str(make_class_folders(tmp_path / "src"))])
    capsys.readouterr()
    assert main(["info", str(tmp_path / "proj"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["images"] == 5 and info["splits"]["unassigned"]["images"] == 0  # the import assigned splits
    per_class = {c: sum(info["splits"][s]["classes"][c] for s in ("train", "val", "test")) for c in ("normal", "effusion")}
    assert per_class == {"normal": 2, "effusion": 3}
    assert main(["info", str(tmp_path / "proj")]) == 0
    assert "train" in capsys.readouterr().out
    assert main(["check", str(tmp_path / "proj")]) == 0
    assert "ok" in capsys.readouterr().out
    (tmp_path / "src" / "normal" / "1.png").unlink()
    assert main(["check", str(tmp_path / "proj"), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert not result["ok"] and "1.png" in result["problems"][0]


def test_info_on_a_folder_that_is_not_a_project_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(tmp_path)]) == 2
    assert "not a MedTL project" in capsys.readouterr().err


def test_demo_refuses_foreign_folders_and_creates_demos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.docx").write_text("precious")
    assert main(["demo", str(tmp_path / "mine")]) == 2
    assert "refusing" in capsys.readouterr().err
    assert (tmp_path / "mine" / "thesis.docx").read_text() == "precious"
    demo = tmp_path / "demo"
    assert main(["demo", str(demo), "--n-images", "8", "--size", "48"]) == 0
    assert "demo project created" in capsys.readouterr().out
    with Project.open(demo) as project:
        assert len(project.images(search="cxr_")) == 8
    assert main(["demo", str(demo)]) == 0
    assert "already a demo project" in capsys.readouterr().out
    assert main(["demo", str(demo), "--force", "--n-images", "4", "--size", "32"]) == 0
    with Project.open(demo) as project:
        assert len(project.images(search="cxr_")) == 4
