"""Ensemble export with members of different input sizes: export-friendly resizing, and nothing half-written."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from conftest import run_cli
from medtl_gui.core.data.npz_source import load_npz_splits
from medtl_gui.core.data.synthetic import write_synthetic_npz
from medtl_gui.core.training import TrainConfig, train


@pytest.fixture(scope="module")
def mixed_ensemble(tmp_path_factory) -> Path:
    """An ensemble folder of two tiny baseline CNNs trained at 16 and 24 px (built with ``medtl ensemble``)."""
    folder = tmp_path_factory.mktemp("mixed")
    data = load_npz_splits(write_synthetic_npz(folder / "tiny.npz", n_train=16, n_val=8, n_test=8, size=24))
    for name, size in (("small", 16), ("large", 24)):
        config = TrainConfig(model="baseline_cnn", image_size=size, epochs=1, batch_size=8, precision="fp32")
        assert train(config, data, run_dir=folder / name).status == "completed"
    built = run_cli(["ensemble", "build", str(folder / "small"), str(folder / "large"), "--out",
                     str(folder / "ensemble")])
    assert built.returncode == 0, built.stderr
    return folder / "ensemble"


def test_resize_matrices_equal_torch_antialiased_resize() -> None:
    from medtl_gui.core.inference.ensemble_export import resize_matrix

    images = torch.rand(2, 3, 24, 24)
    for size in (16, 7):
        matrix = resize_matrix(24, size)
        expected = F.interpolate(images, size=[size, size], mode="bilinear", align_corners=False, antialias=True)
        assert (matrix @ images @ matrix.t() - expected).abs().max() < 1e-5


def test_mixed_sizes_export_without_antialiased_upsampling_and_match_the_ensemble(mixed_ensemble: Path,
                                                                                  tmp_path: Path) -> None:
    from medtl_gui.core.inference.ensemble import load_ensemble
    from medtl_gui.core.inference.ensemble_export import ensemble_module

    ensemble = load_ensemble(mixed_ensemble)
    module, input_size, _ = ensemble_module(ensemble)
    assert input_size == 24
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated upstream, still what exports use
        graph = str(torch.jit.trace(module, torch.rand(2, 1, 24, 24)).inlined_graph)
    assert "upsample" not in graph, "the exported graph needs no antialiased resize (absent from ONNX opset 17)"
    images = torch.rand(3, 1, 24, 24)
    with torch.no_grad():  # the small member sees torch's own antialiased resize of the input, within 1e-5
        small = ensemble.members[0]
        assert small.preprocessing.image_size == 16
        resized = F.interpolate(images, size=[16, 16], mode="bilinear", align_corners=False, antialias=True)
        assert (module.members[0](images) - module.members[0].member(resized.clamp(0, 1))).abs().max() < 1e-5
    done = run_cli(["export", "--run", str(mixed_ensemble), "--format", "torchscript", "--out",
                    str(tmp_path / "ts")])
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ts" / "model.torchscript.pt").is_file() and (tmp_path / "ts" / "model_card.md").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary folder left"


def test_onnx_export_of_mixed_sizes_works_or_is_refused_in_one_line_with_nothing_written(mixed_ensemble: Path,
                                                                                       tmp_path: Path) -> None:
    out = tmp_path / "onnx" / "export"
    done = run_cli(["export", "--run", str(mixed_ensemble), "--format", "onnx", "--out", str(out)])
    try:
        import onnx  # noqa: F401
    except ImportError:
        assert done.returncode == 2 and "needs the Python package 'onnx'" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert not (tmp_path / "onnx").exists(), "nothing is written when the export is refused"
        return
    assert done.returncode == 0, done.stderr  # checked against torch within the tolerance by the export itself
    assert (out / "model.onnx").is_file() and "onnx" in (out / "model_card.md").read_text().lower()


def test_an_exporter_failure_is_one_line_and_leaves_no_folder(mixed_ensemble: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from medtl_gui.core.inference import export
    from medtl_gui.core.inference.ensemble_export import export_ensemble

    def broken(*_args, **_kwargs):
        raise RuntimeError("Exporting the operator 'aten::something' is not supported\n" + "frame\n" * 300)

    monkeypatch.setattr(export, "_write_torchscript", broken)
    out = tmp_path / "new" / "export"
    with pytest.raises(export.ExportError) as failure:
        export_ensemble(mixed_ensemble, "torchscript", out)
    assert "\n" not in str(failure.value) and "aten::something" in str(failure.value)
    assert str(out / "model.torchscript.pt") in str(failure.value)
    assert not (tmp_path / "new").exists(), "no empty or half-written folder stays behind"
