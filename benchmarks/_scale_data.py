"""Generated projects and volumes for the GUI and scale benchmarks (``bench_gui.py``, ``bench_scale.py``).

- ``make_large_project``: a project of ``n`` distinct small PNGs with
  labels, splits and (optionally) a label mask on every ``mask_every``-th
  image, recorded through the store's bulk insert (one transaction; far
  faster than ``Project.add_image`` per file).
- ``make_ct_volume``: a smooth synthetic CT phantom (int16 Hounsfield-like
  values: air, body, lungs, spine, a lesion) written slice by slice as an
  uncompressed NIfTI, ``make_volume_project`` holding it and
  ``make_volumes_project`` holding several (browsing volume after volume).
- ``cached``: build something once under a work folder and reuse it while
  its parameters are unchanged (a ``.complete.json`` marker is written last,
  so an interrupted build is redone).
"""

from __future__ import annotations

import contextlib

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

#: classes of the generated classification projects
CLASSES: tuple[str, ...] = ("normal", "pneumonia", "other")


def cached(folder: Path, params: dict[str, object], build: Callable[[Path], object]) -> Path:
    """``folder`` built by ``build(folder)``, reused when a previous build with these ``params`` completed."""
    marker = folder / ".complete.json"
    if marker.is_file():
        with contextlib.suppress(OSError, ValueError):
            if json.loads(marker.read_text()) == params:
                return folder
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    build(folder)
    marker.write_text(json.dumps(params))
    return folder


def _picture(rng: np.random.Generator, i: int, size: int) -> np.ndarray:
    """A small grey picture, distinct per ``i`` (smooth pattern plus noise; noise alone for tiny sizes)."""
    if size <= 32:
        return rng.integers(0, 255, (size, size), dtype=np.uint8)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    picture = 110 + 60 * np.sin(xx / (6 + i % 17)) * np.cos(yy / (9 + i % 13)) + rng.normal(0, 8, (size, size))
    return np.clip(picture, 0, 255).astype(np.uint8)


def make_large_project(folder: Path, n: int, *, image_size: int = 32, mask_every: int = 0,
                       files_per_folder: int = 1000, seed: int = 1) -> Path:
    """A project (``folder/p_large``) of ``n`` distinct ``image_size``² PNGs (under ``folder/png_large``).

    Three classes; three of four images labelled; one patient per three
    images; automatic splits; with ``mask_every`` > 0 every such image gets a
    rectangular label mask. Returns the project folder.
    """
    from PIL import Image

    from medtl_gui.core.project import Project
    from medtl_gui.core.project.atomic_files import sha256_file
    from medtl_gui.core.project.history import utc_now
    from medtl_gui.core.project.ingest import file_identity, insert_image, read_and_describe

    sources = folder / "png_large"
    sources.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    with Project.create(folder / "p_large") as project:
        classes = [project.add_class(name).name for name in CLASSES]
        template = None
        now = utc_now()
        masked: list[int] = []
        with project.database.write() as conn:
            for i in range(n):
                sub = sources / f"{i // files_per_folder:03d}"
                if i % files_per_folder == 0:
                    sub.mkdir(exist_ok=True)
                path = sub / f"case_{i:06d}.png"
                Image.fromarray(_picture(rng, i, image_size)).save(path, compress_level=1)
                sha = sha256_file(path)
                if template is None:
                    template = read_and_describe(path, sha256=sha, identity=file_identity(sha))
                prepared = replace(template, path=str(path), sha256=sha, identity=file_identity(sha),
                                   source=str(path), patient_id=f"P{i // 3:06d}")
                image_id = insert_image(conn, prepared, now=now, user="bench")
                if i % 4:
                    project.set_label(image_id, classes[i % 3], user="bench")
                if mask_every and i % mask_every == 0:
                    masked.append(image_id)
        project.assign_splits(val_fraction=0.15, test_fraction=0.15, seed=0)
        for k, image_id in enumerate(masked):
            mask = np.zeros((image_size, image_size), np.uint8)
            top, left = (k * 7) % (image_size // 2), (k * 11) % (image_size // 2)
            mask[top: top + image_size // 3, left: left + image_size // 3] = 1
            project.set_mask(image_id, mask, user="bench")
    return folder / "p_large"


def ct_phantom_slice(z: int, n_slices: int, size: int) -> np.ndarray:
    """Slice ``z`` of a smooth CT phantom (int16 HU): air, an elliptic body, two lungs, a spine, a lesion."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cx, cy = size / 2.0, size / 2.0
    t = z / max(1, n_slices - 1)  # 0 .. 1 from feet to head
    body_a, body_b = size * (0.42 - 0.05 * abs(t - 0.5)), size * (0.30 - 0.03 * abs(t - 0.5))
    body = ((xx - cx) / body_a) ** 2 + ((yy - cy) / body_b) ** 2
    hu = np.full((size, size), -1000.0, np.float32)
    # soft tissue with a gentle gradient (smooth, no noise)
    hu = np.where(body <= 1.0, 30.0 + 20.0 * np.cos(xx / size * 3.0) * np.sin(yy / size * 2.0 + t), hu)
    hu = np.where((body > 0.85) & (body <= 1.0), -90.0, hu)  # subcutaneous fat
    lung_scale = max(0.0, np.sin(np.pi * t)) ** 0.5
    for side in (-1.0, 1.0):
        lung = (((xx - cx - side * size * 0.17) / (size * 0.12 * lung_scale + 1e-3)) ** 2
                + ((yy - cy + size * 0.02) / (size * 0.17 * lung_scale + 1e-3)) ** 2)
        hu = np.where(lung <= 1.0, -820.0 + 60.0 * lung, hu)
    spine = ((xx - cx) / (size * 0.045)) ** 2 + ((yy - cy - size * 0.2) / (size * 0.045)) ** 2
    hu = np.where(spine <= 1.0, 700.0 - 300.0 * spine, hu)
    lesion = ((xx - cx + size * 0.17) ** 2 + (yy - cy) ** 2 + ((t - 0.55) * n_slices) ** 2) / (size * 0.03) ** 2
    hu = np.where(lesion <= 1.0, 60.0, hu)
    return np.round(hu).astype(np.int16)


def make_ct_volume(path: Path, size: int = 512, n_slices: int = 500, spacing_mm: float = 0.8,
                   offset_hu: int = 0) -> Path:
    """Write the phantom (shifted by ``offset_hu``) as an uncompressed int16 NIfTI
    (``size`` x ``size`` x ``n_slices``), computed slice by slice."""
    import SimpleITK as sitk

    volume = np.empty((n_slices, size, size), np.int16)
    for z in range(n_slices):
        volume[z] = ct_phantom_slice(z, n_slices, size) + np.int16(offset_hu)
    image = sitk.GetImageFromArray(volume)
    image.SetSpacing((spacing_mm, spacing_mm, 1.0))
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), useCompression=False)
    return path


def make_volume_project(folder: Path, size: int = 512, n_slices: int = 500) -> Path:
    """A project (``folder/p_volume``) holding one CT phantom volume and two small PNGs named to sort after it."""
    from PIL import Image

    from medtl_gui.core.project import Project

    volume = make_ct_volume(folder / "ct_phantom.nii", size, n_slices)
    with Project.create(folder / "p_volume") as project:
        project.add_image(volume)
        for i in range(2):
            png = folder / f"zz_after_{i}.png"
            Image.fromarray(_picture(np.random.default_rng(i), i, 64)).save(png)
            project.add_image(png)
    return folder / "p_volume"


def make_volumes_project(folder: Path, n_volumes: int = 4, size: int = 512, n_slices: int = 500) -> Path:
    """A project (``folder/p_volumes``) of ``n_volumes`` distinct CT phantoms (each shifted by a few HU)."""
    from medtl_gui.core.project import Project

    with Project.create(folder / "p_volumes") as project:
        for k in range(n_volumes):
            volume = make_ct_volume(folder / f"ct_{k}.nii", size, n_slices, offset_hu=3 * k)
            project.add_image(volume)
    return folder / "p_volumes"
