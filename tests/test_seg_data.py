"""Segmentation data: patch sampling (foreground bias), joint augmentation, field-of-view masking in the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medtl_gui.core.data.patches import JointAugmentation, PatchDataset, PatchSampler, crop_patch, random_dihedral
from medtl_gui.core.data.segmentation import ImagePlane, SegmentationImages, SegmentationItem
from medtl_gui.core.data.segmentation_cases import SegmentationInput, prepare_case
from medtl_gui.core.training.segmentation_loss import SegmentationLoss

PER_IMAGE = SegmentationInput(1, "per_image", (0.5,), (0.25,))


def _item(image: np.ndarray, mask: np.ndarray, fov: np.ndarray | None = None, name: str = "a") -> SegmentationItem:
    return SegmentationItem(name, name, lambda: ImagePlane(image), lambda: mask, lambda: fov)


def _case_with_small_lesion(size: int = 128):
    image = np.zeros((size, size), np.uint8)
    mask = np.zeros((size, size), np.uint8)
    mask[100:104, 20:24] = 1
    image[mask > 0] = 200
    return prepare_case(_item(image, mask), PER_IMAGE)


def test_foreground_biased_sampling_finds_a_small_lesion() -> None:
    case = _case_with_small_lesion()
    rng = np.random.default_rng(0)

    def share_with_lesion(fraction: float) -> float:
        sampler = PatchSampler(32, fraction)
        hits = [bool(case.labels[t:t + 32, l:l + 32].any()) for t, l in sampler.positions(case, 400, rng)]
        return float(np.mean(hits))

    assert share_with_lesion(1.0) == 1.0
    assert share_with_lesion(0.0) < 0.3  # about (32+3)^2 / 128^2
    assert 0.3 < share_with_lesion(0.5) < 0.8


def test_patch_positions_stay_inside_the_image_and_the_field_of_view() -> None:
    image = np.full((100, 120), 50, np.uint8)
    mask = np.zeros((100, 120), np.uint8)
    fov = np.zeros((100, 120), bool)
    fov[60:, 80:] = True
    case = prepare_case(_item(image, mask, fov), PER_IMAGE)
    positions = PatchSampler(40, 0.5).positions(case, 200, np.random.default_rng(1))
    for top, left in positions:
        assert 0 <= top <= 60 and 0 <= left <= 80
        assert case.fov[top:top + 40, left:left + 40].any()
    plan_a = PatchSampler(40).epoch_plan([case], 5, seed=3)
    assert plan_a == PatchSampler(40).epoch_plan([case], 5, seed=3) != PatchSampler(40).epoch_plan([case], 5, seed=4)


def test_images_smaller_than_a_patch_are_padded_outside_the_field_of_view() -> None:
    case = prepare_case(_item(np.full((20, 30), 255, np.uint8), np.ones((20, 30), np.uint8)), PER_IMAGE)
    image, target = crop_patch(case, 0, 0, 32)
    assert image.shape == (1, 32, 32) and target.shape == (2, 32, 32)
    assert target[1, :20, :30].all() and not target[1, 20:].any() and not target[1, :, 30:].any()
    assert not target[0, 20:].any()


@pytest.mark.parametrize("preset", ["light", "standard", "strong"])
def test_joint_augmentation_keeps_image_and_mask_aligned(preset: str) -> None:
    """The mask is drawn into the image, so after any geometric change they must still coincide."""
    torch.manual_seed(0)
    size = 64
    yy, xx = np.mgrid[0:size, 0:size]
    mask = (((yy - 30) ** 2 + (xx - 24) ** 2) < 100).astype(np.uint8)
    image = (mask * 255).astype(np.uint8)
    case = prepare_case(_item(image, mask), SegmentationInput(1, "weights", (0.0,), (1.0,)))
    dataset = PatchDataset([case], [(0, 0, 0)] * 12, size, JointAugmentation(preset))
    for index in range(len(dataset)):
        patch, target = dataset[index]
        inside = target[1] > 0
        bright = patch[0] > 0.5
        disagree = (bright != (target[0] > 0)) & inside
        assert target.dtype == torch.int64 and set(target[0].unique().tolist()) <= {0, 1}
        assert disagree.float().mean() < 0.03, f"{preset}: image and mask drifted apart"


def test_dihedral_turns_move_image_and_target_together() -> None:
    image = torch.arange(16.0).view(1, 4, 4)
    target = torch.stack([torch.arange(16).view(4, 4), torch.ones(4, 4, dtype=torch.int64)])
    for seed in range(8):
        torch.manual_seed(seed)
        out_image, out_target = random_dihedral(image, target)
        assert torch.equal(out_image[0].long(), out_target[0])


def test_per_image_normalisation_uses_the_field_of_view() -> None:
    image = np.zeros((10, 10), np.uint8)
    image[:, 5:] = 200
    fov = np.zeros((10, 10), bool)
    fov[:, 5:] = True
    fov[0, 0] = True
    case = prepare_case(_item(image, np.zeros((10, 10), np.uint8), fov), PER_IMAGE)
    normalised = case.normalise(case.image)
    assert abs(float(normalised[0][case.fov].mean())) < 1e-5
    with pytest.raises(Exception, match="does not match"):
        prepare_case(_item(image, np.zeros((9, 10), np.uint8)), PER_IMAGE)


def test_loss_ignores_pixels_outside_the_field_of_view() -> None:
    loss = SegmentationLoss(n_outputs=1)
    logits = torch.full((1, 1, 8, 8), -4.0)
    labels = torch.zeros((8, 8), dtype=torch.int64)
    labels[:, :4] = 1
    logits[..., :4] = 4.0  # right inside the left half
    fov_left = torch.zeros((8, 8), dtype=torch.int64)
    fov_left[:, :4] = 1
    fov_left[:, 4:6] = 1
    target = torch.stack([labels, fov_left]).unsqueeze(0)
    base = float(loss(logits, target))
    scrambled = logits.clone()
    scrambled[..., 6:] = torch.randn(1, 1, 8, 2) * 10  # outside the field of view: must not matter
    assert float(loss(scrambled, target)) == pytest.approx(base, abs=1e-6)
    worse = logits.clone()
    worse[..., 4:6] = 4.0  # inside the field of view: must matter
    assert float(loss(worse, target)) > base + 0.1


def test_multi_label_loss_and_item_collections() -> None:
    loss = SegmentationLoss(n_outputs=3)
    labels = torch.randint(0, 3, (2, 16, 16))
    target = torch.stack([labels, torch.ones_like(labels)], dim=1)
    perfect = torch.nn.functional.one_hot(labels, 3).permute(0, 3, 1, 2).float() * 20 - 10
    assert float(loss(perfect, target)) < 0.01 < float(loss(-perfect, target))
    items = [_item(np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8), name=str(i)) for i in range(6)]
    images = SegmentationImages(items, ["lesion"], "x")
    train, val = images.case_split(0.34, seed=0)
    assert len(train) + len(val) == 6 and not set(train.ids) & set(val.ids) and len(val) == 2


def test_drive_pairs_become_masked_items_with_their_field_of_view(tmp_path) -> None:
    from pathlib import Path

    from medtl_gui.core.data.segmentation import open_segmentation_source
    from medtl_gui.core.project import Project
    from medtl_gui.core.project.importing import import_sources

    drive = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "drive" / "training"
    if not drive.is_dir():
        pytest.skip(f"reference data not found at {drive}")
    with Project.create(tmp_path / "p") as project:
        import_sources(project, [drive], seg_label_name="vessel", limit=2)
        for record in project.images():
            project.set_split(record.id, "train")
    data = open_segmentation_source(tmp_path / "p")
    try:
        assert data.label_names == ["vessel"] and len(data.train) == 2 and data.val is None
        case = prepare_case(data.train[0], SegmentationInput(3, "per_image", (0.5,) * 3, (0.25,) * 3))
        assert case.image.shape == (3, 584, 565) and case.has_fov
        assert set(case.labels.unique().tolist()) == {0, 1}
        assert 0.6 < float(case.fov.float().mean()) < 0.8
        assert float(case.labels[case.fov].sum()) > 0.99 * float(case.labels.sum())  # vessels lie in the FOV
    finally:
        data.extra["project"].close()


def test_masked_images_without_a_split_train_and_the_run_is_told(tmp_path) -> None:
    from medtl_gui.core.data.project_source import DATA_MESSAGES_KEY
    from medtl_gui.core.data.segmentation import open_segmentation_source
    from medtl_gui.core.project import Project
    from medtl_gui.core.project.importing import import_sources
    from test_import_sources import make_drive_like

    with Project.create(tmp_path / "p") as project:
        import_sources(project, [make_drive_like(tmp_path / "drive")], seg_label_name="vessel")
        first, second = (record.id for record in project.images())
        project.set_split(first, None)  # e.g. unassigned by hand
        project.set_split(second, "test")
    data = open_segmentation_source(tmp_path / "p")
    try:
        assert [item.case_id for item in data.train] == [str(first)]  # the test image never trains
        assert data.test is not None and [item.case_id for item in data.test] == [str(second)]
        assert "without a split train with the training images" in data.extra[DATA_MESSAGES_KEY][0]
    finally:
        data.extra["project"].close()
