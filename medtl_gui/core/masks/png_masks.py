"""PNG masks: one 2D 8-bit grey image whose pixel values are the label values (0 = background)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from medtl_gui.core.masks.errors import MaskFormatError


def check_label_mask(mask: np.ndarray, path: str | os.PathLike, ndim: tuple[int, ...] = (2,)) -> np.ndarray:
    """``mask`` as uint8 label values; :class:`MaskFormatError` for a wrong shape or out-of-range values."""
    array = np.asarray(mask)
    if array.ndim not in ndim:
        raise MaskFormatError(path, f"a mask here must have {' or '.join(map(str, ndim))} dimensions, "
                                    f"got shape {array.shape}")
    if array.dtype == np.bool_:
        return array.astype(np.uint8)
    if not np.issubdtype(array.dtype, np.integer):
        raise MaskFormatError(path, f"mask values must be integer labels, got dtype {array.dtype}")
    if array.size and (int(array.min()) < 0 or int(array.max()) > 255):
        raise MaskFormatError(path, f"mask values must be 0..255, got {array.min()}..{array.max()}")
    return array.astype(np.uint8, copy=False)


def write_mask_png(path: str | os.PathLike, mask: np.ndarray) -> Path:
    """Write a 2D label mask as an 8-bit grey PNG (values kept exactly); returns the path."""
    from PIL import Image

    path = Path(path)
    array = check_label_mask(mask, path)
    temp = path.with_name(f".{path.name}.partial")
    try:
        Image.fromarray(np.ascontiguousarray(array), mode="L").save(temp, format="PNG")
        os.replace(temp, path)
    except OSError as exc:
        raise MaskFormatError(path, f"cannot write ({exc.strerror or exc})") from exc
    return path


def read_mask_png(path: str | os.PathLike, expected_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a PNG mask as uint8 label values.

    Grey (8-bit) PNGs keep their values; 16-bit ones must stay within
    0..255; palette PNGs give their palette indices; colour PNGs are
    refused (colours are not label values). ``expected_shape``: the
    image's (rows, columns), checked.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as image:
            mode = image.mode
            if mode in ("RGB", "RGBA", "CMYK", "YCbCr", "LA"):
                raise MaskFormatError(path, f"a colour PNG ({mode}) is not a label mask; save label values as grey")
            array = np.array(image)
    except FileNotFoundError:
        raise MaskFormatError(path, "no such file") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise MaskFormatError(path, f"not a readable PNG ({exc})") from exc
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    mask = check_label_mask(array, path)
    if expected_shape is not None and mask.shape != tuple(expected_shape):
        raise MaskFormatError(path, f"mask size {mask.shape} does not match the image's {tuple(expected_shape)}")
    return mask
