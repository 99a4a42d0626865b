"""Fuzz campaign for reading weights files, and the zip bomb the benchmark and tests use.

Contract of :func:`~medtl_gui.core.models.weights.safe_load.load_state_dict_file`
on any input: it returns a state dict or raises ``WeightsError`` (a reason
naming the file), never anything else, never runs code from the file, and
never allocates memory out of proportion to the file (a record that
declares gigabytes): the fuzz worker's address-space limit turns that into
a memory finding.

Inputs: a tiny ``torch.save`` archive (and a safetensors file) with byte
mutations, with records whose declared sizes lie, with one deflated record
declaring up to 64 MiB (a small zip bomb), or with a pickle that would run
code.
"""

from __future__ import annotations

import io
import os
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

from medtl_gui.core.imaging.fuzzing.byte_mutations import mutate_bytes
from medtl_gui.core.imaging.fuzzing.contract import ContractViolation, Outcome
from medtl_gui.core.imaging.fuzzing.runner import FuzzCampaign

_MODULE = "medtl_gui.core.models.weights.weights_fuzzing"


def write_weights_zip_bomb(path: str | os.PathLike, declared_bytes: int, chunk_bytes: int = 1 << 20) -> Path:
    """A ``.pth`` laid out as ``torch.save`` writes it, whose tensor record is ``declared_bytes`` of deflated zeros.

    The record is streamed through ``zipfile`` (never held in memory), so a
    4 GiB record makes a ~4 MB file; ``torch.load`` would inflate it whole.
    """
    import torch

    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(4)}, buffer)
    chunk = bytes(chunk_bytes)
    path = Path(path)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as template, zipfile.ZipFile(path, "w") as out:
        for info in template.infolist():
            if not info.filename.endswith("/data/0"):
                out.writestr(info, template.read(info.filename))
                continue
            record = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            record.compress_type = zipfile.ZIP_DEFLATED
            with out.open(record, "w", force_zip64=True) as stream:
                remaining = declared_bytes
                while remaining > 0:
                    stream.write(chunk[: min(remaining, len(chunk))])
                    remaining -= len(chunk)
    return path


# -- target (runs in the worker) -------------------------------------------------------------
def target_load_weights(path: str) -> Outcome:
    """Read a weights file; a refusal must be a ``WeightsError`` and nothing may have run."""
    from medtl_gui.core.models.weights.errors import WeightsError
    from medtl_gui.core.models.weights.safe_load import load_state_dict_file

    marker = Path(path).parent / "ran"
    try:
        state = load_state_dict_file(path)
    except WeightsError as exc:
        status, detail = "rejected", exc.reason
    else:
        if not isinstance(state, dict) or not state:
            raise ContractViolation(f"returned {type(state).__name__} instead of a state dict")
        status, detail = "read", f"{len(state)} tensors"
    if marker.exists():
        raise ContractViolation("code from the weights file ran")
    return status, detail[:480]


# -- inputs (made in the parent) --------------------------------------------------------------
class _Exploit:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _lie_about_sizes(data: bytes, rng: random.Random) -> bytes:
    """Patch one central-directory entry so its record declares another (un)compressed size."""
    raw = bytearray(data)
    headers, at = [], raw.find(b"PK\x01\x02")
    while at >= 0:
        headers.append(at)
        at = raw.find(b"PK\x01\x02", at + 4)
    if headers:
        field = rng.choice((20, 24, 24))  # compressed size, uncompressed size
        start = rng.choice(headers) + field
        raw[start:start + 4] = rng.choice((2**31 - 1, 2**32 - 2, 64 << 20, 0, 7)).to_bytes(4, "little")
    return bytes(raw)


@dataclass
class WeightsFileInput:
    """A small ``.pth`` or ``.safetensors`` state dict, mutated, lying, bombed or booby-trapped."""

    def __call__(self, rng: random.Random, folder: Path) -> Path:
        import torch

        generator = torch.Generator().manual_seed(rng.getrandbits(31))
        state = {"conv.weight": torch.randn(4, 3, 3, 3, generator=generator), "fc.bias": torch.zeros(rng.randint(1, 9))}
        kind = rng.choice(("pth", "pth", "pth", "safetensors", "bomb", "lie", "pickle"))
        target = folder / ("weights.safetensors" if kind == "safetensors" else "weights.pth")
        if kind == "bomb":
            return write_weights_zip_bomb(target, rng.choice((2 << 20, 16 << 20, 64 << 20)))
        buffer = io.BytesIO()
        if kind == "safetensors":
            from safetensors.torch import save

            data = save(state)
        elif kind == "pickle":
            torch.save({"w": _Exploit(str(folder / "ran"))}, buffer)
            data = buffer.getvalue()
        else:
            torch.save(state, buffer)
            data = buffer.getvalue()
        if kind == "lie":
            data = _lie_about_sizes(data, rng)
        if rng.random() < 0.6:
            data = mutate_bytes(data, rng)
        target.write_bytes(data)
        return target


def weights_campaigns() -> list[FuzzCampaign]:
    """The weights-file campaign (torch is imported by the worker before its memory limit is set)."""
    warm = ("torch", "safetensors.torch", "medtl_gui.core.models.weights.safe_load")
    return [FuzzCampaign("weights-file", f"{_MODULE}:target_load_weights", WeightsFileInput(), warm, bare_worker=True)]
