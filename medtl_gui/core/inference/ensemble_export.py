"""Export an ensemble as ONE TorchScript or ONNX file (all members plus the combination) with a model card.

The exported network takes a float32 batch ``(n, channels, S, S)`` in
[0, 1], where ``S`` is the largest member image size, and returns the
ensemble's class probabilities. Inside, each member resizes the batch to
its own image size (bilinear, antialiased, as :meth:`Preprocessing.prepare`
does), normalises it with its own mean/std, applies its network and output
activation; the combination (mean, weighted mean or majority vote with the
members' thresholds) follows. The antialiased resize is written as two
matrix products (``R @ image @ R.T``, the matrix ``R`` being torch's own
antialiased bilinear resize of the unit vectors), because ONNX has no
antialiased resize at opset 17 (``aten::_upsample_bilinear2d_aa``): every
format exports it, with torch's numbers. When all members share one image size this is
exactly the ensemble's prediction; with mixed sizes, the smaller members see
a resize of the S-pixel input instead of a resize of the original image
(a small difference, see the model card). Test-time augmentation is not
part of the export.

After writing, the file is loaded back and its outputs are compared with
the ensemble's Python combination of the members' own outputs; a
difference above :data:`~medtl_gui.core.inference.export.TOLERANCE` is an
error.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from medtl_gui.core.data.preprocessing import Preprocessing
from medtl_gui.core.inference.ensemble import EnsembleModel, load_ensemble
from medtl_gui.core.inference.ensemble_combination import TIE_BREAK
from medtl_gui.core.inference.export import (
    EXPORT_FORMATS,
    FILE_NAMES,
    ExportError,
    ExportResult,
    ProbabilityModel,
    _example_batch,
    _require_onnx,
    staged_folder,
    write_card_files,
    write_checked,
)
from medtl_gui.core.inference.model_card import METRIC_KEYS, _metric_rows, intended_use


def resize_matrix(input_size: int, output_size: int) -> torch.Tensor:
    """``R`` (output x input) with ``R @ x == `` torch's antialiased bilinear resize of a column ``x``.

    Antialiased bilinear resizing is separable, so an image resizes as
    ``R @ image @ R.T``: plain matrix products that every export format holds.
    """
    # image k: row k all ones; its resize has R's column k in every column (R's rows sum to 1)
    basis = torch.eye(input_size, dtype=torch.float64).view(input_size, 1, input_size, 1)
    basis = basis.expand(input_size, 1, input_size, input_size).contiguous()
    resized = F.interpolate(basis, size=[output_size, output_size], mode="bilinear", align_corners=False,
                            antialias=True)
    return resized[:, 0, :, 0].t().contiguous().float()


class ResizedMember(nn.Module):
    """One member: resize to its image size (when it differs), then its :class:`ProbabilityModel`."""

    def __init__(self, member: ProbabilityModel, image_size: int, input_size: int):
        super().__init__()
        self.member = member
        self.image_size = image_size
        self.resize = image_size != input_size
        size = image_size if self.resize else input_size
        self.register_buffer("rows", resize_matrix(input_size, size) if self.resize else torch.eye(size))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The member's class probabilities."""
        if self.resize:  # antialiased bilinear resize as two matrix products (see resize_matrix)
            images = torch.matmul(torch.matmul(self.rows, images), self.rows.t()).clamp(0.0, 1.0)
        return self.member(images)


class EnsembleProbabilityModel(nn.Module):
    """All members and the combination in one module: [0, 1] images in, ensemble probabilities out."""

    def __init__(self, members: list[ResizedMember], weights: list[float], thresholds: list[float], vote: bool,
                 n_classes: int):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.register_buffer("weights", torch.tensor(weights, dtype=torch.float32).view(-1, 1, 1))
        self.register_buffer("thresholds", torch.tensor(thresholds, dtype=torch.float32).view(-1, 1))
        self.vote = vote
        self.n_classes = n_classes
        self.tie_break = TIE_BREAK

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Ensemble probabilities (n, classes)."""
        outputs = [member(images) for member in self.members]
        stacked = torch.stack(outputs, dim=0)
        if not self.vote:
            return (stacked * self.weights).sum(dim=0)
        if self.n_classes == 2:
            predicted = (stacked[:, :, 1] >= self.thresholds).long()
        else:
            predicted = stacked.argmax(dim=2)
        shares = F.one_hot(predicted, self.n_classes).float().mean(dim=0)
        return (shares + self.tie_break * stacked.mean(dim=0)) / (1.0 + self.tie_break)


def ensemble_module(ensemble: EnsembleModel) -> tuple[EnsembleProbabilityModel, int, int]:
    """The ensemble as one module (CPU, float32, eval) with its input size and channels."""
    channels = {m.preprocessing.in_channels for m in ensemble.members}
    if len(channels) != 1:
        raise ExportError(ensemble.run_dir, f"members take different channel counts {sorted(channels)}; a single "
                                            "exported file needs one input layout")
    input_size = max(m.preprocessing.image_size for m in ensemble.members)
    members = []
    for member in ensemble.members:
        model = member.model.to("cpu").float().eval()
        wrapper = ProbabilityModel(model, member.preprocessing.mean, member.preprocessing.std, member.head_kind)
        members.append(ResizedMember(wrapper, member.preprocessing.image_size, input_size))
    weights = list(ensemble.weights) if ensemble.combination == "weighted" else [1.0 / len(members)] * len(members)
    module = EnsembleProbabilityModel(members, weights, ensemble.member_thresholds, ensemble.combination == "vote",
                                      len(ensemble.class_names))
    return module.eval(), input_size, channels.pop()


def _expected(ensemble: EnsembleModel, module: EnsembleProbabilityModel, example: torch.Tensor) -> torch.Tensor:
    """The ensemble's Python combination of each member's own outputs on ``example``."""
    with torch.no_grad():
        member_outputs = np.stack([m(example).numpy().astype(np.float64) for m in module.members])
    return torch.from_numpy(ensemble.combine(member_outputs)).float()


def build_ensemble_card(ensemble: EnsembleModel, export: dict[str, Any], input_size: int,
                        channels: int) -> dict[str, Any]:
    """The ensemble's model card as a JSON-ready dict (members, combination, validation, use, limits)."""
    sizes = sorted({m.preprocessing.image_size for m in ensemble.members})
    members = []
    for member, weight, entry in zip(ensemble.members, ensemble.weights, ensemble.manifest["members"]):
        test = member.report.get("test") or {}
        members.append({
            "run_id": member.run_id, "model": member.config.model, "image_size": member.preprocessing.image_size,
            "checkpoint": member.checkpoint, "sha256": entry.get("sha256"), "seed": member.record.get("seed"),
            "weight": weight, "threshold": member.threshold, "pretrained": member.config.pretrained,
            "test": {k: test[k] for k in METRIC_KEYS if test.get(k) is not None} | (
                {"n": test["n"]} if test.get("n") is not None else {}),
        })
    limitations = [
        "Every limitation of the members applies (see their own model cards: medtl export --run MEMBER_RUN).",
        f"Outputs are limited to the classes {ensemble.class_names}.",
        "Members trained on the same images make correlated errors: an ensemble reduces variance, not the bias "
        "of the training data.",
    ]
    if len(sizes) > 1:
        limitations.append(f"Members use image sizes {sizes}: the exported file takes {input_size} px and resizes "
                           "for the smaller members (antialiased bilinear, as two matrix products), which differs "
                           "slightly from resizing the original image.")
    validation = ensemble.manifest.get("validation") or {}
    return {
        "model_card_version": 1,
        "name": f"ensemble {ensemble.run_id} ({len(members)} members, {ensemble.combination})",
        "export": export,
        "ensemble": {"combination": ensemble.combination,
                     "description": ensemble.manifest.get("combination_description"),
                     "weights": list(ensemble.weights), "weights_fitted": ensemble.manifest.get("weights_fitted"),
                     "members": members},
        "input": {"shape": ["batch", channels, input_size, input_size], "dtype": "float32", "range": "[0, 1]",
                  "preprocessing": "as for each member (grey values to [0, 1], bilinear antialiased resize); "
                                   "resizing to each member's size and mean/std are inside the exported model"},
        "output": {"kind": "class probabilities", "class_names": ensemble.class_names,
                   "decision_threshold": ensemble.threshold if len(ensemble.class_names) == 2 else None},
        "metrics": {"validation": validation},
        "intended_use": intended_use(ensemble.run_dir)[0],
        "scope": intended_use(ensemble.run_dir)[1],
        "limitations": limitations,
    }


def render_ensemble_card(card: dict[str, Any]) -> str:
    """The ensemble's card as Markdown."""
    ens, export, out = card["ensemble"], card.get("export") or {}, card["output"]
    lines = [f"# Model card: {card['name']}", ""]
    if export:
        lines += [f"Exported as **{export.get('format')}**: `{export.get('file')}` (sha256 `{export.get('sha256')}`); "
                  f"largest difference from the ensemble's own combination {export.get('max_abs_difference', 0):.2e} "
                  f"on {export.get('compared_on')}.", ""]
    lines += ["## Ensemble", "", f"- Combination: {ens['combination']} — {ens['description']}",
              f"- Input: float32 {card['input']['shape']} in [0, 1]; {card['input']['preprocessing']}.",
              f"- Output: class probabilities for {out['class_names']}"
              + (f"; decision threshold {out['decision_threshold']:.3f}." if out.get("decision_threshold") is not None
                 else "."), "",
              "| member run | model | px | seed | weight | test ACC | test AUC |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for m in ens["members"]:
        acc, auc = m["test"].get("accuracy"), m["test"].get("auc")
        lines.append(f"| {m['run_id']} | {m['model']} | {m['image_size']} | {m['seed']} | {m['weight']:.3f} | "
                     f"{'-' if acc is None else f'{acc:.4f}'} | {'-' if auc is None else f'{auc:.4f}'} |")
    validation = card["metrics"].get("validation") or {}
    if validation.get("ensemble"):
        lines += ["", f"Validation ({validation.get('n')} images, {validation.get('data')}):", "",
                  "| metric | value |", "| --- | --- |", *_metric_rows(validation["ensemble"])]
    lines += ["", "## Intended use", "", card["intended_use"], "",
              "## Limitations", "", *[f"- {item}" for item in card["limitations"]], ""]
    return "\n".join(lines)


def export_ensemble(folder: str | os.PathLike, fmt: str = "torchscript",
                    out_dir: str | os.PathLike | None = None) -> ExportResult:
    """Export an ensemble folder as one ``fmt`` file plus ``model_card.md``/``.json`` in ``out_dir``.

    ``out_dir`` defaults to ``<ensemble>/export``. Raises :class:`ExportError`
    like :func:`~medtl_gui.core.inference.export.export_run`.
    """
    if fmt not in EXPORT_FORMATS:
        raise ExportError(folder, f"unknown export format {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}")
    ensemble = load_ensemble(folder)
    out = Path(out_dir) if out_dir is not None else ensemble.run_dir / "export"
    target = out / FILE_NAMES[fmt]
    if fmt == "onnx":
        _require_onnx(target)
    module, input_size, channels = ensemble_module(ensemble)
    fake = SimpleNamespace(preprocessing=Preprocessing(input_size, channels, (0.0,) * channels, (1.0,) * channels))
    example = _example_batch(fake)  # type: ignore[arg-type]
    expected = _expected(ensemble, module, example)
    with staged_folder(out) as stage:  # a failure leaves nothing behind, not even an empty folder
        export_info = write_checked(module, example, expected, stage / target.name, fmt, "ensemble", target)
        card = build_ensemble_card(ensemble, export_info, input_size, channels)
        write_card_files(stage, card, render_ensemble_card(card))
    return ExportResult(fmt, target, out / "model_card.md", out / "model_card.json",
                        export_info["max_abs_difference"], card)
