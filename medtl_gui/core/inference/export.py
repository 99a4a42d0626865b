"""Export a run's model as TorchScript or ONNX, with a model card, checked against the run's model.

The exported network takes a float32 batch ``(n, channels, size, size)``
in [0, 1] (the output of :meth:`Preprocessing.prepare`) and returns class
probabilities (or regression values): mean/std normalisation and the
sigmoid/softmax are part of it, so a deployment only has to prepare
pixels. After writing, the file is loaded back and its outputs are compared
with the run's own model in float32; a difference above the tolerance is
an error, not a warning.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from medtl_gui.core.tasks import can
from medtl_gui.core.project.atomic_files import sha256_file
from medtl_gui.core.inference.model_card import build_model_card, render_model_card
from medtl_gui.core.inference.trained_model import TrainedModel, load_trained_model
from medtl_gui.core.runs import RunRecord

EXPORT_FORMATS = {
    "torchscript": "TorchScript (torch.jit.script), loads with torch.jit.load in C++ or Python, no MedTL needed",
    "onnx": "ONNX (opset 17), for ONNX Runtime and other inference engines; needs the 'onnx' package",
}
FILE_NAMES = {"torchscript": "model.torchscript.pt", "onnx": "model.onnx"}
ONNX_OPSET = 17
#: largest allowed difference between exported and original outputs (probabilities)
TOLERANCE = 1e-4


class ExportError(Exception):
    """An export that cannot be made or does not reproduce the run's model; names the file and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ProbabilityModel(nn.Module):
    """The trained network with its input normalisation and output activation built in."""

    def __init__(self, model: nn.Module, mean: tuple[float, ...], std: tuple[float, ...], head_kind: str):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        self.head_kind = head_kind

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Probabilities (binary: [p(class 0), p(class 1)]; multiclass: softmax) or values."""
        outputs = self.model((images - self.mean) / self.std)
        if self.head_kind == "binary":
            positive = torch.sigmoid(outputs[:, 0])
            return torch.stack([1.0 - positive, positive], dim=1)
        if self.head_kind == "multiclass":
            return torch.softmax(outputs, dim=1)
        return outputs


@dataclass
class ExportResult:
    """What :func:`export_run` wrote and how well the export reproduces the run's model."""

    format: str
    model_path: Path
    card_markdown: Path
    card_json: Path
    max_abs_difference: float
    card: dict[str, Any]


@contextlib.contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A temporary folder beside ``out`` whose files move into ``out`` only when the block succeeds.

    On any failure nothing half-written stays behind: the temporary folder
    goes, and so do the folders (``out`` and missing parents) made for it.
    """
    out = Path(out)
    missing = [p for p in (out, *out.parents) if not p.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    done = False
    try:
        yield stage
        out.mkdir(parents=True, exist_ok=True)
        for path in stage.iterdir():
            os.replace(path, out / path.name)
        done = True
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if not done:
            for folder in missing:  # innermost first
                with contextlib.suppress(OSError):
                    folder.rmdir()


def _require_onnx(target: Path):
    try:
        import onnx
    except ImportError as exc:
        raise ExportError(target, "ONNX export needs the Python package 'onnx', which is not installed "
                                  "(pip install onnx); --format torchscript works without it") from exc
    return onnx


def write_checked(module: torch.nn.Module, example: torch.Tensor, expected: torch.Tensor, target: Path, fmt: str,
                  source: str, final: Path | None = None) -> dict:
    """Write ``module`` as ``fmt`` to ``target``, run the file on ``example`` and compare with ``expected``.

    ``ExportError`` (naming ``final``, where the file is meant to end up, default ``target``) when the
    exporter fails or the file's outputs differ by more than ``TOLERANCE``; else the ``export_info``
    record for the model card. ``source`` names what was exported ("run", "ensemble").
    """
    named = final or target
    try:
        exported = (_write_torchscript if fmt == "torchscript" else _write_onnx)(module, example, target)
    except ExportError:
        raise
    except Exception as exc:  # noqa: BLE001 - an exporter's own failure (e.g. an operator the format lacks)
        first = " ".join(str(exc).split("\n")[0].split())[:300] or type(exc).__name__
        raise ExportError(named, f"the {fmt} exporter failed: {first}") from exc
    difference = float((exported.float() - expected).abs().max())
    if not difference <= TOLERANCE:
        raise ExportError(named, f"the exported model's outputs differ from the {source}'s by {difference:.3g} "
                                  f"(tolerance {TOLERANCE})")
    return {"format": fmt, "file": target.name, "sha256": sha256_file(target), "max_abs_difference": difference,
            "compared_on": f"{len(example)} test inputs", "description": EXPORT_FORMATS[fmt]}


def _write_torchscript(wrapper: ProbabilityModel, example: torch.Tensor, target: Path) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated upstream but still supported
        try:
            scripted = torch.jit.script(wrapper)
        except Exception:  # noqa: BLE001 - an architecture TorchScript cannot compile: trace it instead
            scripted = torch.jit.trace(wrapper, example)
        scripted.save(str(target))
        loaded = torch.jit.load(str(target), map_location="cpu")
    with torch.no_grad():
        return loaded(example)


def _write_onnx(wrapper: ProbabilityModel, example: torch.Tensor, target: Path) -> torch.Tensor:
    onnx = _require_onnx(target)
    from onnx.reference import ReferenceEvaluator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter warns that it is the legacy path
        torch.onnx.export(wrapper, (example,), str(target), dynamo=False, opset_version=ONNX_OPSET,
                          input_names=["images"], output_names=["outputs"],
                          dynamic_axes={"images": {0: "batch"}, "outputs": {0: "batch"}})
    model = onnx.load(str(target))
    onnx.checker.check_model(model)
    with np.errstate(over="ignore", invalid="ignore"):  # the reference sigmoid overflows on large logits
        outputs = ReferenceEvaluator(model).run(None, {"images": example.numpy()})[0]
    return torch.from_numpy(np.asarray(outputs))


def _example_batch(trained: TrainedModel, seed: int = 0) -> torch.Tensor:
    """Two image-like [0, 1] inputs (deterministic): a grey ramp, and mid-grey with a bright disc and noise."""
    prep = trained.preprocessing
    size = prep.image_size
    generator = torch.Generator().manual_seed(seed)
    ramp = (0.2 + 0.6 * torch.linspace(0, 1, size)).view(1, 1, 1, -1).expand(1, prep.in_channels, size, size)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    disc = ((yy - size / 3) ** 2 + (xx - size / 2) ** 2 < (size / 5) ** 2).float()
    noise = 0.05 * torch.randn((1, prep.in_channels, size, size), generator=generator)
    blob = (0.45 + 0.35 * disc + noise).clamp(0, 1)
    return torch.cat([ramp, blob]).contiguous()


def export_run(run_dir: str | os.PathLike, fmt: str = "torchscript", out_dir: str | os.PathLike | None = None,
               checkpoint: str = "best") -> ExportResult:
    """Export a run's model as ``fmt`` with ``model_card.md`` and ``model_card.json`` into ``out_dir``.

    ``out_dir`` defaults to ``<run>/export``. Raises :class:`ExportError`
    when the format cannot be written (e.g. ``onnx`` missing) or the export
    does not reproduce the run's outputs within ``TOLERANCE``. An ensemble
    folder is exported as one file holding every member and the combination
    (see :mod:`medtl_gui.core.inference.ensemble_export`). The checkpoint
    is verified before it is exported: a damaged or missing one raises
    :class:`~medtl_gui.core.training.checkpoint_integrity.CheckpointError`.
    """
    if RunRecord(run_dir).is_ensemble:
        from medtl_gui.core.inference.ensemble_export import export_ensemble

        return export_ensemble(run_dir, fmt, out_dir)
    if fmt not in EXPORT_FORMATS:
        raise ExportError(run_dir, f"unknown export format {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}")
    task = RunRecord.existing(run_dir).task
    if not can(task, "export"):
        raise ExportError(run_dir, f"{task} runs cannot be exported yet (whole images need the run's "
                                   "sliding windows and input preparation); predict with 'medtl predict --run' "
                                   "or Train > Apply model instead")
    trained = load_trained_model(run_dir, checkpoint)
    out = Path(out_dir) if out_dir is not None else trained.run_dir / "export"
    target = out / FILE_NAMES[fmt]
    if fmt == "onnx":
        _require_onnx(target)
    model = trained.model.to("cpu").float().eval()
    wrapper = ProbabilityModel(model, trained.preprocessing.mean, trained.preprocessing.std, trained.head_kind).eval()
    example = _example_batch(trained)
    with torch.no_grad():
        expected = wrapper(example)
    with staged_folder(out) as stage:  # a failure leaves nothing behind
        export_info = write_checked(wrapper, example, expected, stage / target.name, fmt, "run", target)
        card = build_model_card(trained, export_info)
        write_card_files(stage, card, render_model_card(card))
    return ExportResult(fmt, target, out / "model_card.md", out / "model_card.json", export_info["max_abs_difference"],
                        card)


def write_card_files(folder: Path, card: dict, markdown: str) -> None:
    """``model_card.json`` and ``model_card.md`` in ``folder``."""
    (folder / "model_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    (folder / "model_card.md").write_text(markdown, encoding="utf-8")
