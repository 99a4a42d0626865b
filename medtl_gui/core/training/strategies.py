"""Transfer-learning strategies: named, documented objects the GUI lists.

A strategy decides, per epoch, which stages of the network (stem ...
head, see ``TransferModel.stages``) train; its defaults pick the
discriminative learning-rate factor and the knowledge-retention loss
``L_total = alpha * L_pre + beta * L_new``. Torch-free, so listing them is
cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Strategy:
    """Base class: every stage trains (full fine-tuning)."""

    name: str
    title: str
    description: str
    default_lr_decay: float = 1.0
    default_retention: str = "none"
    uses_feature_cache: bool = False

    def first_trainable_stage(self, n_stages: int, epoch: int, config: Any) -> int:
        """Index of the first trainable stage (stages at and after it train) in ``epoch``."""
        return 0


@dataclass(frozen=True)
class FeatureExtraction(Strategy):
    """Frozen backbone, new head; backbone features are computed once and cached."""

    def first_trainable_stage(self, n_stages: int, epoch: int, config: Any) -> int:
        return n_stages - 1


@dataclass(frozen=True)
class FinetuneLastN(Strategy):
    """The head and the last ``config.trainable_stages`` backbone stages train; the rest is frozen."""

    def first_trainable_stage(self, n_stages: int, epoch: int, config: Any) -> int:
        return max(0, n_stages - 1 - int(config.trainable_stages))


@dataclass(frozen=True)
class GradualUnfreezing(Strategy):
    """fastai-style: the head alone first, then one more stage every ``config.unfreeze_every`` epochs."""

    def first_trainable_stage(self, n_stages: int, epoch: int, config: Any) -> int:
        return max(0, n_stages - 1 - epoch // int(config.unfreeze_every))


_STRATEGIES: tuple[Strategy, ...] = (
    FeatureExtraction(
        "feature_extraction",
        "Feature extraction",
        "Keep the pretrained backbone frozen and train only a new head. Backbone features are "
        "computed once per image and cached (keyed by weights, preprocessing and image content), "
        "so training runs at the speed of a linear model. Augmentation does not apply.",
        uses_feature_cache=True,
    ),
    FinetuneLastN(
        "finetune_last_n",
        "Fine-tune the last N stages",
        "Train the head and the last N backbone stages (N = trainable_stages); earlier stages, "
        "which hold generic edge and texture filters, stay frozen. Deeper stages get the full "
        "learning rate, earlier ones lr * lr_decay per stage.",
        default_lr_decay=0.5,
    ),
    Strategy(
        "full",
        "Full fine-tuning",
        "Train every layer from the pretrained starting point (or from scratch without weights).",
    ),
    GradualUnfreezing(
        "gradual_unfreezing",
        "Gradual unfreezing",
        "fastai's recipe: train the head first, then unfreeze one more stage from the top every "
        "unfreeze_every epochs, with discriminative (layer-wise) learning rates: each stage "
        "further from the head gets lr * lr_decay.",
        default_lr_decay=0.5,
    ),
    Strategy(
        "l2sp",
        "L2-SP (stay near the pretrained weights)",
        "Full fine-tuning with L_total = alpha * L_pre + beta * L_new, where L_pre is the squared "
        "distance of the backbone weights to their pretrained values (Li et al. 2018) and L_new "
        "the task loss. Weight decay then applies to the head only.",
        default_retention="l2sp",
    ),
    Strategy(
        "lwf",
        "Learning without Forgetting",
        "Full fine-tuning with L_total = alpha * L_pre + beta * L_new, where L_pre distils the "
        "pretrained network's own outputs (e.g. its 1000 ImageNet logits, temperature "
        "lwf_temperature) into the network being trained (Li & Hoiem 2017). Needs pretrained "
        "weights with their original head.",
        default_retention="lwf",
    ),
)

STRATEGIES: dict[str, Strategy] = {s.name: s for s in _STRATEGIES}

#: default alpha (weight of L_pre) per retention method
DEFAULT_ALPHA = {"none": 0.0, "l2sp": 0.01, "lwf": 1.0}


def list_strategies() -> list[Strategy]:
    """All strategies in display order."""
    return list(_STRATEGIES)


def get_strategy(name: str) -> Strategy:
    """The strategy called ``name``; ``KeyError`` naming the available ones otherwise."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise KeyError(f"unknown strategy {name!r}; available: {', '.join(STRATEGIES)}") from None
