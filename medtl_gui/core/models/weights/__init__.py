"""Offline weight store: verified pretrained weights, loaded only in safe formats."""

from medtl_gui.core.models.weights.errors import (
    MissingWeightsError,
    TamperedWeightsError,
    UnsafeWeightsError,
    WeightsError,
)
from medtl_gui.core.models.weights.manifest import WeightsEntry
from medtl_gui.core.models.weights.provenance import ProvenanceError
from medtl_gui.core.models.weights.store import (
    ENV_WEIGHTS_DIR,
    PretrainedWeights,
    WeightStore,
    default_hub_checkpoints_dir,
    default_weights_dir,
)

__all__ = [
    "ENV_WEIGHTS_DIR",
    "MissingWeightsError",
    "PretrainedWeights",
    "ProvenanceError",
    "TamperedWeightsError",
    "UnsafeWeightsError",
    "WeightStore",
    "WeightsEntry",
    "WeightsError",
    "default_hub_checkpoints_dir",
    "default_weights_dir",
]
