"""Masks: atomic PNG files + database records, proposals, volumes, recovery, integrity."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medtl_gui.core.project import Project, ProjectError
from medtl_gui.core.project.atomic_files import sha256_file
from medtl_gui.core.project.masks import encode_mask_png


def write_png(path: Path, seed: int, shape: tuple[int, int] = (12, 20)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)).save(path)
    return path


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    with Project.create(tmp_path / "proj") as opened:
        yield opened


@pytest.fixture()
def image_id(project: Project, tmp_path: Path) -> int:
    return project.add_image(write_png(tmp_path / "src" / "a.png", seed=1))


def label_mask(seed: int, shape: tuple[int, int] = (12, 20)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 3, size=shape).astype(np.uint8)


def test_mask_round_trip_and_record(project: Project, image_id: int) -> None:
    assert project.mask(image_id) is None
    mask = label_mask(0)
    record = project.set_mask(image_id, mask, user="dr.a")
    assert record.path == f"masks/{image_id}.png" and record.origin == "human" and record.user == "dr.a"
    assert record.sha256 == sha256_file(project.folder / record.path)
    np.testing.assert_array_equal(project.mask(image_id), mask)
    replaced = label_mask(1)
    project.set_mask(image_id, replaced)
    np.testing.assert_array_equal(project.mask(image_id), replaced)
    history = [e for e in project.history(image_id) if e.action == "mask"]
    assert history[1].old_value["sha256"] == record.sha256
    assert not list((project.folder / "masks").glob("*.pending")), "no pending files after a finished write"
    assert not list((project.folder / "masks").glob(".*")), "no temporary files left"


def test_mask_accepts_bool_and_rejects_bad_masks(project: Project, image_id: int) -> None:
    project.set_mask(image_id, np.ones((12, 20), bool))
    assert project.mask(image_id).dtype == np.uint8 and project.mask(image_id).max() == 1
    with pytest.raises(ValueError, match="does not match"):
        project.set_mask(image_id, np.ones((20, 12), np.uint8))
    with pytest.raises(ValueError, match="integer"):
        project.set_mask(image_id, np.ones((12, 20), np.float32))
    with pytest.raises(ValueError, match="0..255"):
        project.set_mask(image_id, np.full((12, 20), 300, np.int32))
    with pytest.raises(ValueError, match="2D image"):
        project.set_mask(image_id, np.ones((12, 20), np.uint8), slice_index=0)
    with pytest.raises(ProjectError, match="no image"):
        project.set_mask(12345, np.ones((12, 20), np.uint8))


def test_mask_proposal_is_separate_and_can_be_confirmed(project: Project, image_id: int) -> None:
    human = label_mask(2)
    model = label_mask(3)
    project.set_mask(image_id, human)
    record = project.set_mask_proposal(image_id, model, run_id="run-1")
    assert record.path == f"masks/proposals/{image_id}.png" and record.run_id == "run-1"
    np.testing.assert_array_equal(project.mask(image_id), human)
    np.testing.assert_array_equal(project.mask_proposal(image_id), model)
    confirmed = project.confirm_mask_proposal(image_id, user="dr.b")
    assert confirmed.origin == "model-confirmed" and confirmed.user == "dr.b"
    np.testing.assert_array_equal(project.mask(image_id), model)
    assert [e.action for e in project.history(image_id)][-3:] == ["mask", "mask-proposal", "confirm-mask"]


def test_fov_mask_and_delete(project: Project, image_id: int) -> None:
    fov = np.zeros((12, 20), np.uint8)
    fov[2:10, 2:18] = 1
    assert project.set_fov_mask(image_id, fov).path == f"masks/{image_id}_fov.png"
    np.testing.assert_array_equal(project.fov_mask(image_id), fov)
    assert not project.image(image_id).has_mask  # a field of view is not a label mask
    project.set_mask(image_id, fov)
    assert project.delete_mask(image_id) is True
    assert project.mask(image_id) is None and not (project.folder / f"masks/{image_id}.png").exists()
    assert project.delete_mask(image_id) is False


def test_volume_masks_are_per_slice(project: Project, tmp_path: Path) -> None:
    import SimpleITK as sitk

    volume = np.random.default_rng(0).integers(-1000, 1000, size=(5, 8, 9)).astype(np.int16)
    path = tmp_path / "vol.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(volume), str(path))
    image_id = project.add_image(path)
    assert project.image(image_id).n_frames == 5
    slice_mask = np.zeros((8, 9), np.uint8)
    slice_mask[2:4, 3:6] = 1
    record = project.set_mask(image_id, slice_mask, slice_index=3)
    assert record.path == f"masks/{image_id}_z3.png" and record.slice_index == 3
    np.testing.assert_array_equal(project.mask(image_id, 3), slice_mask)
    assert project.mask(image_id, 2) is None
    with pytest.raises(ValueError, match="slice_index"):
        project.set_mask(image_id, slice_mask)
    with pytest.raises(ValueError, match="slice_index"):
        project.set_mask(image_id, slice_mask, slice_index=5)
    assert [r.slice_index for r in project.mask_records(image_id)] == [3]


def test_a_rolled_back_mask_edit_leaves_no_file(project: Project, image_id: int) -> None:
    old = label_mask(10)
    project.set_mask(image_id, old)
    with pytest.raises(RuntimeError, match="abort"):
        with project.transaction():
            project.set_mask(image_id, label_mask(11))
            raise RuntimeError("abort")
    np.testing.assert_array_equal(project.mask(image_id), old)
    assert sorted(p.name for p in (project.folder / "masks").iterdir()) == [f"{image_id}.png"]
    assert project.check_integrity() == []


def test_committed_pending_mask_is_rolled_forward_on_open(project: Project, image_id: int) -> None:
    """Simulate a crash after the commit but before the rename: the next open finishes it."""
    old = label_mask(4)
    project.set_mask(image_id, old)
    new = label_mask(5)
    data = encode_mask_png(new)
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    final = project.folder / f"masks/{image_id}.png"
    pending = final.with_name(f"{final.name}.{digest[:16]}.pending")
    pending.write_bytes(data)
    conn = project.database.connection()
    # what the committed transaction holds: the new hash and its history row
    conn.execute("UPDATE masks SET sha256 = ? WHERE image_id = ?", (digest, image_id))
    conn.execute("INSERT INTO history (timestamp, user, image_id, action, old_value, new_value, origin)"
                 " VALUES ('t', 'u', ?, 'mask', NULL, ?, 'human')",
                 (image_id, f'{{"sha256": "{digest}", "slice": null}}'))
    project.close()
    with Project.open(project.folder) as reopened:
        assert not pending.exists()
        np.testing.assert_array_equal(reopened.mask(image_id), new)
        assert reopened.check_integrity() == []


def test_uncommitted_pending_mask_is_discarded_on_open(project: Project, image_id: int) -> None:
    """Simulate a crash before the commit: the old mask stays, the pending file goes."""
    old = label_mask(6)
    project.set_mask(image_id, old)
    final = project.folder / f"masks/{image_id}.png"
    pending = final.with_name(f"{final.name}.0123456789abcdef.pending")
    pending.write_bytes(encode_mask_png(label_mask(7)))
    project.close()
    with Project.open(project.folder) as reopened:
        assert not pending.exists()
        np.testing.assert_array_equal(reopened.mask(image_id), old)
        assert reopened.check_integrity() == []


def test_integrity_check_finds_tampered_and_missing_files(project: Project, image_id: int, tmp_path: Path) -> None:
    project.set_mask(image_id, label_mask(8))
    assert project.check_integrity() == []
    mask_file = project.folder / f"masks/{image_id}.png"
    mask_file.write_bytes(encode_mask_png(label_mask(9)))
    problems = project.check_integrity()
    assert len(problems) == 1 and "does not match its recorded sha256" in problems[0]
    mask_file.unlink()
    assert "missing" in project.check_integrity()[0]
    os.remove(tmp_path / "src" / "a.png")
    assert any("file is missing" in p and "a.png" in p for p in project.check_integrity())


def test_integrity_check_verifies_copied_images_and_triggers(project: Project, tmp_path: Path) -> None:
    image_id = project.add_image(write_png(tmp_path / "src" / "b.png", seed=3), copy=True)
    assert project.check_integrity(verify_image_hashes=True) == []
    write_png(project.image_path(image_id), seed=4)
    assert "content changed" in project.check_integrity(verify_image_hashes=True)[0]
    conn = sqlite3.connect(project.folder / "project.sqlite")
    conn.execute("DROP TRIGGER history_no_delete")
    conn.commit()
    conn.close()
    assert any("history_no_delete" in p for p in project.check_integrity())
