"""Splits: stratified by class, grouped by patient/case/image, deterministic, explicit splits kept, tiny data."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import save_splits_npz
from medtl_gui.core.project import Project, ProjectError, import_sources
from medtl_gui.core.project.split_planning import SplitCandidate, SplitSettings, default_grouping, plan_splits


def write_png(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, size=(8, 8), dtype=np.uint8)).save(path)
    return path


def candidates(n_per_class: dict[str, int], images_per_patient: int = 1) -> list[SplitCandidate]:
    result = []
    image_id = 0
    for class_name, n in n_per_class.items():
        for i in range(n):
            patient = f"{class_name}-{i // images_per_patient}" if images_per_patient > 1 else None
            result.append(SplitCandidate(image_id=image_id, class_name=class_name, patient_id=patient,
                                         split=None, locked=False))
            image_id += 1
    return result


def test_plan_is_stratified_by_class() -> None:
    images = candidates({"normal": 100, "pneumonia": 300})
    plan = plan_splits(images, val_fraction=0.15, test_fraction=0.15, seed=0)
    per = Counter((images[i].class_name, split) for i, split in plan.items())
    assert per[("normal", "val")] == 15 and per[("normal", "test")] == 15 and per[("normal", "train")] == 70
    assert per[("pneumonia", "val")] == 45 and per[("pneumonia", "test")] == 45


def test_plan_keeps_patients_together() -> None:
    images = candidates({"normal": 60, "lesion": 60}, images_per_patient=3)
    plan = plan_splits(images, val_fraction=0.2, test_fraction=0.2, seed=3)
    splits_of_patient = defaultdict(set)
    for image in images:
        splits_of_patient[image.patient_id].add(plan[image.image_id])
    assert all(len(s) == 1 for s in splits_of_patient.values())
    counts = Counter(plan.values())
    assert counts["val"] == 24 and counts["test"] == 24


def test_plan_is_deterministic_by_seed() -> None:
    images = candidates({"a": 50, "b": 50})
    first = plan_splits(images, val_fraction=0.15, test_fraction=0.15, seed=7)
    assert plan_splits(images, val_fraction=0.15, test_fraction=0.15, seed=7) == first
    assert plan_splits(images, val_fraction=0.15, test_fraction=0.15, seed=8) != first


def test_plan_rejects_bad_fractions() -> None:
    with pytest.raises(ValueError, match="sum to < 1"):
        plan_splits([], val_fraction=0.6, test_fraction=0.5, seed=0)


def test_patient_follows_its_locked_split() -> None:
    images = [
        SplitCandidate(image_id=0, class_name="a", patient_id="P", split="test", locked=True),
        SplitCandidate(image_id=1, class_name="a", patient_id="P", split=None, locked=False),
    ]
    assert plan_splits(images, val_fraction=0.1, test_fraction=0.1, seed=0) == {1: "test"}


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    with Project.create(tmp_path / "proj") as opened:
        opened.add_class("normal")
        opened.add_class("lesion")
        for i in range(40):
            image_id = opened.add_image(write_png(tmp_path / "src" / f"{i}.png", seed=i))
            opened.update_image(image_id, patient_id=f"P{i // 2}")
            opened.set_label(image_id, "lesion" if i % 4 < 2 else "normal")
        yield opened


def test_assign_splits_patient_level_and_history(project: Project) -> None:
    changed = project.assign_splits(val_fraction=0.2, test_fraction=0.2, seed=1, user="dr.a")
    assert len(changed) == 40
    by_patient = defaultdict(set)
    for record in project.images():
        by_patient[record.patient_id].add(record.split)
        assert record.split_origin == "auto"
    assert all(len(s) == 1 for s in by_patient.values())
    info = project.info()["splits"]
    assert info["val"]["classes"] == {"normal": 4, "lesion": 4}
    assert info["test"]["classes"] == {"normal": 4, "lesion": 4}
    entry = [e for e in project.history(1) if e.action == "split"][0]
    assert entry.user == "dr.a" and entry.new_value == project.split_of(1)


def test_assign_splits_keeps_explicit_and_existing(project: Project) -> None:
    project.set_split(1, "test")
    project.set_split(2, "test")  # same patient P0 as image 1
    first = project.assign_splits(seed=2)
    assert 1 not in first and project.split_of(1) == "test"
    before = {r.id: r.split for r in project.images()}
    assert project.assign_splits(seed=99) == {}  # keep_existing: nothing unassigned left
    reshuffled = project.assign_splits(seed=99, keep_existing=False)
    assert project.split_of(1) == "test" and project.split_of(2) == "test"
    after = {r.id: r.split for r in project.images()}
    assert set(reshuffled) == {i for i in after if after[i] != before[i]}
    project.set_split(3, None)
    assert project.split_of(3) is None
    with pytest.raises(ValueError, match="split"):
        project.set_split(3, "holdout")


# -- tiny data, grouping ----------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tiny_classes_get_a_training_and_a_validation_image(seed: int) -> None:
    images = candidates({"one": 1, "two": 2, "three": 3, "four": 4, "five": 5})
    plan = plan_splits(images, val_fraction=0.15, test_fraction=0.15, seed=seed)
    per = Counter((images[i].class_name, split) for i, split in plan.items())
    assert per[("one", "train")] == 1
    assert per[("two", "train")] == 1 and per[("two", "val")] == 1
    assert (per[("three", "train")], per[("three", "val")], per[("three", "test")]) == (2, 1, 0)
    assert (per[("four", "train")], per[("four", "val")], per[("four", "test")]) == (3, 1, 0)
    assert (per[("five", "train")], per[("five", "val")], per[("five", "test")]) == (3, 1, 1)


def grouped_candidates() -> list[SplitCandidate]:
    """30 images: 10 studies of 3 images; studies 0-4 also carry a PatientID shared by two studies."""
    result = []
    for i in range(30):
        study = i // 3
        patient = f"P{study // 2}" if study < 4 else None
        result.append(SplitCandidate(image_id=i, class_name="a" if study % 2 else "b", patient_id=patient,
                                     case_id=f"study{study}", split=None, locked=False))
    return result


def splits_per(key, images: list[SplitCandidate], plan: dict[int, str]) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = defaultdict(set)
    for image in images:
        if key(image):
            groups[key(image)].add(plan[image.image_id])
    return groups


def test_grouping_by_case_patient_and_image() -> None:
    images = grouped_candidates()
    by_case = plan_splits(images, val_fraction=0.3, test_fraction=0.3, seed=0, by="case")
    assert all(len(s) == 1 for s in splits_per(lambda c: c.case_id, images, by_case).values())
    assert all(len(s) == 1 for s in splits_per(lambda c: c.patient_id, images, by_case).values())
    by_patient = plan_splits(images, val_fraction=0.3, test_fraction=0.3, seed=0, by="patient")
    assert all(len(s) == 1 for s in splits_per(lambda c: c.patient_id, images, by_patient).values())
    # studies without a PatientID are not kept together by patient grouping, nor anything by image grouping
    assert any(len(s) > 1 for s in splits_per(lambda c: c.case_id, images, by_patient).values())
    by_image = plan_splits(images, val_fraction=0.3, test_fraction=0.3, seed=0, by="image")
    assert any(len(s) > 1 for s in splits_per(lambda c: c.patient_id, images, by_image).values())
    with pytest.raises(ValueError, match="grouping"):
        plan_splits(images, val_fraction=0.1, test_fraction=0.1, seed=0, by="site")


def test_default_grouping() -> None:
    plain = candidates({"a": 3})
    assert default_grouping(plain, has_masks=False) == "image"
    assert default_grouping(plain, has_masks=True) == "case"
    assert default_grouping(grouped_candidates(), has_masks=True) == "patient"


# -- the store: preview, apply, reassign, settings --------------------------------------------
def test_preview_writes_nothing_and_matches_apply(project: Project) -> None:
    settings = SplitSettings(val_fraction=0.25, test_fraction=0.25, seed=4)
    history_before = len(project.history())
    preview = project.preview_splits(settings)
    assert all(record.split is None for record in project.images()) and len(project.history()) == history_before
    assert preview.grouping == "patient" and preview.changed == 40
    applied = project.apply_split_settings(settings, user="dr.b")
    assert applied.counts == preview.counts and applied.changed == 40
    assert applied.total("unassigned") == 0 and applied.total("val") == preview.total("val") > 0
    assert applied.as_dict()["splits"]["val"]["images"] == applied.total("val")
    again = project.preview_splits(settings)
    assert again.changed == 0 and again.counts == applied.counts
    other_seed = project.preview_splits(SplitSettings(val_fraction=0.25, test_fraction=0.25, seed=5),
                                        keep_existing=False)
    assert other_seed.changed > 0 and sum(other_seed.total(s) for s in ("train", "val", "test")) == 40


def test_reassign_moves_automatic_splits_only(project: Project) -> None:
    project.apply_split_settings(SplitSettings(seed=1))
    project.set_splits([3, 4], "test", user="dr.c")  # patient P1, by hand
    project.set_split(5, "val", origin="import")  # as a CSV split column would
    automatic_before = {r.id: r.split for r in project.images() if r.split_origin == "auto"}
    changed = project.apply_split_settings(SplitSettings(seed=9, val_fraction=0.3, test_fraction=0.1),
                                           keep_existing=False).changed
    after = {r.id: r for r in project.images()}
    assert (after[3].split, after[4].split, after[5].split) == ("test", "test", "val")
    assert (after[3].split_origin, after[5].split_origin) == ("human", "import")
    assert changed == sum(after[i].split != s for i, s in automatic_before.items()) > 0
    moved = [e for e in project.history(3) if e.action == "split"][-1]
    assert (moved.user, moved.origin, moved.new_value) == ("dr.c", "human", "test")


def test_set_splits_is_one_transaction(project: Project) -> None:
    with pytest.raises(ProjectError, match="no image with id 999"):
        project.set_splits([1, 2, 999], "val")
    assert project.split_of(1) is None and project.split_of(2) is None
    assert project.set_splits([1, 2], "val") == [1, 2] and project.set_splits([1, 2], "val") == []


def test_split_settings_are_kept_and_used_by_the_next_import(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p") as created:
        assert created.split_settings() == SplitSettings()
        created.save_split_settings(SplitSettings(val_fraction=0.5, test_fraction=0.0, by="image", seed=3))
        with pytest.raises(ValueError, match="sum to < 1"):
            created.save_split_settings(SplitSettings(val_fraction=0.5, test_fraction=0.5))
    for i in range(8):
        write_png(tmp_path / "tree" / ("a" if i % 2 else "b") / f"{i}.png", seed=100 + i)
    with Project.open(tmp_path / "p") as reopened:
        report = import_sources(reopened, [tmp_path / "tree"])
        assert report.splits.settings == {"val_fraction": 0.5, "test_fraction": 0.0, "by": "image", "seed": 3}
        assert report.splits.total("test") == 0 and report.splits.total("val") == 4
        assert "val 50%" in report.summary()


def test_npz_official_splits_are_kept_by_the_import(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 6, 6), dtype=np.uint8)
    save_splits_npz(tmp_path / "d.npz", images, np.array([0, 1] * 4))
    with Project.create(tmp_path / "p") as created:
        report = import_sources(created, [tmp_path / "d.npz"])
        assert report.splits.changed == 0
        assert [report.splits.total(s) for s in ("train", "val", "test")] == [4, 2, 2]
        assert {r.split_origin for r in created.images()} == {"import"}


# -- training on images without a split -------------------------------------------------------
def test_labelled_images_without_a_split_train_but_never_test_images(project: Project) -> None:
    from medtl_gui.core.data import project_splits

    unassigned_only = project_splits(project)  # nothing assigned: all 40 labelled images are training images
    assert len(unassigned_only.train) == 40 and unassigned_only.val is None and unassigned_only.test is None
    assert "40 labelled image(s) without a split train" in unassigned_only.extra["messages"][0]
    assert "held out" in unassigned_only.extra["messages"][0]
    project.set_splits(range(1, 9), "test")
    project.set_splits(range(9, 13), "val")
    data = project_splits(project)
    train_ids = {item.id for item in data.train}
    assert train_ids == {str(i) for i in range(13, 41)}
    assert {item.id for item in data.test} == {str(i) for i in range(1, 9)} and not train_ids & {"1", "8"}
    assert len(data.val) == 4 and "held out" not in data.extra["messages"][0]
    project.apply_split_settings()
    assert "messages" not in project_splits(project).extra
