"""Freezing stages and building per-stage (discriminative) optimiser parameter groups."""

from __future__ import annotations

from torch import nn

from medtl_gui.core.models.transfer_model import TransferModel

_NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)


def apply_trainable_stages(model: TransferModel, first_trainable: int) -> list[str]:
    """Set ``requires_grad`` so that stages ``first_trainable`` ... head train; returns their names."""
    trainable = []
    for index, (name, stage) in enumerate(model.stages()):
        train_it = index >= first_trainable
        for parameter in stage.parameters():
            parameter.requires_grad_(train_it)
        if train_it:
            trainable.append(name)
    return trainable


def set_training_mode(model: TransferModel, first_trainable: int) -> None:
    """``model.train()``, but frozen stages stay in eval mode (batch-norm statistics frozen too)."""
    model.train()
    for index, (_, stage) in enumerate(model.stages()):
        if index < first_trainable:
            stage.eval()


def _is_no_decay(module: nn.Module, parameter_name: str) -> bool:
    return isinstance(module, _NORM_TYPES) or parameter_name == "bias"


def stage_parameter_groups(
    model: TransferModel,
    lr: float,
    lr_decay: float,
    weight_decay: float,
    backbone_weight_decay: bool = True,
) -> list[dict]:
    """One or two optimiser groups per stage, head first at ``lr``.

    Stage ``i`` of ``n`` (head = ``n - 1``) gets ``lr * lr_decay ** (n - 1 - i)``.
    Biases and normalisation parameters get no weight decay; with
    ``backbone_weight_decay=False`` (L2-SP) no backbone parameter does.
    Every parameter is in a group even while frozen, so unfreezing later
    needs no new optimiser.
    """
    stages = model.stages()
    n = len(stages)
    groups: list[dict] = []
    for index, (name, stage) in enumerate(stages):
        stage_lr = lr * lr_decay ** (n - 1 - index)
        decay, no_decay = [], []
        for module in stage.modules():
            for parameter_name, parameter in module.named_parameters(recurse=False):
                (no_decay if _is_no_decay(module, parameter_name) else decay).append(parameter)
        allow_decay = backbone_weight_decay or name == "head"
        for params, wd, suffix in ((decay, weight_decay if allow_decay else 0.0, ""), (no_decay, 0.0, ":no_decay")):
            if params:
                groups.append({"params": params, "lr": stage_lr, "weight_decay": wd, "stage": name + suffix})
    return groups
