"""Knowledge-retention terms L_pre of ``L_total = alpha * L_pre + beta * L_new``.

- :class:`L2SPPenalty` (Li, Grandvalet & Davoine 2018): half the squared
  distance of the backbone weights to their pretrained values.
- :class:`LwFDistillation` (Li & Hoiem 2017): the pretrained network's
  outputs on the same batch, e.g. its 1000 ImageNet logits, are distilled
  (KL divergence at temperature T, scaled by T^2) into the same head put on
  the backbone being trained. The old head is kept frozen here.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from medtl_gui.core.models.transfer_model import TransferModel


class L2SPPenalty:
    """0.5 * sum ||w - w_pretrained||^2 over the backbone's parameters."""

    def __init__(self, model: TransferModel):
        self.reference = [(p, p.detach().clone()) for p in model.backbone.parameters()]

    def __call__(self) -> torch.Tensor:
        total = None
        for parameter, start in self.reference:
            if not parameter.requires_grad:
                continue
            term = (parameter - start).pow(2).sum()
            total = term if total is None else total + term
        if total is None:
            return torch.zeros((), device=self.reference[0][0].device)
        return 0.5 * total

    def distance(self) -> float:
        """Current Euclidean distance of the backbone to its pretrained weights."""
        with torch.no_grad():
            return float(sum((p - s).pow(2).sum() for p, s in self.reference) ** 0.5)


class LwFDistillation:
    """Distillation of a frozen copy of the pretrained network into the network being trained."""

    def __init__(self, model: TransferModel, pretrained_head: nn.Module, temperature: float = 2.0):
        self.temperature = temperature
        self.teacher_backbone = copy.deepcopy(model.backbone).eval()
        self.teacher_head = copy.deepcopy(pretrained_head).eval()
        self.student_old_head = copy.deepcopy(pretrained_head).eval()
        for module in (self.teacher_backbone, self.teacher_head, self.student_old_head):
            for parameter in module.parameters():
                parameter.requires_grad_(False)

    def to(self, device: torch.device, channels_last: bool = False) -> "LwFDistillation":
        """Move the frozen networks to ``device``."""
        for name in ("teacher_backbone", "teacher_head", "student_old_head"):
            module = getattr(self, name).to(device)
            if channels_last and name == "teacher_backbone":
                module = module.to(memory_format=torch.channels_last)
            setattr(self, name, module)
        return self

    def __call__(self, images: torch.Tensor, student_features: torch.Tensor) -> torch.Tensor:
        t = self.temperature
        with torch.no_grad():
            teacher_logits = self.teacher_head(self.teacher_backbone(images)).float()
        student_logits = self.student_old_head(student_features).float()
        return F.kl_div(
            F.log_softmax(student_logits / t, dim=1),
            F.log_softmax(teacher_logits / t, dim=1),
            reduction="batchmean",
            log_target=True,
        ) * (t * t)
