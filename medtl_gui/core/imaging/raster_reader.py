"""PNG, JPEG, TIFF (multi-page, 16-bit), GIF and BMP through Pillow.

Grey images stay grey with their own dtype (uint8, uint16 for 16-bit
PNG/TIFF, int32/float32 for 32-bit TIFF); colour becomes RGB (alpha
dropped). Palette images whose palette is grey become grey values.
Several pages/frames of equal size become a (frames, y, x[, 3]) stack.
16-bit colour TIFF, which Pillow silently reduces to 8 bits, is read with
SimpleITK instead. Pixel sizes are unknown in these formats: 1 mm spacing.
Decompression bombs (more pixels than Pillow's ``MAX_IMAGE_PIXELS``)
are refused with ``ScanReadError``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from medtl_gui.core.imaging.errors import ScanReadError
from medtl_gui.core.imaging.limits import check_expansion
from medtl_gui.core.imaging.scan import Scan

_EXIF_ORIENTATION = 0x0112
#: a multi-page file may hold at most this many times Pillow's pixel limit in total
MAX_TOTAL_PIXELS_FACTOR = 4


def _pixel_limit() -> int:
    from PIL import Image

    return int(Image.MAX_IMAGE_PIXELS or 178956970)


def _bytes_per_pixel(img: Any) -> int:
    """Bytes one decoded pixel takes (at least 1; RGB for palette images, which may expand to colour)."""
    mode = img.mode
    if mode in ("P", "PA"):
        return 3
    if mode in ("I", "F", "RGBA", "RGBX", "CMYK", "RGBa"):
        return 4
    if mode.startswith("I;16") or mode in ("LA", "La"):
        return 2
    return 3 if mode in ("RGB", "YCbCr", "LAB", "HSV") else 1


def _is_grey_palette(img: Any) -> bool:
    palette = img.getpalette() or []
    triples = np.array(palette[: (len(palette) // 3) * 3], dtype=np.int32).reshape(-1, 3)
    if triples.size == 0:
        return False
    used = np.unique(np.asarray(img))
    used = used[used < len(triples)]
    rgb = triples[used]
    return bool(np.all(rgb[:, 0] == rgb[:, 1]) and np.all(rgb[:, 1] == rgb[:, 2]))


def _frame_array(img: Any, path: str, warnings: list[str]) -> np.ndarray:
    """One Pillow frame as a numpy array (y, x) or (y, x, 3)."""
    mode = img.mode
    if mode == "1":
        return np.asarray(img, dtype=np.uint8) * np.uint8(255)
    if mode in ("L", "RGB") or mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(img)
    elif mode in ("P", "PA"):
        if "transparency" in img.info or mode == "PA":
            warnings.append("transparency dropped")
        arr = np.asarray(img.convert("L") if _is_grey_palette(img) else img.convert("RGB"))
    elif mode in ("LA", "La"):
        warnings.append("alpha channel dropped")
        arr = np.asarray(img.convert("L"))
    elif mode in ("RGBA", "RGBa", "RGBX"):
        if mode != "RGBX":
            warnings.append("alpha channel dropped")
        arr = np.asarray(img.convert("RGB"))
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        arr = np.asarray(img.convert("RGB"))
    else:
        raise ScanReadError(path, f"unsupported image mode {mode!r}")
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return np.array(arr)  # own, writable memory


def _is_deep_colour_tiff(img: Any) -> bool:
    tags = getattr(img, "tag_v2", None)
    if tags is None:
        return False
    bits = tags.get(258)
    samples = tags.get(277, 1)
    bits_max = max(bits) if isinstance(bits, (tuple, list)) else (bits or 8)
    return samples >= 3 and bits_max > 8


def _read_with_simpleitk(path: str) -> Scan:
    import SimpleITK as sitk

    from medtl_gui.core.imaging.volume_reader import image_to_scan, itk_error_reason

    try:
        image = sitk.ReadImage(path)
    except RuntimeError as exc:
        raise ScanReadError(path, f"cannot read 16-bit colour TIFF ({itk_error_reason(exc)})") from None
    metadata = {"reader": "SimpleITK (16-bit colour TIFF)", "warnings": []}
    scan = image_to_scan(image, path, metadata=metadata, kind="raster")
    scan.spacing = tuple(1.0 for _ in scan.spacing)
    return scan


def read_raster(path: str | os.PathLike) -> Scan:
    """Read a PNG/JPEG/TIFF/GIF/BMP file into a :class:`Scan`."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = os.fspath(path)
    limit = _pixel_limit()
    warnings: list[str] = []
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width * height > limit:
                raise ScanReadError(
                    path,
                    f"image of {width} x {height} pixels exceeds the decompression-bomb "
                    f"limit of {limit} pixels",
                )
            if img.format == "TIFF" and _is_deep_colour_tiff(img):
                return _read_with_simpleitk(path)
            n_frames = int(getattr(img, "n_frames", 1) or 1)
            if n_frames * width * height > MAX_TOTAL_PIXELS_FACTOR * limit:
                raise ScanReadError(
                    path, f"{n_frames} frames of {width} x {height} pixels is too large to load"
                )
            check_expansion(
                path, decoded_bytes=n_frames * width * height * _bytes_per_pixel(img),
                stored_bytes=os.path.getsize(path), what=f"{n_frames} frame(s) of {width} x {height} {img.mode}",
            )
            file_format = img.format
            frames = []
            for index in range(n_frames):
                img.seek(index)
                frame = img
                if n_frames == 1 and img.getexif().get(_EXIF_ORIENTATION, 1) not in (0, 1):
                    frame = ImageOps.exif_transpose(img)
                    warnings.append("EXIF orientation applied")
                frames.append(_frame_array(frame, path, warnings))
    except ScanReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ScanReadError(path, f"refused as a possible decompression bomb ({exc})") from None
    except UnidentifiedImageError:
        raise ScanReadError(path, "not a recognised image file (Pillow cannot identify it)") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
        raise ScanReadError(path, f"corrupt or truncated image ({' '.join(str(exc).split())})") from None
    except MemoryError:
        raise ScanReadError(path, "not enough memory to decode the image") from None

    if len({f.ndim for f in frames}) > 1:  # animated GIF mixing grey and colour palettes
        frames = [f if f.ndim == 3 else np.repeat(f[..., None], 3, axis=-1) for f in frames]
    shapes = {(f.shape, f.dtype.str) for f in frames}
    if len(shapes) > 1:
        raise ScanReadError(path, f"pages differ in size or type ({len(shapes)} kinds); cannot stack them")
    pixels = frames[0] if len(frames) == 1 else np.stack(frames)
    is_color = pixels.ndim == (3 if len(frames) == 1 else 4)
    spatial = 2 if len(frames) == 1 else 3
    return Scan(
        path=path,
        kind="raster",
        pixels=pixels,
        spacing=(1.0,) * spatial,
        origin=(0.0,) * spatial,
        direction=tuple(float(v) for v in np.eye(spatial).ravel()),
        is_color=is_color,
        n_frames=len(frames),
        metadata={
            "format": file_format,
            "mode": _mode_name(pixels),
            "pixel_spacing_source": "none (assumed 1 mm)",
            "warnings": sorted(set(warnings)),
        },
    )


def _mode_name(pixels: np.ndarray) -> str:
    kind = "RGB" if pixels.shape[-1:] == (3,) and pixels.ndim >= 3 else "grey"
    return f"{kind} {pixels.dtype}"
