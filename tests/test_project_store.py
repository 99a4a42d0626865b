"""Project store: create/open, images, classes, labels, proposals, notes, history."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medtl_gui.core.project import Project, ProjectError, SCHEMA_VERSION
from medtl_gui.core.project.atomic_files import sha256_file


def write_png(path: Path, seed: int, size: int = 16) -> Path:
    """A small random grey PNG (distinct content per seed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, size=(size, size), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    with Project.create(tmp_path / "proj", name="Test project") as opened:
        yield opened


def add_images(project: Project, folder: Path, n: int) -> list[int]:
    return [project.add_image(write_png(folder / f"img{i}.png", seed=i)) for i in range(n)]


# -- create / open ------------------------------------------------------------------------
def test_create_makes_the_folder_layout(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p", name="Chest") as project:
        assert project.name == "Chest"
        for sub in ("images", "masks", "runs", "cache"):
            assert (tmp_path / "p" / sub).is_dir()
    conn = sqlite3.connect(tmp_path / "p" / "project.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    conn.close()


def test_open_refuses_folders_that_are_not_projects(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="no such project folder"):
        Project.open(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(ProjectError, match="not a MedTL project") as info:
        Project.open(tmp_path / "plain")
    assert str(tmp_path / "plain") in str(info.value)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "project.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ProjectError, match="project.sqlite"):
        Project.open(tmp_path / "junk")


def test_open_refuses_a_newer_schema(tmp_path: Path) -> None:
    Project.create(tmp_path / "p").close()
    conn = sqlite3.connect(tmp_path / "p" / "project.sqlite")
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    with pytest.raises(ProjectError, match="newer MedTL"):
        Project.open(tmp_path / "p")


def test_create_refuses_non_empty_folders_and_open_or_create_reopens(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("x")
    with pytest.raises(ProjectError, match="not empty"):
        Project.create(tmp_path / "full")
    with Project.open_or_create(tmp_path / "p") as project:
        project.add_class("normal")
    with Project.open_or_create(tmp_path / "p") as project:
        assert [c.name for c in project.classes()] == ["normal"]
    with pytest.raises(ProjectError, match="already a MedTL project"):
        Project.create(tmp_path / "p")


def test_closed_project_refuses_use(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p")
    project.close()
    with pytest.raises(ProjectError, match="closed"):
        project.classes()


# -- images --------------------------------------------------------------------------------
def test_add_image_records_metadata_and_skips_duplicates(project: Project, tmp_path: Path) -> None:
    source = write_png(tmp_path / "src" / "a.png", seed=1)
    image_id = project.add_image(source)
    record = project.image(image_id)
    assert record.sha256 == sha256_file(source)
    assert record.shape == (16, 16) and record.n_frames == 1 and not record.copied
    assert project.image_path(image_id) == source.resolve()
    assert record.kind == "raster"
    # same content under another name: the same image
    twin = tmp_path / "src" / "b.png"
    twin.write_bytes(source.read_bytes())
    assert project.add_image(twin) == image_id
    assert len(project.images()) == 1
    scan = project.read_image(image_id)
    assert scan.pixels.shape == (16, 16)


def test_add_image_with_copy_stores_a_relative_path(project: Project, tmp_path: Path) -> None:
    source = write_png(tmp_path / "src" / "scan 1.png", seed=2)
    image_id = project.add_image(source, copy=True)
    record = project.image(image_id)
    assert record.copied and record.path.startswith("images/")
    copied = project.image_path(image_id)
    assert copied.parent.parent == project.folder and sha256_file(copied) == record.sha256
    source.unlink()  # the project no longer needs the source
    assert project.read_image(image_id).pixels.shape == (16, 16)


def test_images_filters(project: Project, tmp_path: Path) -> None:
    ids = add_images(project, tmp_path / "src", 5)
    project.add_class("normal")
    project.add_class("pneumonia")
    project.set_label(ids[0], "normal")
    project.set_label(ids[1], "pneumonia")
    project.set_label(ids[2], None, status="skipped")
    project.set_split(ids[0], "val")
    project.set_mask(ids[1], np.ones((16, 16), np.uint8))
    project.set_note(ids[3], "check the_left apex")
    assert [r.id for r in project.images(label="normal")] == [ids[0]]
    assert [r.id for r in project.images(unlabelled=True)] == ids[2:]
    assert [r.id for r in project.images(unlabelled=False)] == ids[:2]
    assert [r.id for r in project.images(split="val")] == [ids[0]]
    assert len(project.images(split="unassigned")) == 4
    assert [r.id for r in project.images(has_mask=True)] == [ids[1]]
    assert [r.id for r in project.images(search="THE_LEFT")] == [ids[3]]
    assert project.images(search="the%left") == []
    assert [r.id for r in project.images(search="img4")] == [ids[4]]
    record = project.image(ids[1])
    assert record.label == "pneumonia" and record.has_mask and record.label_status == "labelled"
    with pytest.raises(ProjectError, match="no image with id 999"):
        project.image(999)


# -- classes and labels -------------------------------------------------------------------
def test_classes_get_index_colour_shortcut_and_keep_labels_on_rename(project: Project, tmp_path: Path) -> None:
    (image_id,) = add_images(project, tmp_path / "src", 1)
    normal = project.add_class("normal")
    project.add_class("effusion", color="#ABCDEF", shortcut="e")
    assert (normal.index, normal.shortcut) == (0, "1") and normal.color.startswith("#")
    assert [(c.name, c.index, c.color, c.shortcut) for c in project.classes()][1] == ("effusion", 1, "#abcdef", "e")
    with pytest.raises(ProjectError, match="already exists"):
        project.add_class("normal")
    with pytest.raises(ValueError, match="rrggbb"):
        project.add_class("x", color="red")
    project.set_label(image_id, "effusion")
    project.rename_class("effusion", "pleural effusion")
    assert project.label(image_id).class_name == "pleural effusion"
    assert project.classes()[1].index == 1
    with pytest.raises(ProjectError, match="unknown class"):
        project.set_label(image_id, "effusion")


def test_seg_labels(project: Project) -> None:
    vessel = project.add_seg_label("vessel", "#ff0000", 1)
    auto = project.add_seg_label("lesion")
    assert (vessel.value, auto.value) == (1, 2)
    assert [s.name for s in project.seg_labels()] == ["vessel", "lesion"]
    with pytest.raises(ProjectError, match="already used"):
        project.add_seg_label("other", value=2)
    with pytest.raises(ValueError, match="1..255"):
        project.add_seg_label("big", value=256)


def test_label_round_trip_with_status_user_and_note(project: Project, tmp_path: Path) -> None:
    (image_id,) = add_images(project, tmp_path / "src", 1)
    project.add_class("normal")
    assert project.label(image_id) is None
    record = project.set_label(image_id, "normal", user="dr.a", note="faint", status="uncertain")
    assert (record.class_name, record.status, record.user, record.note, record.origin) == (
        "normal", "uncertain", "dr.a", "faint", "human")
    assert project.label(image_id) == record
    assert project.set_label(image_id, None) is None
    assert project.label(image_id) is None
    with pytest.raises(ValueError, match="status"):
        project.set_label(image_id, "normal", status="maybe")
    with pytest.raises(ValueError, match="origin"):
        project.set_label(image_id, "normal", origin="robot")


def test_proposals_are_kept_apart_from_the_final_label(project: Project, tmp_path: Path) -> None:
    (image_id,) = add_images(project, tmp_path / "src", 1)
    project.add_class("normal")
    project.add_class("pneumonia")
    project.set_label(image_id, "normal", user="dr.a")
    proposal = project.set_proposal(image_id, "pneumonia", {"normal": 0.2, "pneumonia": 0.8}, run_id="run-7")
    assert project.label(image_id).class_name == "normal"  # untouched
    assert proposal.probabilities == {"normal": 0.2, "pneumonia": 0.8} and proposal.run_id == "run-7"
    confirmed = project.confirm_proposal(image_id, user="dr.b")
    assert (confirmed.class_name, confirmed.origin, confirmed.user) == ("pneumonia", "model-confirmed", "dr.b")
    assert project.proposal(image_id).class_name == "pneumonia"  # the proposal is kept for the record
    second = project.add_image(write_png(tmp_path / "x.png", seed=50))
    with pytest.raises(ProjectError, match="no model proposal"):
        project.confirm_proposal(second)


def test_notes(project: Project, tmp_path: Path) -> None:
    (image_id,) = add_images(project, tmp_path / "src", 1)
    project.set_note(image_id, "motion artefact", user="dr.a")
    assert project.note(image_id) == "motion artefact"
    project.set_note(image_id, "")
    assert project.note(image_id) is None


def test_update_image_sets_patient_id(project: Project, tmp_path: Path) -> None:
    (image_id,) = add_images(project, tmp_path / "src", 1)
    project.update_image(image_id, patient_id="P1", domain="site-A", user="dr.a")
    record = project.image(image_id)
    assert (record.patient_id, record.domain) == ("P1", "site-A")
    assert project.history(image_id)[-1].new_value == {"patient_id": "P1", "domain": "site-A"}


# -- history ---------------------------------------------------------------------------------
def test_every_change_writes_history_with_user_and_origin(project: Project, tmp_path: Path) -> None:
    (image_id,) = add_images(project, tmp_path / "src", 1)
    project.add_class("normal")
    project.add_class("pneumonia")
    project.set_label(image_id, "normal", user="dr.a")
    project.set_proposal(image_id, "pneumonia", {"pneumonia": 0.9}, run_id="r1")
    project.confirm_proposal(image_id, user="dr.b")
    project.set_split(image_id, "test", user="dr.a")
    project.set_note(image_id, "n", user="dr.c")
    project.set_mask(image_id, np.zeros((16, 16), np.uint8), user="dr.a")
    entries = project.history(image_id)
    assert [e.action for e in entries] == ["import", "label", "proposal", "confirm", "split", "note", "mask"]
    label = entries[1]
    assert (label.user, label.origin, label.old_value, label.new_value) == (
        "dr.a", "human", None, {"class": "normal", "status": "labelled"})
    confirm = entries[3]
    assert (confirm.user, confirm.origin) == ("dr.b", "model-confirmed")
    assert confirm.old_value == {"class": "normal", "status": "labelled"}
    assert entries[2].origin == "model" and entries[0].origin == "import"
    assert all(e.timestamp.endswith("+00:00") for e in entries)
    assert entries[0].user  # the OS user by default
    assert [e.action for e in project.history() if e.image_id is None] == ["class-add", "class-add"]


def test_history_is_append_only(project: Project, tmp_path: Path) -> None:
    add_images(project, tmp_path / "src", 1)
    conn = sqlite3.connect(project.folder / "project.sqlite")
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE history SET user = 'mallory'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM history")
    finally:
        conn.close()
    assert len(project.history()) == 1


def test_a_failed_edit_changes_nothing(project: Project, tmp_path: Path) -> None:
    ids = add_images(project, tmp_path / "src", 2)
    project.add_class("normal")
    before = len(project.history())
    with pytest.raises(ProjectError):
        with project.transaction():
            project.set_label(ids[0], "normal")
            project.set_label(ids[1], "no-such-class")
    assert project.label(ids[0]) is None and len(project.history()) == before


# -- threads and info ---------------------------------------------------------------------------
def test_reads_on_one_thread_while_another_writes(project: Project, tmp_path: Path) -> None:
    paths = [write_png(tmp_path / "src" / f"{i}.png", seed=100 + i) for i in range(40)]
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for path in paths:
                project.add_image(path)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    seen = 0
    while thread.is_alive():
        seen = max(seen, len(project.images()))
        project.info()
    thread.join()
    assert not errors
    assert len(project.images()) == 40 and seen <= 40


def test_info_counts_per_split_and_class(project: Project, tmp_path: Path) -> None:
    ids = add_images(project, tmp_path / "src", 4)
    project.add_class("a")
    project.add_class("b")
    project.set_label(ids[0], "a")
    project.set_label(ids[1], "b")
    project.set_split(ids[0], "train")
    project.set_split(ids[1], "train")
    project.set_split(ids[2], "test")
    project.set_mask(ids[0], np.ones((16, 16), np.uint8))
    info = project.info()
    assert info["images"] == 4 and info["unlabelled"] == 2 and info["masks"] == 1
    assert info["splits"]["train"] == {"images": 2, "unlabelled": 0, "classes": {"a": 1, "b": 1}}
    assert info["splits"]["test"]["unlabelled"] == 1
    assert info["splits"]["unassigned"]["images"] == 1
    assert json.loads(json.dumps(info)) == info
