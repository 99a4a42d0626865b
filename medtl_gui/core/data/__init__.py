"""Training data: labelled image collections, their sources, preprocessing, augmentation.

Torch-free at import time; :mod:`medtl_gui.core.data.torch_dataset` is the
part that needs torch.
"""

from medtl_gui.core.data.errors import DataError
from medtl_gui.core.data.labelled_images import DataSplits, ImageItem, LabelledImages, stratified_split
from medtl_gui.core.data.npz_source import from_npz, load_npz_splits
from medtl_gui.core.data.project_source import from_project, project_splits
from medtl_gui.core.data.sources import open_data_source

__all__ = [
    "DataError",
    "DataSplits",
    "ImageItem",
    "LabelledImages",
    "from_npz",
    "from_project",
    "load_npz_splits",
    "open_data_source",
    "project_splits",
    "stratified_split",
]
