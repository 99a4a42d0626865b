"""Task heads: the layer that maps backbone features to predictions."""

from __future__ import annotations

from torch import nn

#: head kinds and what their outputs mean
HEAD_KINDS = {
    "binary": "one logit; sigmoid gives the probability of the positive class (index 1)",
    "multiclass": "one logit per class; softmax gives class probabilities",
    "regression": "one or more real values",
}


def head_kind_for(task: str, n_classes: int) -> str:
    """The head kind for a task ("classification" or "regression") and class count."""
    if task == "regression":
        return "regression"
    if task != "classification":
        raise ValueError(f"unknown task {task!r}; expected 'classification' or 'regression'")
    if n_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {n_classes}")
    return "binary" if n_classes == 2 else "multiclass"


def head_outputs(kind: str, n_classes: int, n_targets: int = 1) -> int:
    """Number of output units of a head of ``kind``."""
    if kind == "binary":
        return 1
    if kind == "multiclass":
        return n_classes
    if kind == "regression":
        return n_targets
    raise ValueError(f"unknown head kind {kind!r}; expected one of {', '.join(HEAD_KINDS)}")


def build_head(kind: str, in_features: int, n_classes: int, dropout: float = 0.0, n_targets: int = 1) -> nn.Sequential:
    """A fresh head: optional dropout then one linear layer."""
    layers: list[nn.Module] = []
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(in_features, head_outputs(kind, n_classes, n_targets)))
    return nn.Sequential(*layers)
