"""Imports and project writes at the edges: hostile file names, a full disk, bad class names, spreadsheet
formulas in exports, a closed pipe, nested class folders (issue 17, findings 3, 6, 8 and 11)."""

from __future__ import annotations

import csv
import errno
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO, run_cli

ODD_NAMES = (b"M\xfcller.png", "a\u202egnp.png".encode(), b"new\nline.png")


def _png(path: Path | bytes, value: int, size: tuple[int, int] = (8, 10)) -> None:
    pixels = np.full(size, value, np.uint8)
    pixels[0, 0] = (value * 7 + 3) % 256  # every file has its own content (no duplicates)
    Image.fromarray(pixels).save(os.fsdecode(path), format="PNG")


def _odd_folder(tmp_path: Path) -> Path:
    source = tmp_path / "odd"
    source.mkdir()
    try:
        for k, name in enumerate(ODD_NAMES):
            _png(os.path.join(os.fsencode(source), name), 20 + 30 * k)
    except (OSError, UnicodeError) as exc:  # e.g. a file system that only takes UTF-8 names
        pytest.skip(f"this file system refuses the odd names: {exc}")
    _png(source / "plain.png", 200)
    return source


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def _referenced_copies(project_dir: Path) -> set[Path]:
    from medtl_gui.core.project import Project

    with Project.open(project_dir) as project:
        return {project.image_path(r.id).resolve() for r in project.images() if r.copied}


def _assert_no_orphans(project_dir: Path) -> None:
    """Every file under images/ belongs to an image of the project; no temporary files anywhere."""
    referenced = _referenced_copies(project_dir)
    for path in _files_under(project_dir / "images"):
        assert path.resolve() in referenced or any(path.resolve().is_relative_to(r) for r in referenced), path
    assert not [p for p in project_dir.rglob("*.partial")]


# -- names and encodings ------------------------------------------------------------------
@pytest.mark.parametrize("copy", [False, True], ids=["in-place", "copy"])
def test_odd_file_names_are_imported_and_round_trip(tmp_path, copy):
    from medtl_gui.core.project import Project

    source = _odd_folder(tmp_path)
    project_dir = tmp_path / "project"
    result = run_cli(["import", str(project_dir), str(source), "--json"] + (["--copy"] if copy else []))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["imported"] + len(report["skipped"]) == 4, report
    assert all(entry["reason"] for entry in report["skipped"])
    with Project.open(project_dir) as project:
        records = project.images()
        sources = {os.fsencode(os.path.basename(r.source)) for r in records}
        assert b"plain.png" in sources
        for name in ODD_NAMES:  # this file system takes them all, so each is imported, not skipped
            assert name in sources, (name, sources)
        for record in records:  # the stored path opens the very file (round trip through SQLite text)
            assert project.image_path(record.id).is_file()
            assert project.read_image(record.id).pixels.shape == (8, 10)
    check = run_cli(["check", str(project_dir)])
    assert check.returncode == 0, check.stdout + check.stderr


def test_odd_names_are_escaped_when_shown(tmp_path):
    from medtl_gui.core.project.file_names import display_name, from_stored, to_stored

    for name in ODD_NAMES + (b"fs-bytes:plain.png", "Müller.png".encode()):
        text = os.fsdecode(name)
        stored = to_stored(text)
        stored.encode("utf-8")  # SQLite text takes it
        assert from_stored(stored) == text
    assert to_stored("/data/Müller.png") == "/data/Müller.png"  # valid names are stored as they are
    shown = display_name(os.fsdecode(b"M\xfcller a\xe2\x80\xaegnp new\nline"))
    assert shown == "M\\xfcller a\\u202egnp new\\nline"
    assert display_name("Müller 測試.png") == "Müller 測試.png"

    source = _odd_folder(tmp_path)
    result = run_cli(["import", str(tmp_path / "project"), str(source), "--copy"])
    assert result.returncode == 0, result.stderr
    for odd in ("\u202e", "\udcfc"):
        assert odd not in result.stdout + result.stderr
    # the browser shows the escaped name, the search still finds the stored one
    from medtl_gui.core.project import Project
    from medtl_gui.gui.browser_model import browser_row

    result = run_cli(["import", str(tmp_path / "inplace"), str(source)])
    assert result.returncode == 0, result.stderr
    with Project.open(tmp_path / "inplace") as project:
        names = {browser_row(r, {}).name for r in project.images()}
    assert {"M\\xfcller.png", "a\\u202egnp.png", "new\\nline.png", "plain.png"} <= names
    for extra in ([], ["--identified"]):  # exports take the odd names too (the path's own bytes, or a pseudonym)
        exported = run_cli(["export-labels", str(tmp_path / "inplace"), str(tmp_path / "labels.csv"), *extra])
        assert exported.returncode == 0, exported.stderr
    assert os.fsencode(source) + b"/M\xfcller.png" in (tmp_path / "labels.csv").read_bytes()


# -- full disk (simulated, always runs) ----------------------------------------------------
def _source(tmp_path: Path, n: int, size: tuple[int, int] = (8, 10), name: str = "src") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    rng = np.random.default_rng(n)
    for k in range(n):
        Image.fromarray(rng.integers(0, 255, size, dtype=np.uint8)).save(folder / f"img{k}.png")
    return folder


def test_copy_failing_for_a_full_disk_removes_its_copies(tmp_path, monkeypatch):
    from medtl_gui.core.project import Project, import_sources, ingest
    from medtl_gui.core.project.disk_space import DiskFullError

    source = _source(tmp_path, 5)
    real_copy, calls = ingest.atomic_copy_file, []

    def copy_until_full(src, dst):
        calls.append(dst)
        if len(calls) == 4:
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        real_copy(src, dst)

    monkeypatch.setattr(ingest, "atomic_copy_file", copy_until_full)
    project = Project.create(tmp_path / "project")
    with project, pytest.raises(DiskFullError) as caught:
        import_sources(project, [source], copy=True, batch_size=2)
    message = str(caught.value)
    assert "\n" not in message and str(tmp_path / "project") in message and "disk is full" in message
    assert "2 image(s) were imported" in message  # the first batch was committed before the disk filled up
    with Project.open(tmp_path / "project") as project:
        assert len(project.images()) == 2
    _assert_no_orphans(tmp_path / "project")
    assert len(_files_under(tmp_path / "project" / "images")) == 2


def test_database_full_during_import_removes_the_copies_of_the_batch(tmp_path, monkeypatch):
    from medtl_gui.core.project import Project, import_sources, importing
    from medtl_gui.core.project.disk_space import DiskFullError

    source = _source(tmp_path, 3)

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(importing, "insert_image", full)
    project = Project.create(tmp_path / "project")
    with project, pytest.raises(DiskFullError, match="disk is full"):
        import_sources(project, [source], copy=True)
    assert _files_under(tmp_path / "project" / "images") == []
    with Project.open(tmp_path / "project") as project:
        assert project.images() == []


def test_project_created_on_a_full_disk_leaves_nothing(tmp_path, monkeypatch):
    from medtl_gui.core.project import Project, project as project_module
    from medtl_gui.core.project.disk_space import DiskFullError

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(project_module, "create_schema", full)
    with pytest.raises(DiskFullError, match="not created"):
        Project.create(tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_marker_never_left_empty_when_its_write_fails(tmp_path, monkeypatch):
    from medtl_gui.core.project import atomic_files
    from medtl_gui.core.project.project import PROJECT_MARKER, write_project_marker

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic_files.os, "fsync", no_space)
    write_project_marker(tmp_path)  # best effort: a failure is quiet, but leaves no 0-byte file
    assert not (tmp_path / PROJECT_MARKER).exists()
    assert list(tmp_path.iterdir()) == []


def test_mask_write_on_a_full_disk_is_one_clear_error(tmp_path, monkeypatch):
    from medtl_gui.core.project import Project, masks
    from medtl_gui.core.project.disk_space import DiskFullError

    source = _source(tmp_path, 1)
    with Project.create(tmp_path / "project") as project:
        image_id = project.add_image(source / "img0.png")

        def no_space(path, data):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))

        monkeypatch.setattr(masks, "atomic_write_bytes", no_space)
        with pytest.raises(DiskFullError, match=f"label mask of image {image_id} was not saved"):
            project.set_mask(image_id, np.ones((8, 10), np.uint8))
        assert project.mask_records() == []


# -- full disk (a real small tmpfs; needs root) -------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs, or skip when this machine does not let the tests mount one (CI containers)."""
    mount_point = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount_point.mkdir()
    if sys.platform != "linux" or not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root on Linux")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def _fill(folder: Path) -> None:
    """Write a filler file until the disk is full."""
    with open(folder / "filler.bin", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def test_import_on_a_full_tmpfs_ends_with_one_line_and_no_orphans(tmp_path, small_disk):
    source = _source(tmp_path, 16, size=(300, 300))  # ~1.4 MiB of incompressible PNGs on a 1 MiB disk
    project_dir = small_disk / "project"
    result = run_cli(["import", str(project_dir), str(source), "--copy"])
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("[import]")]
    assert len(errors) == 1 and "disk is full" in errors[0] and str(project_dir) in errors[0], result.stderr
    _assert_no_orphans(project_dir)


def test_project_created_on_a_full_tmpfs_leaves_no_marker(tmp_path, small_disk):
    _fill(small_disk)
    source = _source(tmp_path, 1)
    result = run_cli(["import", str(small_disk / "project"), str(source)])
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "disk is full" in result.stderr
    assert not (small_disk / "project").exists()


def test_remove_frees_space_on_a_full_tmpfs(tmp_path, small_disk):
    from medtl_gui.core.project import Project

    source = _source(tmp_path, 5, size=(300, 300))
    project_dir = small_disk / "project"
    result = run_cli(["import", str(project_dir), str(source), "--copy"])
    assert result.returncode == 0, result.stderr
    _fill(small_disk)
    label = run_cli(["split", str(project_dir), "--ids", "1", "--to", "test"])
    assert label.returncode != 0 and "Traceback" not in label.stderr  # a write on the full disk: one line
    assert "disk is full" in label.stderr, label.stderr
    result = run_cli(["remove", str(project_dir), "--ids", "1,2"])
    assert result.returncode == 0, result.stdout + result.stderr
    with Project.open(project_dir) as project:
        assert sorted(r.id for r in project.images()) == [3, 4, 5]
    _assert_no_orphans(project_dir)
    assert os.statvfs(small_disk).f_bavail > 0


# -- class names -------------------------------------------------------------------------
@pytest.mark.parametrize("names, reason", [("a,a", "duplicate class name 'a'"), (",,", "empty class name"),
                                           ("a, ,b", "empty class name")])
def test_bad_class_names_are_refused_before_anything_is_written(tmp_path, names, reason):
    from tests.conftest import save_splits_npz

    images = np.random.default_rng(0).integers(0, 255, (8, 6, 6), dtype=np.uint8)
    npz = save_splits_npz(tmp_path / "data.npz", images, np.array([0, 1] * 4))
    result = run_cli(["import", str(tmp_path / "project"), str(npz), f"--class-names={names}"])
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and reason in result.stderr, result.stderr
    assert not (tmp_path / "project").exists()


# -- CSV in and out -----------------------------------------------------------------------
def test_label_export_escapes_spreadsheet_formulas(tmp_path):
    from medtl_gui.core.project import Project

    source = _source(tmp_path, 4)
    formula = '=HYPERLINK("http://example.invalid","click")'
    with Project.create(tmp_path / "project") as project:
        ids = [project.add_image(source / f"img{k}.png") for k in range(4)]
        for image_id, label in zip(ids, [formula, "+cmd|' /C calc'!A0", "@SUM(A1)", "-3"]):
            project.add_class(label)
            project.set_label(image_id, label)
    out = tmp_path / "labels.csv"
    result = run_cli(["export-labels", str(tmp_path / "project"), str(out), "--identified"])
    assert result.returncode == 0, result.stderr
    with open(out, newline="", encoding="utf-8") as handle:
        labels = [row["label"] for row in csv.DictReader(handle)]
    assert labels == ["'" + formula, "'+cmd|' /C calc'!A0", "'@SUM(A1)", "-3"]  # a plain number stays a number


def test_csv_label_with_a_line_break_is_refused_not_changed(tmp_path):
    from medtl_gui.core.project import Project

    source = _source(tmp_path, 3)
    table = tmp_path / "src" / "labels.csv"
    table.write_text('path,label\nimg0.png,"two\nlines"\nimg1.png,normal\nimg2.png,"sep\u2028arator"\n',
                     encoding="utf-8")
    result = run_cli(["import", str(tmp_path / "project"), str(table), "--json"])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    reasons = [entry["reason"] for entry in report["skipped"]]
    assert len(reasons) == 2 and all("line break" in r for r in reasons), reasons
    with Project.open(tmp_path / "project") as project:
        assert [r.label for r in project.images()] == ["normal"]
        assert project.info()["classes"] == ["normal"]


# -- the rest --------------------------------------------------------------------------------
def test_closed_pipe_exits_quietly(tmp_path):
    source = _source(tmp_path, 2)
    assert run_cli(["import", str(tmp_path / "project"), str(source)]).returncode == 0
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen([sys.executable, "-m", "medtl_gui.cli", "info", str(tmp_path / "project")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    child.stdout.close()  # like `medtl info P | head -0`: the reader is gone before anything is written
    stderr = child.stderr.read().decode()
    code = child.wait(timeout=120)
    child.stderr.close()
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert code in (0, 141)


def test_class_folder_holding_only_a_sub_folder_is_listed(tmp_path):
    source = tmp_path / "classes"
    (source / "normal").mkdir(parents=True)
    (source / "lesion" / "deeper").mkdir(parents=True)
    _png(source / "normal" / "a.png", 10)
    _png(source / "normal" / "b.png", 20)
    _png(source / "lesion" / "deeper" / "c.png", 30)
    result = run_cli(["import", str(tmp_path / "project"), str(source), "--json"])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sources"][0]["layout"] == "class-folders"
    skipped = {Path(entry["path"]).name: entry["reason"] for entry in report["skipped"]}
    assert "lesion" in skipped or "deeper" in skipped, report["skipped"]
    assert "sub-folder" in " ".join(skipped.values())
