"""Importers on tiny generated data: class folders, CSV, npz, DICOM, image+mask pairs, single files."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from medtl_gui.core.project import Project, import_sources
from medtl_gui.core.project.atomic_files import sha256_file

PYDICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def write_png(path: Path, seed: int, shape: tuple[int, ...] = (10, 12)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)).save(path)
    return path


def tree_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (plus its mtime), to prove sources are untouched."""
    return {str(p): (sha256_file(p), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    with Project.create(tmp_path / "proj") as opened:
        yield opened


# -- class folders -----------------------------------------------------------------------------
@pytest.fixture()
def class_folders(tmp_path: Path) -> Path:
    root = tmp_path / "by_class"
    for i in range(3):
        write_png(root / "normal" / f"n{i}.png", seed=i)
    for i in range(4):
        write_png(root / "pneumonia" / f"p{i}.png", seed=10 + i)
    (root / "pneumonia" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    (root / "pneumonia" / "notes.txt").write_text("not an image")
    return root


def test_class_folders_import_labels_and_reports_broken_files(project: Project, class_folders: Path) -> None:
    before = tree_hashes(class_folders)
    calls: list[tuple[int, int, str]] = []
    report = import_sources(project, [class_folders], progress=lambda d, t, p: calls.append((d, t, p)),
                            batch_size=2)
    assert report.sources == [(str(class_folders), "class-folders")]
    assert report.imported == 7 and report.labelled == 7 and report.duplicates == 0
    assert report.classes_created == ["normal", "pneumonia"]
    skipped = dict(report.skipped)
    assert set(skipped) == {str(class_folders / "pneumonia" / "broken.png"), str(class_folders / "pneumonia" / "notes.txt")}
    assert skipped[str(class_folders / "pneumonia" / "broken.png")]  # a reason is given
    assert "not a supported" in skipped[str(class_folders / "pneumonia" / "notes.txt")]
    assert [c.name for c in project.classes()] == ["normal", "pneumonia"]
    assert len(project.images(label="pneumonia")) == 4
    assert calls[0] == (0, 8, "") and calls[-1][0] == 8 and len(calls) == 9
    assert tree_hashes(class_folders) == before, "sources must never be modified"
    record = project.images(label="normal")[0]
    assert [e.action for e in project.history(record.id)] == ["import", "label", "split"]
    assert project.history(record.id)[1].origin == "import"
    assert project.history(record.id)[2].origin == "import" and record.split_origin == "auto"
    assert report.splits is not None and report.splits.changed == 7  # every image got a split
    assert sum(report.splits.total(s) for s in ("train", "val", "test")) == 7
    # the same import again: everything is a duplicate
    again = import_sources(project, [class_folders])
    assert again.imported == 0 and again.duplicates == 7 and sorted(again.duplicate_ids) == sorted(report.image_ids)


def test_cancel_stops_between_files_and_keeps_what_was_read(project: Project, class_folders: Path) -> None:
    cancel = threading.Event()

    def progress(done: int, total: int, path: str) -> None:
        if done == 3:
            cancel.set()

    report = import_sources(project, [class_folders], progress=progress, cancel=cancel)
    assert report.cancelled and report.imported == 3
    assert len(project.images()) == 3


def test_copy_puts_files_inside_the_project(project: Project, class_folders: Path) -> None:
    report = import_sources(project, [class_folders / "normal"], copy=True)
    assert report.sources[0][1] == "folder" and report.imported == 3
    for record in project.images():
        assert record.copied and (project.folder / record.path).is_file()
        assert record.label is None
    assert project.check_integrity(verify_image_hashes=True) == []


def test_single_file_and_missing_source(project: Project, class_folders: Path, tmp_path: Path) -> None:
    report = import_sources(project, [class_folders / "normal" / "n0.png", tmp_path / "nope"])
    assert report.imported == 1 and report.sources == [(str(class_folders / "normal" / "n0.png"), "file")]
    assert report.skipped == [(str(tmp_path / "nope"), "source does not exist")]


# -- CSV ------------------------------------------------------------------------------------------
def test_csv_rows_with_bad_rows_and_escaping_paths(project: Project, tmp_path: Path) -> None:
    data = tmp_path / "csvdata"
    write_png(data / "imgs" / "a.png", seed=1)
    write_png(data / "imgs" / "b.png", seed=2)
    write_png(data / "imgs" / "c.png", seed=3)
    outside = write_png(tmp_path / "outside.png", seed=4)
    (data / "labels.csv").write_text(
        "path,label,split\n"
        "imgs/a.png,normal,train\n"
        "imgs/b.png,pneumonia,validation\n"
        "imgs/c.png,,\n"
        "only-one-column\n"
        "../outside.png,normal,train\n"
        f"{outside},normal,train\n"
        "imgs/missing.png,normal,test\n"
        "imgs/a.png,normal,holdout\n"
    )
    before = tree_hashes(tmp_path)
    report = import_sources(project, [data / "labels.csv"])
    assert report.imported == 3 and report.labelled == 2
    reasons = [reason for _, reason in report.skipped]
    assert len(reasons) == 5
    assert any("expected path,label[,split]" in r for r in reasons)
    assert sum("escapes the CSV's folder" in r for r in reasons) == 2
    assert any("file not found" in r for r in reasons)
    assert any("unknown split 'holdout'" in r for r in reasons)
    records = {Path(r.path).name: r for r in project.images()}
    assert (records["a.png"].label, records["a.png"].split, records["a.png"].split_origin) == ("normal", "train", "import")
    assert (records["b.png"].label, records["b.png"].split) == ("pneumonia", "val")
    assert (records["c.png"].label, records["c.png"].split_origin) == (None, "auto")  # no split in the CSV
    assert tree_hashes(tmp_path / "csvdata") == {k: v for k, v in before.items() if "csvdata" in k}
    # explicit splits from the CSV survive an automatic assignment
    project.assign_splits(seed=5, keep_existing=False)
    assert project.image(records["b.png"].id).split == "val"


def test_csv_header_names_columns_and_patient_ids(project: Project, tmp_path: Path) -> None:
    write_png(tmp_path / "d" / "x.png", seed=8)
    write_png(tmp_path / "d" / "y.png", seed=9)
    (tmp_path / "d" / "list.csv").write_text("label;patient_id;filename\nnormal;P7;x.png\nnormal;;y.png\n")
    report = import_sources(project, [tmp_path / "d" / "list.csv"])
    assert report.imported == 2 and report.skipped == []
    assert sorted((Path(r.path).name, r.patient_id, r.label) for r in project.images()) == [
        ("x.png", "P7", "normal"), ("y.png", None, "normal")]


def test_csv_without_header(project: Project, tmp_path: Path) -> None:
    write_png(tmp_path / "d" / "x.png", seed=7)
    (tmp_path / "d" / "list.csv").write_text("x.png,effusion\n")
    report = import_sources(project, [tmp_path / "d" / "list.csv"])
    assert report.imported == 1 and report.classes_created == ["effusion"]


# -- npz --------------------------------------------------------------------------------------
def make_npz(path: Path) -> None:
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, size=(6, 8, 8), dtype=np.uint8)
    train[5] = train[0]  # a pixel-identical pair, as in real data sets
    np.savez(path, train_images=train, train_labels=np.array([[0], [1], [1], [0], [1], [1]]),
             val_images=rng.integers(0, 256, size=(2, 8, 8), dtype=np.uint8), val_labels=np.array([0, 1]),
             test_images=rng.integers(0, 256, size=(3, 8, 8, 3), dtype=np.uint8), test_labels=np.array([[1], [0], [1]]))


def test_npz_keeps_splits_and_writes_pngs_into_the_project(project: Project, tmp_path: Path) -> None:
    make_npz(tmp_path / "tinymnist.npz")
    report = import_sources(project, [tmp_path / "tinymnist.npz"], class_names=["healthy", "sick"])
    assert report.sources[0][1] == "npz"
    assert report.imported == 11 and report.labelled == 11
    assert report.classes_created == ["healthy", "sick"]
    assert any("pixel-identical" in w for w in report.warnings)
    info = project.info()["splits"]
    assert info["train"]["classes"] == {"healthy": 2, "sick": 4}
    assert info["val"]["classes"] == {"healthy": 1, "sick": 1}
    assert info["test"]["classes"] == {"healthy": 1, "sick": 2}
    records = project.images(split="test")
    assert all(r.copied and r.path.startswith("images/tinymnist-") for r in records)
    assert records[0].is_color and records[0].shape == (8, 8, 3)
    data = np.load(tmp_path / "tinymnist.npz")
    first_train = project.images(split="train")[0]
    np.testing.assert_array_equal(project.read_image(first_train.id).pixels, data["train_images"][0])
    again = import_sources(project, [tmp_path / "tinymnist.npz"])
    assert again.imported == 0 and again.duplicates == 11
    assert project.check_integrity(verify_image_hashes=True) == []


def test_npz_default_names_and_limit(project: Project, tmp_path: Path) -> None:
    make_npz(tmp_path / "other.npz")
    report = import_sources(project, [tmp_path / "other.npz"], limit=1)
    assert report.imported == 3  # one per split
    assert [c.name for c in project.classes()] == ["0", "1"]


def test_npz_plain_images_uint16(project: Project, tmp_path: Path) -> None:
    images = np.random.default_rng(2).integers(0, 4096, size=(3, 5, 7), dtype=np.uint16)
    np.savez(tmp_path / "ct.npz", images=images, labels=np.array([2, 0, 2]))
    report = import_sources(project, [tmp_path / "ct.npz"])
    assert report.imported == 3 and [c.name for c in project.classes()] == ["0", "2"]
    records = project.images()
    assert all(r.split_origin == "auto" for r in records)  # no splits in the file: assigned after the import
    np.testing.assert_array_equal(project.read_image(records[1].id).pixels, images[1])


def test_npz_without_images_is_reported(project: Project, tmp_path: Path) -> None:
    np.savez(tmp_path / "weird.npz", stuff=np.zeros(3))
    report = import_sources(project, [tmp_path / "weird.npz"])
    assert report.imported == 0 and "no image arrays" in report.skipped[0][1]


# -- DICOM -----------------------------------------------------------------------------------
def make_dicom_folder(root: Path) -> Path:
    """CT_small and MR_small as single files plus a 3-slice series built from CT_small."""
    (root / "singles").mkdir(parents=True)
    shutil.copy(PYDICOM_FILES / "CT_small.dcm", root / "singles" / "ct.dcm")
    shutil.copy(PYDICOM_FILES / "MR_small.dcm", root / "singles" / "mr.dcm")
    series_uid = pydicom.uid.generate_uid()
    (root / "series").mkdir()
    for z in range(3):
        ds = pydicom.dcmread(PYDICOM_FILES / "CT_small.dcm")
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = z + 1
        ds.ImagePositionPatient = [0.0, 0.0, float(z) * 5.0]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.save_as(root / "series" / f"slice{2 - z}.dcm")
    (root / "series" / "broken.dcm").write_bytes((PYDICOM_FILES / "CT_small.dcm").read_bytes()[:900])
    return root


def test_dicom_folder_each_series_is_one_image(project: Project, tmp_path: Path) -> None:
    root = make_dicom_folder(tmp_path / "dicom")
    before = tree_hashes(root)
    report = import_sources(project, [root])
    assert report.sources[0][1] == "folder"
    assert report.imported == 3
    assert [p for p, _ in report.skipped] == [str(root / "series" / "broken.dcm")]
    by_kind = {r.kind: r for r in project.images()}
    assert set(by_kind) == {"dicom-file", "dicom-series"}
    series = by_kind["dicom-series"]
    assert series.n_frames == 3 and series.series_uid and project.image_path(series.id) == root / "series"
    assert project.read_image(series.id).pixels.shape == (3, 128, 128)
    modalities = sorted(r.modality for r in project.images())
    assert modalities == ["CT", "CT", "MR"]
    assert {r.patient_id for r in project.images()} >= {"1CT1", "4MR1"}
    assert tree_hashes(root) == before


def test_dicom_series_copied_into_the_project(project: Project, tmp_path: Path) -> None:
    root = make_dicom_folder(tmp_path / "dicom")
    import_sources(project, [root / "series"], copy=True)
    (record,) = project.images()
    assert record.copied and record.kind == "dicom-series"
    shutil.rmtree(root)
    assert project.read_image(record.id).pixels.shape == (3, 128, 128)
    assert project.check_integrity(verify_image_hashes=True) == []


# -- image + mask pairs (DRIVE layout) ---------------------------------------------------------
def make_drive_like(root: Path) -> Path:
    rng = np.random.default_rng(1)
    (root / "1st_manual").mkdir(parents=True)
    (root / "mask").mkdir()
    for case in (21, 22):
        write_png(root / "images" / f"{case}_training.tif", seed=case, shape=(20, 24, 3))
        vessels = (rng.random((20, 24)) > 0.7).astype(np.uint8) * 255
        Image.fromarray(vessels).save(root / "1st_manual" / f"{case}_manual1.gif")
        fov = np.zeros((20, 24), np.uint8)
        fov[2:18, 2:22] = 255
        Image.fromarray(fov).save(root / "mask" / f"{case}_training_mask.gif")
    Image.fromarray(np.zeros((20, 24), np.uint8)).save(root / "1st_manual" / "99_manual1.gif")
    return root


def test_image_mask_pairs_import_label_and_fov_masks(project: Project, tmp_path: Path) -> None:
    root = make_drive_like(tmp_path / "drive")
    before = tree_hashes(root)
    report = import_sources(project, [root])
    assert report.sources[0][1] == "image-mask-pairs"
    assert report.imported == 2 and report.masks_imported == 2
    assert report.seg_labels_created == ["vessel"]
    assert [(s.name, s.value) for s in project.seg_labels()] == [("vessel", 1)]
    assert report.skipped == [(str(root / "1st_manual" / "99_manual1.gif"), "no image in images/ with case id '99'")]
    for record in project.images():
        case = Path(record.path).name.split("_")[0]
        source_mask = np.array(Image.open(root / "1st_manual" / f"{case}_manual1.gif").convert("L"))
        mask = project.mask(record.id)
        assert set(np.unique(mask)) <= {0, 1}
        np.testing.assert_array_equal(mask, (source_mask > 0).astype(np.uint8))
        fov = project.fov_mask(record.id)
        assert fov.sum() == 16 * 20 and fov.max() == 1
        assert record.is_color and record.has_mask
    assert tree_hashes(root) == before
    assert project.check_integrity() == []
