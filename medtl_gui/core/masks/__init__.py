"""Mask file formats: PNG, NIfTI (geometry checked against the source scan) and DICOM SEG.

Every reader returns a uint8 label mask in the source scan's pixel order
((y, x) for 2D images, (z, y, x) for volumes) holding the project's
segmentation label values; every problem raises :class:`MaskFormatError`
naming the file and the reason. Torch-free; highdicom, pydicom and
SimpleITK are imported when a format that needs them is used.
"""

from medtl_gui.core.masks.dicom_seg import read_dicom_seg, write_dicom_seg
from medtl_gui.core.masks.errors import MaskFormatError
from medtl_gui.core.masks.nifti_masks import read_mask_nifti, write_mask_nifti
from medtl_gui.core.masks.png_masks import read_mask_png, write_mask_png

__all__ = [
    "MaskFormatError",
    "read_dicom_seg",
    "read_mask_nifti",
    "read_mask_png",
    "write_dicom_seg",
    "write_mask_nifti",
    "write_mask_png",
]
