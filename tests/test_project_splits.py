"""Splits: stratified by class, patient-level, deterministic, explicit splits kept."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medtl_gui.core.project import Project
from medtl_gui.core.project.split_planning import SplitCandidate, plan_splits


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
