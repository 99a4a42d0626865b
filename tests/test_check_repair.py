"""`medtl check [--repair]`: damage a project in many ways; each is detected, repaired when safe, or reported."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medtl_gui.cli import main
from medtl_gui.core.project import Project
from medtl_gui.core.project.masks import encode_mask_png

from conftest import make_small_project


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """A project with two images (one copied in), a label and a mask on the first."""
    return make_small_project(tmp_path, 2)


def check(folder: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(["check", str(folder), "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def codes(result: dict, *, repaired: bool | None = None) -> list[str]:
    return [d["code"] for d in result["details"] if repaired is None or d["repaired"] == repaired]


def test_a_healthy_project_passes(project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, result = check(project_dir, capsys=capsys)
    assert code == 0 and result["ok"] and result["details"] == []
    assert main(["check", str(project_dir)]) == 0
    assert capsys.readouterr().out.strip().endswith(": ok")


def test_missing_mask_file_is_forgotten_and_recorded_in_history(project_dir: Path, capsys) -> None:
    (project_dir / "masks" / "1.png").unlink()
    code, result = check(project_dir, capsys=capsys)
    assert code == 1 and codes(result) == ["mask-missing"] and "mask file is missing" in result["problems"][0]
    code, result = check(project_dir, "--repair", capsys=capsys)
    assert code == 0 and codes(result, repaired=True) == ["mask-missing"]
    with Project.open(project_dir) as project:
        assert project.mask(1) is None and project.mask_record(1) is None
        last = project.history(1)[-1]
        assert (last.action, last.origin, last.new_value) == ("mask", "repair", None)
        assert project.check().problems == []


def test_mask_replaced_by_another_valid_mask_is_rehashed(project_dir: Path, capsys) -> None:
    replacement = np.zeros((8, 10), np.uint8)
    replacement[2:4, 2:4] = 1
    (project_dir / "masks" / "1.png").write_bytes(encode_mask_png(replacement))
    code, result = check(project_dir, capsys=capsys)
    assert code == 1 and codes(result) == ["mask-hash-mismatch"]
    code, result = check(project_dir, "--repair", capsys=capsys)
    assert code == 0 and result["details"][0]["repaired"]
    with Project.open(project_dir) as project:
        np.testing.assert_array_equal(project.mask(1), replacement)
        assert project.history(1)[-1].new_value["sha256"] == project.mask_record(1).sha256
        assert project.check().problems == []


def test_corrupt_mask_file_is_moved_aside(project_dir: Path, capsys) -> None:
    (project_dir / "masks" / "1.png").write_bytes(b"not a png")
    code, result = check(project_dir, "--repair", capsys=capsys)
    assert code == 0 and codes(result, repaired=True) == ["mask-corrupt"]
    moved = list((project_dir / "cache" / "orphaned").rglob("1.png"))
    assert len(moved) == 1 and moved[0].read_bytes() == b"not a png"
    with Project.open(project_dir) as project:
        assert project.mask_record(1) is None and project.check().problems == []


def test_leftovers_are_reported_but_do_not_fail_and_repair_tidies_them(project_dir: Path, capsys) -> None:
    stray_copy = project_dir / "images" / "abc_scan.png"
    stray_copy.write_bytes(b"copied by an import killed before its commit")
    stray_mask = project_dir / "masks" / "7.png"
    stray_mask.write_bytes(b"deleted mask whose file stayed")
    old_temp = project_dir / "masks" / ".1.png.x.partial"
    old_temp.write_bytes(b"half written")
    os.utime(old_temp, (time.time() - 3600, time.time() - 3600))
    young_temp = project_dir / "images" / ".b.png.y.partial"
    young_temp.write_bytes(b"being written right now")
    code, result = check(project_dir, capsys=capsys)
    assert not old_temp.exists(), "opening the project deletes temporary files of writers that died"
    assert code == 0 and result["ok"] and sorted(codes(result)) == ["orphan-file", "orphan-file", "temp-file"]
    code, result = check(project_dir, "--repair", capsys=capsys)
    assert code == 0 and sorted(codes(result, repaired=True)) == ["orphan-file", "orphan-file"]
    assert not stray_copy.exists() and not stray_mask.exists()
    assert young_temp.exists(), "a temporary file of a write that may be in progress is left alone"
    assert sorted(p.name for p in (project_dir / "cache" / "orphaned").rglob("*") if p.is_file()) == [
        "7.png", "abc_scan.png"]


def test_dropped_trigger_is_restored(project_dir: Path, capsys) -> None:
    conn = sqlite3.connect(project_dir / "project.sqlite")
    conn.execute("DROP TRIGGER history_no_delete")
    conn.execute("DROP TRIGGER exports_no_update")
    conn.commit()
    conn.close()
    code, result = check(project_dir, capsys=capsys)
    assert code == 1 and codes(result) == ["trigger-missing", "trigger-missing"]
    code, _ = check(project_dir, "--repair", capsys=capsys)
    assert code == 0
    conn = sqlite3.connect(project_dir / "project.sqlite")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM history")
    conn.close()


def test_orphaned_rows_are_deleted(project_dir: Path, capsys) -> None:
    conn = sqlite3.connect(project_dir / "project.sqlite")  # foreign keys off, as an outside tool would
    conn.execute("INSERT INTO labels (image_id, class_id, status, origin, updated_at) VALUES (99, 1, 'labelled',"
                 " 'human', 't')")
    conn.commit()
    conn.close()
    code, result = check(project_dir, capsys=capsys)
    assert code == 1 and "orphan-row" in codes(result)
    code, result = check(project_dir, "--repair", capsys=capsys)
    assert code == 0, result
    conn = sqlite3.connect(project_dir / "project.sqlite")
    assert conn.execute("SELECT COUNT(*) FROM labels WHERE image_id = 99").fetchone()[0] == 0
    conn.close()


def test_label_changed_behind_the_history_is_recorded(project_dir: Path, capsys) -> None:
    conn = sqlite3.connect(project_dir / "project.sqlite")
    conn.execute("UPDATE labels SET class_id = (SELECT id FROM label_classes WHERE name = 'normal')")
    conn.commit()
    conn.close()
    code, result = check(project_dir, capsys=capsys)
    assert code == 1 and codes(result) == ["history-label"]
    assert "'lesion'" in result["problems"][0] and "'normal'" in result["problems"][0]
    code, _ = check(project_dir, "--repair", capsys=capsys)
    assert code == 0
    with Project.open(project_dir) as project:
        last = project.history(1)[-1]
        assert (last.origin, last.new_value) == ("repair", {"class": "normal", "status": "labelled"})


def test_class_renames_do_not_look_like_inconsistencies(project_dir: Path, capsys) -> None:
    with Project.open(project_dir) as project:
        project.rename_class("lesion", "nodule")
    code, result = check(project_dir, capsys=capsys)
    assert code == 0 and result["details"] == []


def test_missing_image_file_needs_a_person(project_dir: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "src" / "img1.png").unlink()
    code, result = check(project_dir, "--repair", capsys=capsys)
    assert code == 1 and codes(result) == ["image-missing"]
    assert result["details"][0]["repair"] is None and "img1.png" in result["problems"][0]
    assert main(["check", str(project_dir)]) == 1
    assert "error: image 2: file is missing" in capsys.readouterr().out


def test_stored_path_escaping_the_project_is_an_error(project_dir: Path, capsys) -> None:
    conn = sqlite3.connect(project_dir / "project.sqlite")
    conn.execute("UPDATE images SET path = '../../../etc/passwd' WHERE id = 1")
    conn.commit()
    conn.close()
    code, result = check(project_dir, capsys=capsys)
    assert code == 1 and "image-path-escapes" in codes(result)


def test_pending_mask_written_after_open_is_finished_or_dropped(project_dir: Path, capsys) -> None:
    with Project.open(project_dir) as project:
        pending = project_dir / "masks" / "1.png.0123456789abcdef.pending"
        pending.write_bytes(encode_mask_png(np.zeros((8, 10), np.uint8)))
        report = project.check()
        assert report.ok and [p.code for p in report.problems] == ["mask-pending"]
        report = project.check(repair=True)
        assert report.ok and not pending.exists() and project.check().problems == []


def test_verify_images_detects_a_changed_copy(project_dir: Path, capsys) -> None:
    copied = next((project_dir / "images").iterdir())
    Image.fromarray(np.full((8, 10), 7, np.uint8)).save(copied)
    assert check(project_dir, capsys=capsys)[0] == 0
    code, result = check(project_dir, "--verify-images", capsys=capsys)
    assert code == 1 and codes(result) == ["image-changed"]


def test_an_unreadable_database_is_a_clear_error(project_dir: Path, capsys) -> None:
    (project_dir / "project.sqlite-wal").unlink(missing_ok=True)
    (project_dir / "project.sqlite").write_bytes(b"this is not sqlite" * 100)
    assert main(["check", str(project_dir)]) == 2
    assert "project database" in capsys.readouterr().err
