"""Batch prediction of files and folders: CSV rows for the readable scans, reasons for the broken ones,
DICOM series as one row, segmentation masks written as PNG / NIfTI / DICOM SEG on the scan's grid."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import numpy as np
import pytest

from medtl_gui.cli import main
from medtl_gui.core.data.npz_source import load_npz_splits
from medtl_gui.core.data.synthetic import SYNTHETIC_CLASSES, synthetic_images, write_synthetic_npz
from medtl_gui.core.training import TrainConfig, train

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file written by medtl predict (the file is closed again)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory) -> Path:
    """A tiny trained classification run (baseline CNN, 16 px, 1 epoch)."""
    folder = tmp_path_factory.mktemp("batch")
    npz = write_synthetic_npz(folder / "tiny.npz", n_train=16, n_val=8, n_test=8, size=16)
    config = TrainConfig(model="baseline_cnn", image_size=16, epochs=1, batch_size=8, precision="fp32")
    assert train(config, load_npz_splits(npz), run_dir=folder / "run").status == "completed"
    return folder / "run"


@pytest.fixture(scope="module")
def segmentation_run(tmp_path_factory) -> Path:
    """A tiny trained segmentation run (small U-Net, label 'disc')."""
    from medtl_gui.core.data.segmentation import ImagePlane, SegmentationImages, SegmentationItem, SegmentationSplits

    folder = tmp_path_factory.mktemp("batch-seg")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32]
    items = []
    for index in range(4):
        mask = (((yy - rng.uniform(10, 22)) ** 2 + (xx - rng.uniform(10, 22)) ** 2) < 36).astype(np.uint8)
        image = np.clip(60 + 20 * rng.standard_normal((32, 32)) + 120 * mask, 0, 255).astype(np.uint8)
        items.append(SegmentationItem(f"t{index}", f"t{index}", lambda i=image: ImagePlane(i), lambda m=mask: m,
                                      lambda: None))
    splits = SegmentationSplits(SegmentationImages(items[:3], ["disc"], "blobs:train"),
                                SegmentationImages(items[3:], ["disc"], "blobs:val"), source="blobs")
    config = TrainConfig(task="segmentation", model="unet_small", image_size=32, epochs=1, patches_per_image=2,
                         batch_size=8, schedule="constant", augmentation="none", precision="fp32")
    assert train(config, splits, run_dir=folder / "run").status == "completed"
    return folder / "run"


def _scan_folder(folder: Path) -> Path:
    """Two PNGs, a broken PNG and a 3-slice DICOM series (patient PHANTOM) in one folder."""
    from PIL import Image

    from medtl_gui.core.imaging.dicom_writer import write_dicom_series

    folder.mkdir(parents=True)
    images, _ = synthetic_images(2, size=20, seed=3)
    Image.fromarray(images[0]).save(folder / "a.png")
    Image.fromarray(images[1]).save(folder / "b.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not a picture")
    volume = (np.random.default_rng(1).random((3, 24, 20)) * 300).astype(np.int16)
    write_dicom_series(folder / "series", volume, spacing=(0.7, 0.8, 2.0), origin=(5.0, 6.0, 7.0), modality="CT")
    return folder


def test_cli_folder_with_a_broken_file_predicts_the_others_and_names_it(classifier_run: Path, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture) -> None:
    scans = _scan_folder(tmp_path / "scans")
    out = tmp_path / "predictions.csv"
    # the CT series is outside the scope of a model trained on 2D grey images: included on request
    assert main(["predict", str(scans), "--run", str(classifier_run), "--out", str(out), "--force-scope"]) == 1
    rows = _csv_rows(out)
    by_name = {Path(r["path"]).name: r for r in rows}
    assert set(by_name) == {"a.png", "b.png", "broken.png", "series"}, "the series is one row, not three"
    for name in ("a.png", "b.png", "series"):
        assert by_name[name]["status"] == "ok" and by_name[name]["predicted_class"] in SYNTHETIC_CLASSES
    series = by_name["series"]
    assert series["patient_id"] == "PHANTOM" and series["study_uid"] and series["series_uid"]
    assert "outside the model's scope (included on request)" in series["error"]
    assert by_name["broken.png"]["status"] == "skipped" and "unreadable" in by_name["broken.png"]["error"]
    err = capsys.readouterr().err
    assert "3 predicted, 1 skipped" in err and "broken.png" in err


def test_real_mr_series_is_one_row_with_its_ids(classifier_run: Path, tmp_path: Path) -> None:
    series = SHARED_DATA / "dicom" / "mr_series"
    if not series.is_dir():
        pytest.skip(f"reference data not found at {series}")
    from medtl_gui.core.inference.prediction_batch import predict_paths

    result = predict_paths(classifier_run, [series], tmp_path / "p.csv", include_out_of_scope=True)
    assert len(result.rows) == 1 and result.rows[0].ok and not result.skipped
    row = result.rows[0]
    assert row.patient_id == "PACSMAN1" and row.series_uid.startswith("1.2.826.") and row.study_uid


def test_cancel_before_start_writes_the_csv_with_nothing_predicted(classifier_run: Path, tmp_path: Path) -> None:
    from medtl_gui.core.inference.prediction_batch import predict_paths

    scans = _scan_folder(tmp_path / "scans")
    cancel = threading.Event()
    cancel.set()
    result = predict_paths(classifier_run, [scans], tmp_path / "p.csv", cancel=cancel)
    assert result.cancelled and result.rows == [] and result.total == 4
    assert (tmp_path / "p.csv").read_text(encoding="utf-8").startswith("path,")


def test_segmentation_masks_in_every_format_sit_on_the_scan_grid(segmentation_run: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    import SimpleITK as sitk

    from medtl_gui.core.imaging import read_scan
    from medtl_gui.core.masks import read_dicom_seg, read_mask_nifti, read_mask_png

    scans = _scan_folder(tmp_path / "scans")
    volume = sitk.GetImageFromArray((np.random.default_rng(2).random((2, 18, 22)) * 100).astype(np.float32))
    volume.SetSpacing((0.5, 0.6, 1.5))
    volume.SetOrigin((1.0, 2.0, 3.0))
    sitk.WriteImage(volume, str(scans / "vol.nii.gz"))
    masks: dict[str, dict[str, Path]] = {}
    for fmt in ("png", "nifti", "dicom-seg"):
        out = tmp_path / fmt / "p.csv"
        code = main(["predict", str(scans), "--run", str(segmentation_run), "--out", str(out), "--mask-format", fmt])
        assert code == 1  # the broken file (and scans a format cannot hold) are skipped
        rows = {Path(r["path"]).name: r for r in _csv_rows(out)}
        assert "unreadable" in rows["broken.png"]["error"] and rows["broken.png"]["status"] == "skipped"
        masks[fmt] = {name: Path(r["mask_file"]) for name, r in rows.items() if r["status"] == "ok"}
        assert all(path.parent == tmp_path / fmt / "masks" and path.is_file() for path in masks[fmt].values())
    capsys.readouterr()
    assert set(masks["png"]) == {"a.png", "b.png"}, "PNG holds 2D masks only"
    assert set(masks["nifti"]) == {"a.png", "b.png", "series", "vol.nii.gz"}
    assert set(masks["dicom-seg"]) == {"series"}, "a DICOM SEG needs DICOM sources"
    for name in ("a.png", "b.png"):
        png = read_mask_png(masks["png"][name], expected_shape=(20, 20))
        assert np.array_equal(png, read_mask_nifti(masks["nifti"][name], read_scan(scans / name)))
    series = read_scan(scans / "series")
    from_nifti = read_mask_nifti(masks["nifti"]["series"], series)  # refuses a mask off the scan's grid
    from_seg = read_dicom_seg(masks["dicom-seg"]["series"], series.sop_uids, {"disc": 1})
    assert from_nifti.shape == (3, 24, 20) and np.array_equal(from_nifti, from_seg)
    written = sitk.ReadImage(str(masks["nifti"]["vol.nii.gz"]))
    assert written.GetSize() == (22, 18, 2) and written.GetSpacing() == pytest.approx((0.5, 0.6, 1.5))
    assert written.GetOrigin() == pytest.approx((1.0, 2.0, 3.0))


def test_project_predictions_leave_de_identified_and_are_logged(classifier_run: Path, demo_project_dir: Path,
                                                                tmp_path: Path) -> None:
    from medtl_gui.core.project import Project

    out = tmp_path / "p.csv"
    main(["predict", str(demo_project_dir), "--run", str(classifier_run), "--out", str(out), "--no-proposals"])
    rows = _csv_rows(out)
    with Project.open(demo_project_dir) as project:
        patients = {r.patient_id for r in project.images() if r.patient_id}
        exports = [e for e in project.exports() if e.what == "predictions-csv"]
    assert patients and not patients & {r["patient_id"] for r in rows}
    assert all(r["patient_id"].startswith("ANON-") for r in rows if r["patient_id"])
    assert not any(str(demo_project_dir) in r["path"] for r in rows)
    assert len(exports) == 1 and exports[0].deidentified
    main(["predict", str(demo_project_dir), "--run", str(classifier_run), "--out", str(out), "--no-proposals",
          "--identified"])
    assert patients & {r["patient_id"] for r in _csv_rows(out)}
