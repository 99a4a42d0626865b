"""Fuzz campaigns for the importers: hostile CSV lists and ``.npz`` array files.

Contract of ``import_sources`` on any input: it returns a report - each
image imported or listed as skipped with a reason - and never raises; it
writes nothing outside the project folder; what it imports lies inside the
CSV's folder (no path traversal, absolute paths or symlinks leading out);
the project passes its integrity check afterwards; and no input makes it
allocate memory out of proportion to the file (a ``.npz`` member whose
header declares a huge shape).

The targets (``target_*``) run inside the fuzz worker; the input makers
build a small world for each input: ``outside/`` (must stay untouched),
``csvdir/data/`` (real images, a DICOM file, a text file, symlinks that
point outside) and the CSV or ``.npz`` under test.
"""

from __future__ import annotations

import io
import os
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medtl_gui.core.imaging.fuzzing.byte_mutations import mutate_bytes
from medtl_gui.core.imaging.fuzzing.contract import ContractViolation, Outcome
from medtl_gui.core.imaging.fuzzing.runner import FuzzCampaign

_MODULE = "medtl_gui.core.project.import_fuzzing"
_PROJECT = "project"


# -- targets (run in the worker) -----------------------------------------------------------
def _tree(root: Path, skip: Path) -> dict[str, tuple[int, int]]:
    """``relative path -> (size, mtime_ns)`` of everything under ``root`` except ``skip``."""
    found: dict[str, tuple[int, int]] = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if here / d != skip]
        for name in files + [d for d in dirs if (here / d).is_symlink()]:
            path = here / name
            info = path.lstat()
            found[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns)
    return found


def _run_import(source: Path, world: Path, *, copy: bool, allowed_root: Path) -> Outcome:
    from medtl_gui.core.project import Project, import_sources

    project_folder = world / _PROJECT
    before = _tree(world, project_folder)
    with Project.create(project_folder) as project:
        report = import_sources(project, [source], copy=copy, batch_size=3)
        for record in project.images():
            stored = project.image_path(record.id).resolve()
            if not (stored.is_relative_to(allowed_root.resolve()) or stored.is_relative_to(project_folder.resolve())):
                raise ContractViolation(f"imported {stored}, which lies outside {allowed_root}")
        problems = project.check_integrity(verify_image_hashes=True)
        if problems:
            raise ContractViolation(f"project fails its integrity check after the import: {problems[:3]}")
    after = _tree(world, project_folder)
    if before != after:
        changed = sorted(set(before.items()) ^ set(after.items()))[:5]
        raise ContractViolation(f"the import changed files outside the project: {changed}")
    reasons = "; ".join(reason for _, reason in report.skipped)
    status = "read" if report.imported else "rejected"
    return status, f"{report.imported} imported, {len(report.skipped)} skipped: {reasons}"[:480]


def target_import_csv(path: str) -> Outcome:
    """Import a CSV list (``<world>/csvdir/*.csv``); copy into the project when its name says so."""
    csv_path = Path(path)
    return _run_import(csv_path, csv_path.parent.parent, copy="copy" in csv_path.name,
                       allowed_root=csv_path.parent)


def target_import_npz(path: str) -> Outcome:
    """Import a ``.npz`` array file (``<world>/arrays.npz``)."""
    npz_path = Path(path)
    return _run_import(npz_path, npz_path.parent, copy=False, allowed_root=npz_path.parent / _PROJECT)


# -- CSV inputs (made in the parent) ---------------------------------------------------------
_LABELS = ("normal", "lesion", "", "x" * 300, "../evil", "名前", "a,b", '"quoted"', " spaced ", "NULL")
_SPLITS = ("train", "val", "test", "", "bogus", "TRAIN", "validation", "testing")
_HEADERS = (
    None, "path,label", "path,label,split", "filename,class,subset,patient_id", "image;target;fold",
    "label,path", "path,label,split,patient_id,extra", "Path, Label",
)


@dataclass
class CsvImportInput:
    """A world with images, symlinks out of it, and a hostile CSV that lists them."""

    png: bytes
    dicom: bytes | None

    def __call__(self, rng: random.Random, folder: Path) -> Path:
        outside = folder / "outside"
        data = folder / "csvdir" / "data"
        (data / "sub").mkdir(parents=True)
        outside.mkdir()
        (outside / "secret.png").write_bytes(self.png)
        (data / "a.png").write_bytes(self.png)
        (data / "b.png").write_bytes(mutate_bytes(self.png, rng) if rng.random() < 0.3 else self.png[:-1] + b"\x00")
        (data / "sub" / "d.png").write_bytes(self.png)
        (data / "notes.txt").write_text("not an image")
        if self.dicom is not None:
            (data / "c.dcm").write_bytes(self.dicom)
        os.symlink(outside / "secret.png", data / "link_out.png")
        os.symlink(outside, data / "link_dir")
        names = [
            "data/a.png", "data/b.png", "data/c.dcm", "data/sub/d.png", "data/notes.txt", "data/sub", "data",
            "data/link_out.png", "data/link_dir/secret.png", "../outside/secret.png", "../../etc/passwd",
            "/etc/passwd", str(outside / "secret.png"), "", "data/../data/a.png", "data/a.png\x00",
            "data/" + "a" * 300 + ".png", "~/x.png", "C:\\\\x.png", "file:///etc/passwd", "data/missing.png",
            "données/ä.png", "./data/a.png", "data//a.png", " data/a.png ",
        ]
        header = rng.choice(_HEADERS)
        lines = [header] if header else []
        for _ in range(rng.randint(0, 12)):
            cells = [rng.choice(names), rng.choice(_LABELS), rng.choice(_SPLITS), f"P{rng.randint(0, 99)}"]
            lines.append(",".join(cells[: rng.choice((1, 2, 2, 3, 3, 4, 5))]))
        text = "\n".join(lines)
        if rng.random() < 0.05:
            text += "\n" + "a" * rng.choice((131_073, 200_000)) + ",normal"  # beyond csv's field size limit
        raw = text.encode("utf-8")
        if rng.random() < 0.3:
            raw = mutate_bytes(raw, rng)
        if rng.random() < 0.1:
            raw = rng.choice((b"\xef\xbb\xbf", b"\xff\xfe", b"")) + raw
        name = "list-copy.csv" if rng.random() < 0.3 else "list.csv"
        target = folder / "csvdir" / name
        target.write_bytes(raw)
        return target


# -- .npz inputs ---------------------------------------------------------------------------
_NPZ_KEYS = ("train_images", "train_labels", "val_images", "val_labels", "test_images", "test_labels", "images",
             "labels", "weird key", "../evil")
_IMAGE_DTYPES = ("uint8", "uint8", "uint16", "int8", "float32", "bool", "int64", "<U3")


def _random_array(rng: random.Random, key: str) -> np.ndarray:
    n = rng.choice((0, 1, 2, 3, 3, 5))
    if rng.random() < 0.6:  # well-formed (MedMNIST-like), so that the import itself gets exercised
        if key.endswith("labels"):
            return np.array([[rng.randint(0, 2)] for _ in range(3)], dtype=np.int64)
        shape = rng.choice(((3, 8, 8), (3, 8, 8, 3), (3, 5, 7, 1)))
        return np.random.default_rng(rng.getrandbits(32)).integers(0, 256, size=shape).astype(
            rng.choice(("uint8", "uint16")))
    if key.endswith("labels"):
        shape = rng.choice(((n,), (n, 1), (n, 2), (n + 1,), ()))
        dtype = rng.choice(("int64", "int64", "uint8", "float64", "bool", "<U2"))
        values = rng.choice((0, 1, 2, -1, 2**40, 255))
        return np.full(shape, values if dtype not in ("bool", "<U2") else 1).astype(dtype)
    height, width = rng.choice((0, 1, 4, 8, 13)), rng.choice((0, 1, 4, 8))
    shape = rng.choice(((n, height, width), (n, height, width), (n, height, width, 1), (n, height, width, 3),
                        (n, height, width, 4), (n,), (n, height, width, 3, 2)))
    dtype = rng.choice(_IMAGE_DTYPES)
    generator = np.random.default_rng(rng.getrandbits(32))
    array = generator.integers(0, 256, size=shape)
    return array.astype(dtype)


def _npy_with_shape(array: np.ndarray, declared_shape: tuple[int, ...]) -> bytes:
    """The ``.npy`` bytes of ``array`` whose header claims ``declared_shape`` (a lying header)."""
    buffer = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False, "shape": declared_shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    buffer.write(array.tobytes())
    return buffer.getvalue()


@dataclass
class NpzImportInput:
    """A ``.npz`` with random keys, dtypes and shapes, lying ``.npy`` headers or corrupt zip bytes."""

    def __call__(self, rng: random.Random, folder: Path) -> Path:
        keys = rng.sample(_NPZ_KEYS, rng.randint(1, 5))
        if rng.random() < 0.5:
            keys = list(dict.fromkeys(["train_images", "train_labels"] + keys))
        members = {key: _random_array(rng, key) for key in keys}
        compression = zipfile.ZIP_DEFLATED if rng.random() < 0.5 else zipfile.ZIP_STORED
        buffer = io.BytesIO()
        liar = rng.choice(keys) if rng.random() < 0.25 else None
        with zipfile.ZipFile(buffer, "w", compression) as archive:
            for key, array in members.items():
                if key == liar:
                    declared = rng.choice(((10**6, 10**6), (2**31, 64, 64), (100_000, 512, 512), (3, 2**40)))
                    archive.writestr(f"{key}.npy", _npy_with_shape(array, declared))
                else:
                    item = io.BytesIO()
                    np.lib.format.write_array(item, array, allow_pickle=False)
                    archive.writestr(f"{key}.npy", item.getvalue())
        data = buffer.getvalue()
        if rng.random() < 0.15:
            data = mutate_bytes(data, rng)
        target = folder / "arrays.npz"
        target.write_bytes(data)
        return target


def import_campaigns(shared_data: Path | None = None) -> list[FuzzCampaign]:
    """The CSV and ``.npz`` importer campaigns."""
    from PIL import Image

    from medtl_gui.core.imaging.fuzzing.seeds import dicom_seeds

    buffer = io.BytesIO()
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(buffer, format="PNG")
    dicom = next((s.data for s in dicom_seeds(shared_data) if s.name.endswith("/CT_small.dcm")), None)
    warm = ("medtl_gui.core.project",)
    return [
        FuzzCampaign("import-csv", f"{_MODULE}:target_import_csv", CsvImportInput(buffer.getvalue(), dicom), warm),
        FuzzCampaign("import-npz", f"{_MODULE}:target_import_npz", NpzImportInput(), warm),
    ]
