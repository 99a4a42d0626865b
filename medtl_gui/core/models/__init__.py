"""Model zoo, heads and the offline weight store.

Importing this package does not import torch: the zoo metadata
(:func:`list_models`, :func:`get_model_spec`) is plain Python. Building
models lives in :mod:`medtl_gui.core.models.builder` (imports torch).
"""

from medtl_gui.core.models.zoo import (
    MODEL_ZOO,
    ModelSpec,
    TorchvisionWeightsFile,
    UnknownModelError,
    get_model_spec,
    list_models,
)

__all__ = [
    "MODEL_ZOO",
    "ModelSpec",
    "TorchvisionWeightsFile",
    "UnknownModelError",
    "get_model_spec",
    "list_models",
]
