"""`medtl-gui --self-test` / `medtl self-test` in a source checkout: report lines, failures, bundled data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medtl_gui.selftest import FAIL, PASS, SKIP, format_report, run_self_test
from medtl_gui.selftest.checks import check_bundled_weights, check_codecs
from medtl_gui.selftest.samples import SAMPLES_MANIFEST, phantom, read_samples_manifest, write_codec_samples


@pytest.fixture(scope="module")
def samples_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("samples")
    write_codec_samples(folder)
    return folder


def make_weights_bundle(folder: Path) -> Path:
    """An app data folder whose bundled weight store (manifest + one safetensors file) the build would make."""
    import torch

    from medtl_gui.core.models.builder import build_small_model
    from medtl_gui.core.models.weights import WeightStore

    torch.manual_seed(0)
    state = build_small_model("baseline_cnn", 1).backbone.state_dict()
    WeightStore(folder / "weights", hub_dirs=[]).add_state_dict("tiny-test", "baseline_cnn", state,
                                                                  source="test", layout="medtl-backbone")
    return folder


def test_every_transfer_syntax_sample_is_written_and_decodes_to_the_phantom(samples_dir: Path) -> None:
    samples, skipped = read_samples_manifest(samples_dir)
    syntaxes = {s.transfer_syntax for s in samples} | {s["transfer_syntax"] for s in skipped}
    assert {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.5",
            "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80",
            "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"} <= syntaxes
    assert skipped == [], skipped  # every encoder is a dependency of MedTL
    results = check_codecs(samples_dir)
    assert [r.status for r in results] == [PASS] * len(samples), format_report(results)
    assert any("exact" in r.detail for r in results) and any("lossy" in r.detail for r in results)


def test_a_sample_that_decodes_to_wrong_pixels_is_a_failure_naming_the_file(samples_dir: Path, tmp_path: Path) -> None:
    import pydicom

    broken = tmp_path / "samples"
    broken.mkdir()
    for path in samples_dir.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    ds = pydicom.dcmread(broken / "explicit_le.dcm")
    ds.PixelData = (phantom(16) // 2).astype("<u2").tobytes()
    ds.save_as(broken / "explicit_le.dcm")
    results = {r.name: r for r in check_codecs(broken)}
    failed = results["Explicit VR Little Endian"]
    assert failed.status == FAIL and "explicit_le.dcm" in failed.detail and "mean error" in failed.detail
    assert results["JPEG 2000 Lossless"].status == PASS


def test_missing_samples_manifest_is_one_clear_failure(tmp_path: Path) -> None:
    results = check_codecs(tmp_path)
    assert len(results) == 1 and results[0].status == FAIL and SAMPLES_MANIFEST in results[0].detail


def test_bundled_weights_are_verified_and_a_tampered_file_fails(tmp_path: Path) -> None:
    bundle = make_weights_bundle(tmp_path)
    assert [r.status for r in check_bundled_weights(bundle / "weights")] == [PASS]
    assert check_bundled_weights(None)[0].detail == "none bundled with this build"
    manifest = json.loads((bundle / "weights" / "manifest.json").read_text())
    weights_file = bundle / "weights" / manifest["entries"][0]["file"]
    data = bytearray(weights_file.read_bytes())
    data[-1] ^= 0xFF
    weights_file.write_bytes(bytes(data))
    result = check_bundled_weights(bundle / "weights")[0]
    assert result.status == FAIL and "SHA-256 mismatch" in result.detail and weights_file.name in result.detail


def test_bundled_weights_are_installed_into_the_user_store_once(tmp_path: Path, monkeypatch) -> None:
    from medtl_gui.core.models.weights import WeightStore
    from medtl_gui.selftest.bundle import install_bundled_weights

    monkeypatch.setenv("MEDTL_BUNDLE_DIR", str(make_weights_bundle(tmp_path / "app")))
    user_store = tmp_path / "user-weights"
    assert install_bundled_weights(user_store) == ["tiny-test"]
    entry = WeightStore(user_store, hub_dirs=[]).find("tiny-test")
    assert entry is not None and "bundled with MedTL" in entry.imported_from
    WeightStore(user_store, hub_dirs=[]).verify(entry)
    assert install_bundled_weights(user_store) == []  # already there: nothing copied again


def test_cli_self_test_without_gui_passes_and_prints_one_line_per_check(capsys: pytest.CaptureFixture) -> None:
    from medtl_gui.cli import main

    assert main(["self-test", "--no-gui"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[-1].startswith("self-test OK") and "source edition" in lines[-1]
    for expected in ("import   torch", "codec    JPEG 2000 Lossless", "train    one CPU training step",
                     "weights  bundled weights", "network  no network access"):
        assert any(expected in line and line.startswith(PASS) for line in lines), expected
    assert not any(line.startswith(FAIL) for line in lines)


def test_self_test_with_the_window_passes_offscreen(qtbot, isolated_settings) -> None:
    results = run_self_test(gui=True)
    report = format_report(results)
    assert not any(r.failed for r in results), report
    window_line = next(r for r in results if r.name == "main window opens and closes")
    assert window_line.status == PASS and "offscreen" in window_line.detail
    assert {r.status for r in results} <= {PASS, SKIP}
    assert "medtl_gui (with GUI)" in report


def test_a_failing_check_makes_the_exit_code_1(tmp_path: Path, monkeypatch, capsys: pytest.CaptureFixture) -> None:
    from medtl_gui.selftest import main

    bundle = make_weights_bundle(tmp_path / "app")
    manifest = json.loads((bundle / "weights" / "manifest.json").read_text())
    (bundle / "weights" / manifest["entries"][0]["file"]).write_bytes(b"not the bundled weights")
    monkeypatch.setenv("MEDTL_BUNDLE_DIR", str(bundle))
    assert main(gui=False) == 1
    out = capsys.readouterr().out
    assert "FAIL  weights  tiny-test" in out and out.strip().splitlines()[-1].startswith("self-test FAILED")


def test_the_gui_entry_point_runs_the_self_test_with_the_window_and_returns_its_code(monkeypatch) -> None:
    import medtl_gui.selftest
    from medtl_gui.gui.app import main as gui_main

    calls = []
    monkeypatch.setattr(medtl_gui.selftest, "main", lambda gui: calls.append(gui) or 1)
    assert gui_main(["--self-test"]) == 1 and calls == [True]


def test_phantom_is_deterministic_and_uses_its_bit_depth() -> None:
    assert np.array_equal(phantom(16), phantom(16))
    assert phantom(8).dtype == np.uint8 and phantom(16).max() <= 4095 and phantom(16).max() > 255


def test_installer_bundles_listed_weights_verified_and_names_missing_ones(tmp_path: Path) -> None:
    import importlib.util

    from medtl_gui.core.models.weights import WeightStore

    script = Path(__file__).resolve().parents[1] / "installer" / "bundle_weights.py"
    spec = importlib.util.spec_from_file_location("bundle_weights", script)
    bundle_weights = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bundle_weights)
    source = make_weights_bundle(tmp_path / "source") / "weights"  # a weight store, as after `medtl weights download`
    listing = tmp_path / "weights.txt"
    listing.write_text("# bundled\ntiny-test   # a comment\n\nresnet18-f37072fd\n")
    assert bundle_weights.read_weights_list(listing) == ["tiny-test", "resnet18-f37072fd"]
    problems = bundle_weights.bundle(["tiny-test", "resnet18-f37072fd"], source, tmp_path / "app" / "weights")
    assert len(problems) == 1 and problems[0].startswith("resnet18-f37072fd: not found")
    assert [r.status for r in check_bundled_weights(tmp_path / "app" / "weights")] == [PASS]
    entry = WeightStore(tmp_path / "app" / "weights", hub_dirs=[]).find("tiny-test")
    assert entry.architecture == "baseline_cnn" and entry.layout == "medtl-backbone"


def test_frozen_builds_load_data_in_the_main_process(monkeypatch) -> None:
    import sys

    from medtl_gui.core.training.device import loader_workers

    assert loader_workers(3) == 3
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert loader_workers(3) == 0


def test_automatic_loader_workers_are_none_on_a_cpu_and_several_on_a_gpu(monkeypatch) -> None:
    import os

    from medtl_gui.core.training import device as device_module
    from medtl_gui.core.training.device import AUTO_GPU_WORKERS, loader_workers

    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert loader_workers(None, "cpu") == 0 and loader_workers(None) == 0
    assert loader_workers(2, "cpu") == 2  # an explicit setting wins
    monkeypatch.setattr(device_module.platform, "system", lambda: "Linux")
    assert loader_workers(None, "cuda:0") == AUTO_GPU_WORKERS
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert loader_workers(None, "cuda") == 2  # two cores stay for the training process and the system
    monkeypatch.setattr(device_module.platform, "system", lambda: "Windows")
    assert loader_workers(None, "cuda") == 0  # no automatic workers where processes do not fork
