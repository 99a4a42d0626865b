"""The viewer's readouts tell the truth: cursor slice and unit, initial window from evidence, per-image view memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from medtl_gui.core.imaging import Scan, read_scan


def _scan(pixels: np.ndarray, modality: str | None = None, lut: dict | None = None, kind: str = "raster",
          n_frames: int = 1) -> Scan:
    metadata = {"modality_lut": lut} if lut is not None else {}
    spacing = (1.0, 1.0, 1.0) if n_frames > 1 else (1.0, 1.0)
    return Scan(path="x", kind=kind, pixels=pixels, spacing=spacing, origin=(0.0,) * len(spacing),
                direction=(1.0,), modality=modality, n_frames=n_frames, metadata=metadata)


@pytest.fixture
def viewer(qtbot):
    from medtl_gui.gui.viewer import ScanViewer

    widget = ScanViewer()
    qtbot.addWidget(widget)
    widget.resize(500, 500)
    widget.show()
    qtbot.waitExposed(widget)
    readouts: list[str] = []
    widget.cursor_info.connect(readouts.append)
    widget.readouts = readouts  # type: ignore[attr-defined]
    return widget


def _hover(qtbot, viewer, x: float, y: float) -> None:
    """Move the real mouse over image point (x, y)."""
    qtbot.mouseMove(viewer.graphics.viewport(), viewer.image_to_viewport(x, y))
    QApplication.processEvents()


def _wheel(viewer, at: QPoint, steps: int) -> None:
    """Turn the wheel over the image (negative: towards the user, i.e. the next slice)."""
    viewport = viewer.graphics.viewport()
    for _ in range(abs(steps)):
        delta = 120 if steps > 0 else -120
        event = QWheelEvent(QPointF(at), QPointF(viewport.mapToGlobal(at)), QPoint(0, 0), QPoint(0, delta),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                            False)
        QApplication.sendEvent(viewport, event)
    QApplication.processEvents()


def test_cursor_readout_follows_wheel_scrolling_through_slices(qtbot, viewer) -> None:
    volume = np.stack([np.full((20, 20), 100 + z, np.int16) for z in range(41)])
    ct_lut = {"source": "Rescale Slope/Intercept", "slope": 1.0, "intercept": -1024.0}
    viewer.set_scan(_scan(volume, "CT", ct_lut, kind="dicom-series", n_frames=41))
    assert viewer.slice_index == 20
    _hover(qtbot, viewer, 5.5, 6.5)
    assert viewer.readouts[-1].startswith("x 5  y 6  z 20") and "value 120 HU" in viewer.readouts[-1]
    _wheel(viewer, viewer.image_to_viewport(5.5, 6.5), -2)  # the mouse stays still
    assert viewer.slice_index == 22
    assert "z 22" in viewer.readouts[-1] and "value 122 HU" in viewer.readouts[-1], viewer.readouts[-1]


def test_png_values_carry_no_unit_and_ct_without_a_lut_no_hu(qtbot, viewer) -> None:
    png = (np.arange(64 * 64) % 256).reshape(64, 64).astype(np.uint8)
    viewer.set_scan(_scan(png))
    _hover(qtbot, viewer, 3.5, 0.5)
    assert viewer.readouts[-1].endswith("value 3"), viewer.readouts[-1]
    assert viewer.value_unit == "" and "HU" not in viewer.readouts[-1]
    # a NIfTI-like volume spanning -1000..1000: CT presets are offered, but no HU is claimed and it opens on Auto
    nifti = np.linspace(-1000, 1000, 8 * 16 * 16).reshape(8, 16, 16).astype(np.float32)
    viewer.set_scan(_scan(nifti, kind="volume", n_frames=8))
    assert "Lung" in viewer.preset_names() and viewer.preset_box.currentText().startswith("Auto")
    _hover(qtbot, viewer, 1.5, 1.5)
    assert "HU" not in viewer.readouts[-1]


def test_rt_dose_reads_out_in_gray(qtbot, viewer) -> None:
    dose = np.linspace(0, 2, 16 * 16, dtype=np.float32).reshape(16, 16)
    viewer.set_scan(_scan(dose, "RTDOSE", {"source": "Dose Grid Scaling", "slope": 0.001, "intercept": 0.0,
                                           "rescale_type": "GY"}))
    _hover(qtbot, viewer, 15.5, 15.5)
    assert viewer.readouts[-1].endswith(" Gy"), viewer.readouts[-1]


def _write_dicom(path: Path, pixels: np.ndarray, modality: str | None, rescale_type: str | None = None) -> Path:
    from medtl_gui.core.imaging.dicom_writer import dicom_dataset

    ds = dicom_dataset(pixels, modality=modality or "OT", rescale=(1.0, -1024.0))
    if modality is None:
        del ds.Modality
    if rescale_type:
        ds.RescaleType = rescale_type
    ds.save_as(str(path), enforce_file_format=True)
    return path


def test_dicom_without_modality_opens_with_percentiles_not_the_ct_preset(qtbot, viewer, tmp_path) -> None:
    from medtl_gui.core.imaging import apply_window

    rng = np.random.default_rng(0)
    pixels = np.zeros((64, 64), np.uint16)  # background: -1024 after the rescale, like air
    pixels[8:56, 8:56] = rng.normal(2600, 300, (48, 48)).clip(1, 4095)  # tissue: about 1600 +- 300, not HU
    scan = read_scan(_write_dicom(tmp_path / "nomod.dcm", pixels, None))
    assert not scan.modality and scan.pixels.min() == -1024
    viewer.set_scan(scan)
    assert viewer.preset_box.currentText().startswith("Auto"), "no CT preset without evidence"
    shown = apply_window(scan.pixels[8:56, 8:56], *viewer.window)
    assert (shown == 255).mean() < 0.1 and shown.std() > 20, "the tissue has grey levels, not a white blob"
    # the same file stating HU in its modality LUT is CT by evidence: abdomen preset and HU read-out
    hu = read_scan(_write_dicom(tmp_path / "hu.dcm", pixels, None, "HU"))
    viewer.set_scan(hu)
    assert viewer.preset_box.currentText() == "Abdomen" and viewer.value_unit == "HU"


def test_view_memory_keeps_the_newest_entries(isolated_settings, tmp_path) -> None:
    from PySide6.QtCore import QSettings

    from medtl_gui.gui.view_memory import ViewMemory

    memory = ViewMemory(QSettings("MedTL-test", "views"), limit=3)
    for image_id in range(5):
        memory.remember(tmp_path / "p", image_id, 40.0 + image_id, 400.0, image_id)
    assert len(memory) == 3
    assert memory.recall(tmp_path / "p", 0) is None and memory.recall(tmp_path / "p", 4) == (44.0, 400.0, 4)
    assert memory.recall(tmp_path / "other", 4) is None, "entries are per project"
