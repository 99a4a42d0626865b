"""Segmentation networks: U-Net decoders on the zoo's encoders, and a plain U-Net.

Importing this package does not import torch: the registry of
architectures (:data:`SEGMENTATION_MODELS`) is plain Python. Building a
network lives in :mod:`medtl_gui.core.models.segmentation.builder`.
"""

from medtl_gui.core.models.segmentation.registry import (
    SEGMENTATION_MODELS,
    SegmentationArchitecture,
    get_segmentation_architecture,
    list_segmentation_architectures,
)

__all__ = [
    "SEGMENTATION_MODELS",
    "SegmentationArchitecture",
    "get_segmentation_architecture",
    "list_segmentation_architectures",
]
