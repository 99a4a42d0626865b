"""Domain-specific batch normalisation (DSBN): one set of BN statistics per domain.

:func:`convert_to_dsbn` swaps every ``BatchNorm2d`` of a network (in place)
for a :class:`DomainSpecificBatchNorm2d`: the module itself is the *source*
BN (its parameters and buffers keep their plain names, so a source-only
state dict loads into a plain network) and it owns a ``target_bn`` child,
initialised as a copy, for the target domain. :func:`route_domain` selects
which BN every DSBN layer uses (source by default).

With unlabelled target images only the target *statistics* can be learnt,
so the target BN shares the source BN's affine weight and bias
(``share_affine=True``, the default); with ``share_affine=False`` the
target BN has its own affine parameters, to be trained by a target loss.

:func:`plain_state_dict` turns a DSBN network's state into the state of the
plain network for one domain (source or target), which is what run
checkpoints store at the end of a DSBN run.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

SOURCE = 0
TARGET = 1
#: domain index by name
DOMAIN_INDEX = {"source": SOURCE, "target": TARGET}
#: state-dict key fragment of the target BN inside a DSBN layer
TARGET_KEY = "target_bn."


class DomainSpecificBatchNorm2d(nn.BatchNorm2d):
    """A ``BatchNorm2d`` (the source domain's) plus a ``target_bn`` for the target domain.

    ``domain`` (``SOURCE`` or ``TARGET``) says which statistics the next
    forward pass uses and updates.
    """

    def __init__(self, bn: nn.BatchNorm2d, share_affine: bool = True):
        super().__init__(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats,
                         device=bn.weight.device if bn.weight is not None else None,
                         dtype=bn.weight.dtype if bn.weight is not None else None)
        self.load_state_dict(bn.state_dict())
        self.train(bn.training)
        self.share_affine = share_affine
        self.target_bn = copy.deepcopy(bn)
        if share_affine and self.affine:
            # the target BN uses the source's weight and bias (see forward); keep no copies of them
            del self.target_bn.weight
            del self.target_bn.bias
            self.target_bn.register_parameter("weight", None)
            self.target_bn.register_parameter("bias", None)
            self.target_bn.affine = False
        self.domain = SOURCE

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Normalise with the current domain's statistics."""
        if self.domain == SOURCE:
            return super().forward(inputs)
        target = self.target_bn
        if not self.share_affine or not self.affine:
            return target(inputs)
        use_batch_stats = target.training or target.running_mean is None
        momentum = 0.0 if target.momentum is None else target.momentum
        if target.training and target.track_running_stats and target.num_batches_tracked is not None:
            target.num_batches_tracked.add_(1)
            if target.momentum is None:
                momentum = 1.0 / float(target.num_batches_tracked)
        return nn.functional.batch_norm(
            inputs,
            target.running_mean if not target.training or target.track_running_stats else None,
            target.running_var if not target.training or target.track_running_stats else None,
            self.weight, self.bias, use_batch_stats, momentum, target.eps,
        )


def convert_to_dsbn(model: nn.Module, share_affine: bool = True) -> int:
    """Swap every ``BatchNorm2d`` in ``model`` for a DSBN layer (in place); returns how many."""
    count = 0
    for parent in list(model.modules()):
        if isinstance(parent, DomainSpecificBatchNorm2d):
            continue  # already converted
        for name, child in list(parent.named_children()):
            if type(child) is nn.BatchNorm2d:
                setattr(parent, name, DomainSpecificBatchNorm2d(child, share_affine))
                count += 1
    return count


def dsbn_layers(model: nn.Module) -> list[DomainSpecificBatchNorm2d]:
    """The DSBN layers of ``model`` in module order."""
    return [m for m in model.modules() if isinstance(m, DomainSpecificBatchNorm2d)]


def has_dsbn(model: nn.Module) -> bool:
    """Whether ``model`` contains DSBN layers."""
    return any(isinstance(m, DomainSpecificBatchNorm2d) for m in model.modules())


def set_domain(model: nn.Module, domain: int | str) -> None:
    """Route every DSBN layer of ``model`` to ``domain`` ("source"/"target" or 0/1)."""
    index = DOMAIN_INDEX[domain] if isinstance(domain, str) else int(domain)
    if index not in (SOURCE, TARGET):
        raise ValueError(f"domain must be source (0) or target (1), got {domain!r}")
    for layer in dsbn_layers(model):
        layer.domain = index


@contextmanager
def route_domain(model: nn.Module, domain: int | str) -> Iterator[None]:
    """Use ``domain``'s BN layers inside the block, then go back to the source ones."""
    set_domain(model, domain)
    try:
        yield
    finally:
        set_domain(model, SOURCE)


def plain_state_dict(state: dict[str, torch.Tensor], domain: int | str) -> dict[str, torch.Tensor]:
    """The plain (no-DSBN) network's state dict for ``domain`` from a DSBN network's state dict.

    Source: the DSBN layers' own entries, ``target_bn`` entries dropped.
    Target: each layer's ``target_bn`` statistics (and affine parameters if
    not shared) replace the source ones.
    """
    index = DOMAIN_INDEX[domain] if isinstance(domain, str) else int(domain)
    plain = {k: v for k, v in state.items() if TARGET_KEY not in k}
    if index == SOURCE:
        return plain
    for key, value in state.items():
        if TARGET_KEY in key:
            plain[key.replace(TARGET_KEY, "")] = value
    return plain
