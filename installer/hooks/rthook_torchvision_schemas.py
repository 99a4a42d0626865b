"""PyInstaller runtime hook (CPU edition built with a CUDA torchvision wheel only).

The CPU edition pairs a CPU-only torch with torchvision. Where the build
machine has no CPU build of torchvision (no access to
https://download.pytorch.org/whl/cpu), the spec bundles the PyPI wheel's
Python code without its CUDA-linked C++ extension, and includes this hook.
torchvision's Python side registers fake kernels for its C++ operators at
import time and fails if they were never declared; this hook declares their
schemas (without kernels) right before ``torchvision`` is first imported,
so that the models, transforms and tv_tensors MedTL uses import and run.
The operators themselves (nms, roi_align, deform_conv2d, ...; detection
only, unused by MedTL) raise "no kernel" if ever called.

torch is imported only when torchvision is, so the window still appears
before torch loads.
"""

import importlib.abc
import sys

_SCHEMAS = (
    "_deform_conv2d_backward(Tensor grad, Tensor input, Tensor weight, Tensor offset, Tensor mask, Tensor bias, "
    "SymInt stride_h, SymInt stride_w, SymInt pad_h, SymInt pad_w, SymInt dilation_h, SymInt dilation_w, "
    "SymInt groups, SymInt offset_groups, bool use_mask) -> (Tensor, Tensor, Tensor, Tensor, Tensor)",
    "_ps_roi_align_backward(Tensor grad, Tensor rois, Tensor channel_mapping, float spatial_scale, "
    "SymInt pooled_height, SymInt pooled_width, int sampling_ratio, SymInt batch_size, SymInt channels, "
    "SymInt height, SymInt width) -> Tensor",
    "_ps_roi_pool_backward(Tensor grad, Tensor rois, Tensor channel_mapping, float spatial_scale, "
    "SymInt pooled_height, SymInt pooled_width, SymInt batch_size, SymInt channels, SymInt height, "
    "SymInt width) -> Tensor",
    "_roi_align_backward(Tensor grad, Tensor rois, float spatial_scale, SymInt pooled_height, SymInt pooled_width, "
    "SymInt batch_size, SymInt channels, SymInt height, SymInt width, int sampling_ratio, bool aligned) -> Tensor",
    "_roi_pool_backward(Tensor grad, Tensor rois, Tensor argmax, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width, SymInt batch_size, SymInt channels, SymInt height, SymInt width) -> Tensor",
    "box_iou_rotated(Tensor boxes1, Tensor boxes2) -> Tensor",
    "deform_conv2d(Tensor input, Tensor weight, Tensor offset, Tensor mask, Tensor bias, SymInt stride_h, "
    "SymInt stride_w, SymInt pad_h, SymInt pad_w, SymInt dilation_h, SymInt dilation_w, SymInt groups, "
    "SymInt offset_groups, bool use_mask) -> Tensor",
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "ps_roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, SymInt pooled_width, "
    "int sampling_ratio) -> (Tensor, Tensor)",
    "ps_roi_pool(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width) -> (Tensor, Tensor)",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qroi_align(Tensor input, Tensor rois, float input_scale, int input_zero_point, float rois_scale, "
    "int rois_zero_point, float spatial_scale, SymInt pooled_height, SymInt pooled_width, int sampling_ratio, "
    "bool aligned) -> Tensor",
    "roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, SymInt pooled_width, "
    "int sampling_ratio, bool aligned) -> Tensor",
    "roi_pool(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width) -> (Tensor, Tensor)",
)


class _DeclareTorchvisionOps(importlib.abc.MetaPathFinder):
    """Declares torchvision's operator schemas the first time ``torchvision`` is looked up.

    Does nothing when torchvision's own C++ extension is present (it
    declares them itself, and a second declaration would abort).
    """

    def find_spec(self, fullname, path=None, target=None):  # noqa: ARG002 - MetaPathFinder protocol
        if fullname != "torchvision":
            return None
        sys.meta_path.remove(self)
        if _has_extension():
            return None
        import torch

        library = torch.library.Library("torchvision", "FRAGMENT")
        for schema in _SCHEMAS:
            library.define(schema)
        _LIBRARIES.append(library)  # keep the definitions alive
        return None  # the normal finders import torchvision itself


def _has_extension() -> bool:
    """Whether torchvision's ``_C`` extension module ships with this build."""
    import importlib.machinery
    from pathlib import Path

    spec = importlib.machinery.PathFinder.find_spec("torchvision", sys.path)
    if spec is None or not spec.submodule_search_locations:
        return False
    return any(any(Path(folder).glob(pattern)) for folder in spec.submodule_search_locations
               for pattern in ("_C.*", "_C_stable.*"))


_LIBRARIES: list = []
sys.meta_path.insert(0, _DeclareTorchvisionOps())
