"""The built-in demo project: generated content, counts, masks, DICOM samples, determinism."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from medtl_gui.core.project import Project, create_demo_project
from medtl_gui.core.project.phantoms import chest_xray_phantom, ct_phantom_volume


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Project:
    started = time.monotonic()
    project = create_demo_project(tmp_path_factory.mktemp("demo") / "demo", n_images=20, size=96, seed=3)
    assert time.monotonic() - started < 10
    yield project
    project.close()


def test_demo_counts_labels_and_splits(demo: Project) -> None:
    info = demo.info()
    phantoms = demo.images(search="images/demo/cxr_")
    assert len(phantoms) == 20
    labelled = [r for r in phantoms if r.label is not None]
    assert len(labelled) == 18  # max(2, 20 // 10) left for the user
    assert {r.label for r in labelled} == {"normal", "lesion"}
    assert [c.name for c in demo.classes()] == ["normal", "lesion"]
    assert info["splits"]["unassigned"]["images"] == 0
    assert {r.split for r in phantoms} == {"train", "val", "test"}
    by_patient: dict[str, set[str]] = {}
    for record in phantoms:
        by_patient.setdefault(record.patient_id, set()).add(record.split)
    assert all(len(s) == 1 for s in by_patient.values())
    assert demo.meta("demo") == "1"
    assert demo.check_integrity(verify_image_hashes=True) == []


def test_demo_lesion_images_have_masks(demo: Project) -> None:
    lesions = demo.images(label="lesion")
    assert lesions and all(r.has_mask for r in lesions)
    for record in lesions:
        mask = demo.mask(record.id)
        assert mask.shape == (96, 96) and 0 < mask.sum() < 96 * 96 // 4
        pixels = demo.read_image(record.id).pixels
        assert pixels[mask == 1].mean() > pixels[mask == 0].mean()  # the nodule is bright
    assert not any(r.has_mask for r in demo.images(label="normal"))
    assert [s.name for s in demo.seg_labels()] == ["lesion"]


def test_demo_dicom_samples_and_ct_volume_are_readable(demo: Project) -> None:
    dicoms = [r for r in demo.images() if r.kind == "dicom-file"]
    assert {r.modality for r in dicoms} >= {"CT", "MR"}
    for record in dicoms:
        assert record.copied and demo.read_image(record.id).pixels.size > 0
    multi = [r for r in dicoms if r.n_frames > 1]
    assert multi and demo.read_image(multi[0].id).n_frames > 1
    (ct,) = [r for r in demo.images() if r.kind == "volume"]
    scan = demo.read_image(ct.id)
    assert scan.pixels.shape == (24, 128, 128) and scan.pixels.min() < -900 and scan.pixels.max() > 500
    slices = [r.slice_index for r in demo.mask_records(ct.id)]
    assert slices and all(demo.mask(ct.id, z).sum() > 0 for z in slices)


def test_demo_is_deterministic_by_seed(tmp_path: Path) -> None:
    a = create_demo_project(tmp_path / "a", n_images=6, size=48, seed=1)
    b = create_demo_project(tmp_path / "b", n_images=6, size=48, seed=1)
    with a, b:
        assert [(r.sha256, r.label, r.split) for r in a.images()] == [(r.sha256, r.label, r.split) for r in b.images()]


def test_phantoms_are_deterministic_and_sane() -> None:
    image, mask = chest_xray_phantom(64, np.random.default_rng(0), lesion=True)
    again, _ = chest_xray_phantom(64, np.random.default_rng(0), lesion=True)
    np.testing.assert_array_equal(image, again)
    assert image.dtype == np.uint8 and mask is not None and mask.any()
    assert chest_xray_phantom(64, np.random.default_rng(0), lesion=False)[1] is None
    volume, nodule = ct_phantom_volume(np.random.default_rng(0), n_slices=8, size=32)
    assert volume.dtype == np.int16 and volume.shape == (8, 32, 32) and nodule.any()
