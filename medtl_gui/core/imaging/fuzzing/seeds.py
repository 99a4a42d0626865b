"""Seed files for fuzzing: small valid inputs of every format the readers support.

Raster and volume seeds are generated in code (Pillow and SimpleITK write
them); DICOM seeds are real files - pydicom's bundled test files and, when
present, ``../shared/data/dicom`` (the codec collection and a few slices of
the MR series). Seeds are kept small (``max_bytes``) so that each mutated
input is read in milliseconds.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Seed:
    """One valid input file: its bytes and the file-name suffix that selects its reader."""

    name: str
    data: bytes
    suffix: str


def pydicom_test_files() -> Path:
    """pydicom's bundled test data folder."""
    import pydicom

    return Path(pydicom.__file__).parent / "data" / "test_files"


def dicom_seeds(shared_data: Path | None = None, *, max_bytes: int = 64 * 1024, mr_slices: int = 3) -> list[Seed]:
    """Real DICOM files no larger than ``max_bytes``: pydicom's test files and the shared codec set."""
    folders = [pydicom_test_files()]
    if shared_data is not None and (shared_data / "dicom" / "codecs").is_dir():
        folders.append(shared_data / "dicom" / "codecs")
    seeds: list[Seed] = []
    for folder in folders:
        for path in sorted(folder.glob("*.dcm")):
            if path.stat().st_size <= max_bytes:
                seeds.append(Seed(f"{folder.name}/{path.name}", path.read_bytes(), ".dcm"))
    series = shared_data / "dicom" / "mr_series" if shared_data is not None else None
    if series is not None and series.is_dir():
        for path in sorted(series.glob("*.dcm"))[:mr_slices]:
            seeds.append(Seed(f"mr_series/{path.name}", path.read_bytes(), ".dcm"))
    return seeds


def mr_series_slices(shared_data: Path | None, count: int = 4) -> list[bytes]:
    """The first ``count`` slices (by file name) of the shared MR series; empty when absent."""
    if shared_data is None:
        return []
    folder = shared_data / "dicom" / "mr_series"
    if not folder.is_dir():
        return []
    return [p.read_bytes() for p in sorted(folder.glob("*.dcm"), key=lambda p: p.name)[:count]]


def _phantom(shape: tuple[int, ...], dtype: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    high = min(info.max, 4000) if info is not None else 1.0
    arr = rng.integers(0, int(high) if info else 2, size=shape) if info else rng.random(shape)
    return arr.astype(dtype)


def _pillow_bytes(image, fmt: str, **options) -> bytes:  # noqa: ANN001 - PIL image
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def raster_seeds() -> dict[str, list[Seed]]:
    """PNG, JPEG, TIFF, GIF and BMP seeds of the modes MedTL handles, by format."""
    from PIL import Image

    grey = Image.fromarray(_phantom((24, 20), "uint8"))
    rgb = Image.fromarray(_phantom((16, 18, 3), "uint8", 1))
    rgba = Image.fromarray(_phantom((12, 12, 4), "uint8", 2))
    grey16 = Image.fromarray(_phantom((20, 16), "uint16", 3))
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    binary = grey.convert("1")
    seeds: dict[str, list[Seed]] = {"png": [], "jpeg": [], "tiff": [], "gif": [], "bmp": []}
    for name, image in (("grey", grey), ("rgb", rgb), ("rgba", rgba), ("grey16", grey16), ("palette", palette),
                        ("binary", binary)):
        seeds["png"].append(Seed(f"{name}.png", _pillow_bytes(image, "PNG"), ".png"))
    seeds["png"].append(Seed("interlaced.png", _pillow_bytes(grey, "PNG", optimize=False, interlace=1), ".png"))
    for name, image in (("grey", grey), ("rgb", rgb)):
        seeds["jpeg"].append(Seed(f"{name}.jpg", _pillow_bytes(image, "JPEG", quality=80), ".jpg"))
    seeds["jpeg"].append(Seed("progressive.jpg", _pillow_bytes(rgb, "JPEG", progressive=True), ".jpg"))
    for name, image, options in (
        ("grey", grey, {}), ("rgb", rgb, {}), ("grey16", grey16, {}), ("lzw", rgb, {"compression": "tiff_lzw"}),
        ("deflate", grey, {"compression": "tiff_adobe_deflate"}), ("float", Image.fromarray(_phantom((8, 8), "float32")), {}),
    ):
        seeds["tiff"].append(Seed(f"{name}.tif", _pillow_bytes(image, "TIFF", **options), ".tif"))
    pages = _pillow_bytes(grey, "TIFF", save_all=True, append_images=[grey.rotate(90, expand=False)])
    seeds["tiff"].append(Seed("pages.tif", pages, ".tif"))
    seeds["tiff"].append(Seed("rgb16.tif", _rgb16_tiff(), ".tif"))
    seeds["gif"].append(Seed("palette.gif", _pillow_bytes(palette, "GIF"), ".gif"))
    frames = [palette, palette.rotate(90)]
    seeds["gif"].append(Seed("animated.gif", _pillow_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:]), ".gif"))
    seeds["bmp"].append(Seed("rgb.bmp", _pillow_bytes(rgb, "BMP"), ".bmp"))
    seeds["bmp"].append(Seed("grey.bmp", _pillow_bytes(grey, "BMP"), ".bmp"))
    return seeds


def _rgb16_tiff() -> bytes:
    """A 16-bit colour TIFF (read through SimpleITK, not Pillow)."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(_phantom((6, 5, 3), "uint16", 4), isVector=True)
    return _sitk_bytes(image, ".tif")


def _sitk_bytes(image, suffix: str, compress: bool = False) -> bytes:  # noqa: ANN001 - sitk image
    import SimpleITK as sitk

    fd, name = tempfile.mkstemp(suffix=suffix)
    os.close(fd)
    try:
        sitk.WriteImage(image, name, useCompression=compress)
        return Path(name).read_bytes()
    finally:
        os.unlink(name)


def volume_seeds() -> dict[str, list[Seed]]:
    """NIfTI (.nii, .nii.gz), NRRD and MHA seeds: small volumes and 2-D images, several pixel types."""
    import SimpleITK as sitk

    volumes = {
        "int16": sitk.GetImageFromArray(_phantom((4, 6, 5), "int16", 5)),
        "float32": sitk.GetImageFromArray(_phantom((3, 5, 4), "float32", 6)),
        "uint8-2d": sitk.GetImageFromArray(_phantom((7, 9), "uint8", 7)),
        "rgb": sitk.GetImageFromArray(_phantom((3, 4, 5, 3), "uint8", 8), isVector=True),
    }
    volumes["int16"].SetSpacing((0.7, 0.8, 2.5))
    volumes["int16"].SetDirection((0, 1, 0, 1, 0, 0, 0, 0, -1))
    seeds: dict[str, list[Seed]] = {"nifti": [], "nrrd": [], "mha": []}
    for name, image in volumes.items():
        if name != "rgb":
            seeds["nifti"].append(Seed(f"{name}.nii", _sitk_bytes(image, ".nii"), ".nii"))
            seeds["nifti"].append(Seed(f"{name}.nii.gz", _sitk_bytes(image, ".nii.gz"), ".nii.gz"))
        seeds["nrrd"].append(Seed(f"{name}.nrrd", _sitk_bytes(image, ".nrrd"), ".nrrd"))
        seeds["nrrd"].append(Seed(f"{name}-gz.nrrd", _sitk_bytes(image, ".nrrd", compress=True), ".nrrd"))
        seeds["mha"].append(Seed(f"{name}.mha", _sitk_bytes(image, ".mha"), ".mha"))
        seeds["mha"].append(Seed(f"{name}-z.mha", _sitk_bytes(image, ".mha", compress=True), ".mha"))
    return seeds
