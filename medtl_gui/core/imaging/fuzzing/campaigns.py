"""The reader fuzz campaigns: ``read_scan`` per format, ``describe`` and ``find_series``.

Target functions (``target_*``) run inside the worker; input makers run in
the parent. Each campaign's contract: the call returns a well-formed result
(:func:`.contract.check_scan`) or raises ``ScanReadError`` - nothing else.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from medtl_gui.core.imaging.fuzzing.byte_mutations import mutate_bytes
from medtl_gui.core.imaging.fuzzing.contract import ContractViolation, Outcome, check_scan
from medtl_gui.core.imaging.fuzzing.format_mutations import (
    mutate_dicom,
    mutate_jpeg,
    mutate_nifti,
    mutate_png,
    mutate_text_header,
    mutate_tiff,
)
from medtl_gui.core.imaging.fuzzing.runner import FuzzCampaign
from medtl_gui.core.imaging.fuzzing.seeds import Seed, dicom_seeds, mr_series_slices, raster_seeds, volume_seeds

#: ``mutator(data, rng, splice_with)`` -> mutated bytes
Mutator = Callable[[bytes, random.Random, tuple[bytes, ...]], bytes]

_MODULE = "medtl_gui.core.imaging.fuzzing.campaigns"
#: share of inputs passed on unmodified (keeps the "valid input reads" half of the contract tested)
_UNMUTATED_SHARE = 0.03


# -- targets (run in the worker) -----------------------------------------------------------
def target_read_scan(path: str) -> Outcome:
    """``read_scan(path)``: a consistent Scan, or ScanReadError."""
    from medtl_gui.core.imaging import ScanReadError, read_scan

    try:
        scan = read_scan(path)
    except ScanReadError as exc:
        return "rejected", exc.reason
    check_scan(scan)
    return "read", f"{scan.kind} {scan.shape}"


def target_describe(path: str) -> Outcome:
    """``describe(path)``: a summary that JSON can encode strictly, or ScanReadError."""
    from medtl_gui.core.imaging import ScanReadError, describe

    try:
        summary = describe(path)
    except ScanReadError as exc:
        return "rejected", exc.reason
    try:
        json.dumps(summary, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ContractViolation(f"describe() returned something JSON cannot encode: {exc}") from None
    return "read", str(summary.get("kind"))


def target_find_series(path: str) -> Outcome:
    """``find_series(folder)`` never fails; reading each series found gives a Scan or ScanReadError."""
    from medtl_gui.core.imaging import ScanReadError, find_series, read_scan

    listing = find_series(path)
    folder = Path(path).resolve()
    for series in listing:
        for file in series.files:
            if not Path(file).resolve().is_relative_to(folder):
                raise ContractViolation(f"series file {file} lies outside the folder")
    for skipped_path, reason in listing.skipped:
        if not isinstance(reason, str) or not reason:
            raise ContractViolation(f"skipped {skipped_path} without a reason")
    outcomes = []
    for series in listing[:2]:
        try:
            check_scan(read_scan(path, series_uid=series.uid))
            outcomes.append("read")
        except ScanReadError:
            outcomes.append("rejected")
    status = "read" if "read" in outcomes else "rejected"
    return status, f"{len(listing)} series, {len(listing.skipped)} skipped, {outcomes}"


# -- input makers (run in the parent) --------------------------------------------------------
@dataclass
class MutatedFile:
    """Inputs made by mutating one seed file (chosen at random) with a format-aware mutator."""

    seeds: Sequence[Seed]
    mutators: dict[str, Mutator]  # seed suffix -> mutator ("*" for any other)

    def __call__(self, rng: random.Random, folder: Path) -> Path:
        seed = rng.choice(self.seeds)
        data = seed.data
        if rng.random() >= _UNMUTATED_SHARE:
            mutator = self.mutators.get(seed.suffix, self.mutators.get("*"))
            splice = tuple(s.data for s in rng.sample(list(self.seeds), min(2, len(self.seeds))))
            data = mutator(data, rng, splice) if mutator else mutate_bytes(data, rng)
        path = folder / f"input{seed.suffix}"
        path.write_bytes(data)
        return path


@dataclass
class MutatedSeriesFolder:
    """A folder of 2-6 DICOM slices of one series, some mutated, plus stray files."""

    slices: Sequence[bytes]
    others: Sequence[Seed]

    def __call__(self, rng: random.Random, folder: Path) -> Path:
        root = folder / "series"
        root.mkdir()
        count = rng.randint(2, min(6, max(2, len(self.slices))))
        picked = [rng.choice(self.slices) for _ in range(count)]
        for index, data in enumerate(picked):
            if rng.random() < 0.5:
                data = mutate_dicom(data, rng, tuple(self.slices[:2]))
            sub = root / "sub" if rng.random() < 0.15 else root
            sub.mkdir(exist_ok=True)
            (sub / f"IM{index:04d}{rng.choice(('.dcm', '', '.DCM', '.ima'))}").write_bytes(data)
        extra = rng.random()
        if extra < 0.15:
            other = rng.choice(self.others)
            (root / f"other{other.suffix}").write_bytes(mutate_dicom(other.data, rng, ()))
        elif extra < 0.22:
            (root / "DICOMDIR").write_bytes(rng.randbytes(rng.randint(0, 300)))
        elif extra < 0.3:
            (root / "empty.dcm").write_bytes(b"")
        elif extra < 0.36:
            (root / "notes.txt").write_bytes(b"not an image")
        return root


def synthetic_series(seed: Seed, n_slices: int = 3) -> list[bytes]:
    """``n_slices`` copies of a single-frame DICOM file, moved along the slice normal (a small series)."""
    from pydicom import dcmread
    from pydicom.uid import generate_uid

    ds = dcmread(io.BytesIO(seed.data))
    series_uid = generate_uid(entropy_srcs=[seed.name])
    out = []
    for z in range(n_slices):
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[seed.name, str(z)])
        ds.InstanceNumber = z + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0.0, 0.0, 2.5 * z]
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=False)
        out.append(buffer.getvalue())
    return out


def reader_campaigns(shared_data: Path | None = None) -> list[FuzzCampaign]:
    """Every reader campaign; seeds are built now (a second or two)."""
    dicom = dicom_seeds(shared_data)
    rasters = raster_seeds()
    volumes = volume_seeds()
    dicom_mutators: dict[str, Mutator] = {".dcm": mutate_dicom}
    read = f"{_MODULE}:target_read_scan"
    campaigns = [
        FuzzCampaign("read_scan-dicom", read, MutatedFile(dicom, dicom_mutators)),
        FuzzCampaign("read_scan-png", read, MutatedFile(rasters["png"], {".png": mutate_png})),
        FuzzCampaign("read_scan-jpeg", read, MutatedFile(rasters["jpeg"], {".jpg": mutate_jpeg})),
        FuzzCampaign("read_scan-tiff", read, MutatedFile(rasters["tiff"], {".tif": mutate_tiff})),
        FuzzCampaign("read_scan-gif-bmp", read, MutatedFile(rasters["gif"] + rasters["bmp"], {})),
        FuzzCampaign("read_scan-nifti", read, MutatedFile(volumes["nifti"], {".nii": mutate_nifti,
                                                                               ".nii.gz": mutate_nifti})),
        FuzzCampaign("read_scan-nrrd", read, MutatedFile(volumes["nrrd"], {".nrrd": mutate_text_header})),
        FuzzCampaign("read_scan-mha", read, MutatedFile(volumes["mha"], {".mha": mutate_text_header})),
    ]
    everything = dicom + [s for group in (*rasters.values(), *volumes.values()) for s in group]
    mixed: dict[str, Mutator] = {
        ".dcm": mutate_dicom, ".png": mutate_png, ".jpg": mutate_jpeg, ".tif": mutate_tiff, ".nii": mutate_nifti,
        ".nii.gz": mutate_nifti, ".nrrd": mutate_text_header, ".mha": mutate_text_header,
    }
    campaigns.append(FuzzCampaign("describe", f"{_MODULE}:target_describe", MutatedFile(everything, mixed)))
    slices = mr_series_slices(shared_data)
    for name in ("CT_small.dcm", "MR_small.dcm"):
        seed = next((s for s in dicom if s.name.endswith("/" + name)), None)
        if seed is not None:
            slices += synthetic_series(seed)
    campaigns.append(FuzzCampaign("find_series", f"{_MODULE}:target_find_series",
                                  MutatedSeriesFolder(slices, dicom)))
    return campaigns
