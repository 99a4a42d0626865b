"""Hashing and loading weights files without ever executing code from them.

Only two formats are read: safetensors, and PyTorch files through
``torch.load(..., weights_only=True)``, whose restricted unpickler refuses
any global that is not a tensor type, so a pickle that would call
``os.system`` is rejected before anything runs.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from medtl_gui.core.models.weights.archive_limits import check_archive_bounds, open_regular_file
from medtl_gui.core.models.weights.errors import TamperedWeightsError, UnsafeWeightsError, WeightsError

#: torch.hub's convention: ``name-<sha256 prefix>.ext``
HASH_PREFIX_PATTERN = re.compile(r"-([0-9a-f]{8,64})\.(?:pth|pt|bin|safetensors)$")

SUPPORTED_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a regular file's bytes (:class:`WeightsError` for a device, FIFO or folder)."""
    digest = hashlib.sha256()
    with open_regular_file(path) as stream:
        while chunk := stream.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def name_hash_prefix(file_name: str) -> str | None:
    """The SHA-256 prefix in a torch-hub style file name, if it has one."""
    match = HASH_PREFIX_PATTERN.search(file_name)
    return match.group(1) if match else None


def check_sha256(path: str | os.PathLike, expected: str, actual: str | None = None) -> str:
    """Raise :class:`TamperedWeightsError` unless the file's digest starts with ``expected``.

    Returns the full digest. ``expected`` may be a prefix (torchvision file
    names) or a full digest (manifest).
    """
    digest = actual or sha256_file(path)
    if not digest.startswith(expected.lower()):
        raise TamperedWeightsError(path, expected, digest[: max(len(expected), 8)])
    return digest


def _unwrap(obj: object, path: Path) -> dict:
    """Accept a bare state dict or the common ``{"state_dict": ...}`` / ``{"model": ...}`` wrappers."""
    import torch

    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            inner = obj.get(key)
            if isinstance(inner, dict) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                return inner
    raise WeightsError(path, "not a state dict (expected a mapping of parameter names to tensors)")


def load_state_dict_file(path: str | os.PathLike) -> dict:
    """Read a state dict from safetensors or a ``weights_only`` PyTorch file.

    Raises :class:`UnsafeWeightsError` for pickles holding anything but
    tensors (nothing from the file is executed) and :class:`WeightsError`
    for unreadable or unsupported files, anything but a regular file, and
    zip archives whose declared sizes are out of bounds (checked before
    anything is inflated, and before torch is even imported).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise WeightsError(path, f"unsupported weights format {suffix!r}; expected one of {', '.join(SUPPORTED_SUFFIXES)}")
    check_archive_bounds(path)

    import pickle

    import torch

    if suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return _unwrap(load_file(str(path), device="cpu"), path)
        except (SafetensorError, OSError, ValueError) as exc:
            raise WeightsError(path, f"not a readable safetensors file ({exc})") from exc
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsafeWeightsError(
            path,
            "refused: the file holds Python objects or code, not just tensors; it was not "
            f"executed (safe loader: {first_line})",
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            AssertionError, NotImplementedError) as exc:  # a mangled pickle trips the safe unpickler anywhere
        raise WeightsError(path, f"not a readable PyTorch weights file ({type(exc).__name__}: {exc})") from exc
    return _unwrap(obj, path)
