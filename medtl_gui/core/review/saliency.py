"""Grad-CAM and Grad-CAM++ heat-maps for any zoo classifier.

Grad-CAM (Selvaraju et al. 2017) weighs the activation maps of the last
convolutional stage by the spatially averaged gradient of the class score
and keeps the positive part; Grad-CAM++ (Chattopadhay et al. 2018) weighs
each gradient position with second/third-order terms, which localises
several instances of a class better.

The hooked layer is found generically: the last backbone *stage* (a named
child of :class:`TransferModel.backbone` with parameters, see
``TransferModel.stages``) whose output is a 4-D feature map with more than
one position (at tiny inputs a stage may shrink to 1x1; then the last 4-D
stage is used). That is ``layer4`` of ResNets, ``block4`` of DenseNet,
EfficientNet, MobileNets and the baseline CNN, ``stage4`` of ConvNeXt,
``conv3_5`` of AlexNet and the pooled 5x5 map inside ``conv2`` of LeNet-5.

The class score is the logit for multiclass heads; for a binary head (one
logit for class 1) it is the logit for class 1 and minus the logit for
class 0. The map is returned at the resolution of the image (or of the
input tensor), as float32 in [0, 1] (divided by its maximum; all zeros
when nothing speaks for the class).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: saliency methods by name
SALIENCY_METHODS = ("gradcam", "gradcam++")


@dataclass
class SaliencyMap:
    """A heat-map explaining one class decision.

    ``heatmap``: float32 (H, W) in [0, 1]; ``class_index``/``class_name``:
    the explained class; ``probabilities``: the model's class probabilities
    for the image; ``layer``: the backbone stage that was hooked.
    """

    heatmap: np.ndarray
    class_index: int
    class_name: str | None
    probabilities: np.ndarray
    method: str
    layer: str


def _stage_names(model: Any) -> list[str]:
    return [name for name, _ in model.stages() if name != "head"]


def _capture_stages(model: Any, inputs: Any) -> tuple[Any, dict[str, Any]]:
    """Run the model, keeping each backbone stage's spatial output; returns (logits, outputs by name).

    A stage whose own output is flat (e.g. LeNet-5's ``conv2`` ends with
    a ``Flatten``) is represented by the last 4-D output of a module inside
    it, named ``stage.sub.module``.
    """
    recorded: dict[str, list[tuple[str, Any]]] = {}
    handles = []
    modules = dict(model.backbone.named_children())
    for stage in _stage_names(model):
        recorded[stage] = []
        for sub_name, module in modules[stage].named_modules():
            name = f"{stage}.{sub_name}" if sub_name else stage
            handles.append(module.register_forward_hook(
                lambda _m, _i, out, name=name, stage=stage: recorded[stage].append((name, out))))
    try:
        logits = model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    outputs: dict[str, Any] = {}
    for stage, seen in recorded.items():
        whole = [out for name, out in seen if name == stage]
        if whole and getattr(whole[-1], "ndim", 0) == 4:
            outputs[stage] = whole[-1]
            continue
        inner = [(name, out) for name, out in seen if name != stage and getattr(out, "ndim", 0) == 4]
        if inner:
            outputs[inner[-1][0]] = inner[-1][1]
        elif whole:
            outputs[stage] = whole[-1]
    return logits, outputs


def target_stage(model: Any, outputs: dict[str, Any], layer: str | None = None) -> str:
    """The stage output to explain: ``layer`` when given, else the last spatial map with more than one position."""
    if layer is not None:
        if layer not in outputs:
            raise ValueError(f"{model.architecture} has no backbone stage {layer!r}; stages: {', '.join(outputs)}")
        if outputs[layer].ndim != 4:
            raise ValueError(f"stage {layer!r} of {model.architecture} has no spatial feature map")
        return layer
    spatial = [name for name, out in outputs.items() if out.ndim == 4]
    if not spatial:
        raise ValueError(f"{model.architecture} has no convolutional stage to explain")
    larger = [name for name in spatial if outputs[name].shape[2] * outputs[name].shape[3] > 1]
    return (larger or spatial)[-1]


def class_scores(logits: Any, head_kind: str, class_index: Any) -> Any:
    """The score per image of class ``class_index`` (a tensor of indices) from the head's logits."""
    import torch

    if head_kind == "binary":
        sign = torch.where(class_index == 1, 1.0, -1.0).to(logits.dtype)
        return logits[:, 0] * sign
    if head_kind == "multiclass":
        return logits.gather(1, class_index.view(-1, 1))[:, 0]
    raise ValueError("saliency needs a classifier (binary or multiclass head), not a regression model")


def _cam_weights(activations: Any, gradients: Any, method: str) -> Any:
    if method == "gradcam":
        return gradients.mean(dim=(2, 3), keepdim=True)
    if method == "gradcam++":
        g2 = gradients ** 2
        g3 = g2 * gradients
        sum_activations = activations.sum(dim=(2, 3), keepdim=True)
        denominator = 2 * g2 + sum_activations * g3
        alpha = g2 / torch_where_nonzero(denominator)
        alpha = alpha * (gradients != 0)
        return (alpha * gradients.clamp(min=0)).sum(dim=(2, 3), keepdim=True)
    raise ValueError(f"unknown saliency method {method!r}; expected one of {', '.join(SALIENCY_METHODS)}")


def torch_where_nonzero(values: Any, eps: float = 1e-12) -> Any:
    """``values`` with exact zeros replaced by ``eps`` (safe denominators)."""
    import torch

    return torch.where(values == 0, torch.full_like(values, eps), values)


def explain_tensor(model: Any, inputs: Any, class_index: int | Sequence[int] | None = None, *,
                   method: str = "gradcam", layer: str | None = None, output_size: tuple[int, int] | None = None,
                   threshold: float = 0.5) -> list[SaliencyMap]:
    """Heat-maps for a normalised batch ``inputs`` (n, C, S, S) on ``model``'s device (a :class:`TransferModel`).

    ``class_index``: one class for every image, one per image, or None for
    the predicted class (binary: probability of class 1 >= ``threshold``).
    ``output_size``: (H, W) of the returned maps (default: the input's).
    The model is left in eval mode and its gradients untouched.
    """
    import torch
    import torch.nn.functional as F

    from medtl_gui.core.training.losses import output_probabilities

    if method not in SALIENCY_METHODS:
        raise ValueError(f"unknown saliency method {method!r}; expected one of {', '.join(SALIENCY_METHODS)}")
    if inputs.ndim != 4:
        raise ValueError(f"inputs must be a batch (n, channels, height, width), got shape {tuple(inputs.shape)}")
    model.eval()
    with torch.enable_grad():
        inputs = inputs.detach().float().requires_grad_(True)
        logits, outputs = _capture_stages(model, inputs)
        probabilities = output_probabilities(logits.detach(), model.head_kind)
        if model.head_kind == "regression":
            raise ValueError("saliency needs a classifier (binary or multiclass head), not a regression model")
        n = inputs.shape[0]
        if class_index is None:
            if model.head_kind == "binary":
                chosen = (probabilities[:, 1] >= threshold).long()
            else:
                chosen = probabilities.argmax(dim=1)
        else:
            chosen = torch.as_tensor(class_index, dtype=torch.long, device=logits.device).reshape(-1)
            chosen = chosen.expand(n) if chosen.numel() == 1 else chosen
            n_classes = probabilities.shape[1]
            if chosen.numel() != n or bool(((chosen < 0) | (chosen >= n_classes)).any()):
                raise ValueError(f"class index {class_index} is not one per image in 0..{n_classes - 1}")
        stage = target_stage(model, outputs, layer)
        activations = outputs[stage]
        gradients, = torch.autograd.grad(class_scores(logits, model.head_kind, chosen).sum(), activations)
    activations, gradients = activations.detach().float(), gradients.detach().float()
    weights = _cam_weights(activations, gradients, method)
    cams = F.relu((weights * activations).sum(dim=1, keepdim=True))
    size = output_size or tuple(inputs.shape[2:])
    cams = F.interpolate(cams, size=size, mode="bilinear", align_corners=False)[:, 0].clamp_(min=0)
    peaks = cams.flatten(1).max(dim=1).values.view(-1, 1, 1)
    cams = torch.where(peaks > 0, cams / torch_where_nonzero(peaks), torch.zeros_like(cams))
    cams_np = np.nan_to_num(cams.cpu().numpy().astype(np.float32), nan=0.0).clip(0.0, 1.0)
    probs_np = probabilities.cpu().numpy().astype(np.float64)
    return [SaliencyMap(cams_np[i], int(chosen[i]), None, probs_np[i], method, stage) for i in range(n)]



def resolve_class(trained: Any, class_choice: int | str | None) -> int | None:
    """A class index from an index, a class name of the run, or None (predicted)."""
    if class_choice is None:
        return None
    names = list(trained.class_names)
    if isinstance(class_choice, str) and not class_choice.lstrip("-").isdigit():
        if class_choice not in names:
            raise ValueError(f"{trained.run_dir}: the run has no class {class_choice!r} (classes: {', '.join(names)})")
        return names.index(class_choice)
    index = int(class_choice)
    if not 0 <= index < len(names):
        raise ValueError(f"{trained.run_dir}: class index {index} is outside 0..{len(names) - 1}")
    return index


def explain_image(trained: Any, image: Any, class_choice: int | str | None = None, *, method: str = "gradcam",
                  device: str = "cpu", layer: str | None = None) -> SaliencyMap:
    """The heat-map of a run (``TrainedModel``) for one image (``Scan`` or pixel array), at the image's resolution.

    ``class_choice``: class index or name; None explains the predicted
    class (with the run's decision threshold). The image's displayed plane
    (middle slice of a volume) is what the model sees and what the map covers.
    """
    import torch

    from medtl_gui.core.data.preprocessing import select_plane
    from medtl_gui.core.training.device import select_device

    plane, _ = select_plane(np.asarray(image.pixels if hasattr(image, "pixels") else image))
    prep = trained.preprocessing
    tensor = prep.normalise(prep.prepare(image)).unsqueeze(0)
    torch_device = select_device(device)[0]
    model = trained.model.to(torch_device)
    result = explain_tensor(model, tensor.to(torch_device), resolve_class(trained, class_choice), method=method,
                            layer=layer, output_size=(int(plane.shape[0]), int(plane.shape[1])),
                            threshold=trained.threshold)[0]
    if trained.class_names:
        result.class_name = trained.class_names[result.class_index]
    return result
