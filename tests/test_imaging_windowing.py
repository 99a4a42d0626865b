"""Display windows: CT presets, auto window, default window, window -> uint8."""

from __future__ import annotations


import numpy as np
import pytest

from medtl_gui.core.imaging import CT_PRESETS, Scan, apply_window, auto_window, default_window


def make_scan(pixels, modality=None, window=None, is_color=False) -> Scan:
    return Scan(
        path="x", kind="raster", pixels=np.asarray(pixels), spacing=(1.0, 1.0), origin=(0.0, 0.0),
        direction=(1.0, 0.0, 0.0, 1.0), modality=modality, window=window, is_color=is_color,
    )


def test_ct_presets_have_radiopaedia_values():
    assert set(CT_PRESETS) == {
        "brain", "subdural", "stroke", "lung", "mediastinum", "abdomen", "liver", "bone"
    }
    assert CT_PRESETS["brain"] == (40, 80)
    assert CT_PRESETS["lung"] == (-600, 1500)
    assert CT_PRESETS["mediastinum"] == (50, 350)
    assert CT_PRESETS["bone"] == (400, 1800)
    assert CT_PRESETS["liver"] == (30, 150)
    for center, width in CT_PRESETS.values():
        assert width >= 1 and -1024 <= center <= 3071


def test_apply_window_follows_the_dicom_linear_function():
    values = np.array([-1000, -10, 40, 89.5, 90, 1000], dtype=np.float32)
    out = apply_window(values, center=40, width=100)
    assert out.dtype == np.uint8
    assert out[0] == 0 and out[1] == 0  # at or below center - width/2
    assert out[-1] == 255 and out[-2] == 255
    assert 125 <= out[2] <= 130  # the center maps to mid-grey
    assert np.all(np.diff(out.astype(int)) >= 0)  # monotonic
    assert apply_window(np.array([np.nan]), 0, 10)[0] == 0
    with pytest.raises(ValueError):
        apply_window(values, 0, 0.5)


def test_apply_window_keeps_shape_of_volumes_and_int_input():
    volume = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)
    out = apply_window(volume, 11.5, 24)
    assert out.shape == volume.shape and out[0, 0, 0] < out[-1, -1, -1]


def test_auto_window_is_robust_to_outliers_and_nan():
    rng = np.random.default_rng(0)
    values = rng.normal(100, 10, 100_000).astype(np.float32)
    values[:50] = 1e9  # hot pixels
    values[50:100] = np.nan
    center, width = auto_window(values)
    assert 95 < center < 105
    assert 40 < width < 70
    assert auto_window(np.full((4, 4), 7)) == (7.0, 1.0)  # constant image
    assert auto_window(np.array([np.nan, np.inf])) == (0.0, 1.0)


def test_auto_window_on_a_large_volume_uses_its_whole_range():
    # speed is measured in benchmarks/, not asserted here
    volume = np.random.default_rng(1).integers(-1000, 2000, (200, 512, 512), dtype=np.int16)
    center, width = auto_window(volume, 1, 99)
    assert -1000 < center - width / 2 < -900 and 1900 < center + width / 2 < 2000


def test_default_window_order_of_preference():
    assert default_window(make_scan(np.zeros((4, 4)), modality="CT", window=(35, 90))) == (35, 90)
    assert default_window(make_scan(np.zeros((4, 4), np.int16), modality="CT")) == CT_PRESETS["abdomen"]
    rgb = make_scan(np.zeros((4, 4, 3), np.uint8), is_color=True)
    assert default_window(rgb) == (127.5, 256.0)
    mr = make_scan(np.linspace(0, 1000, 10_000).reshape(100, 100), modality="MR")
    center, width = default_window(mr)
    assert center == pytest.approx(500, abs=5) and width == pytest.approx(990, abs=5)
