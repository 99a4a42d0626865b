"""SimCLR's pieces: a projection head and the NT-Xent (normalised temperature-scaled cross-entropy) loss.

For a batch of ``n`` images, two views each give ``2n`` embeddings. Each
view's positive is the other view of the same image; the other ``2n - 2``
views are its negatives. NT-Xent is the cross-entropy of picking the
positive among all other views by cosine similarity / temperature
(Chen et al. 2020, eq. 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def projection_head(feature_dim: int, projection_dim: int = 128) -> nn.Sequential:
    """SimCLR's MLP on top of the backbone (discarded after pretraining)."""
    return nn.Sequential(
        nn.Linear(feature_dim, feature_dim, bias=False),
        nn.BatchNorm1d(feature_dim),
        nn.ReLU(inplace=True),
        nn.Linear(feature_dim, projection_dim),
    )


class ContrastiveNetwork(nn.Module):
    """Backbone + projection head; ``forward`` returns projections (n, projection_dim)."""

    def __init__(self, backbone: nn.Module, feature_dim: int, projection_dim: int = 128):
        super().__init__()
        self.backbone = backbone
        self.projector = projection_head(feature_dim, projection_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.projector(self.backbone(images))


def nt_xent_loss(first: torch.Tensor, second: torch.Tensor, temperature: float) -> tuple[torch.Tensor, float]:
    """NT-Xent loss of two views' projections (n, d) each, and the fraction of views whose nearest
    other view is their positive (a progress measure: 1.0 means every pair is recognised)."""
    n = first.shape[0]
    z = F.normalize(torch.cat([first, second]).float(), dim=1)
    similarity = z @ z.t() / temperature
    similarity.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    loss = F.cross_entropy(similarity, targets)
    with torch.no_grad():
        accuracy = float((similarity.argmax(dim=1) == targets).float().mean())
    return loss, accuracy
