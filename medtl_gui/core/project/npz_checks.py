"""Check a ``.npz`` archive before numpy loads it.

``np.load(...)[key]`` allocates the array its ``.npy`` header declares
*before* reading the data: a member whose header claims a shape of
(10**6, 10**6) makes a 10 KB file ask for terabytes. A zip member may also
declare an uncompressed size far beyond what its compressed bytes can hold
(a zip bomb). :func:`npz_problem` reads only the zip directory and each
member's ``.npy`` header and says what is wrong, so the importer can skip
the file with that reason instead of allocating.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from medtl_gui.core.imaging.limits import MAX_DECODED_BYTES, expansion_problem


def _member_problem(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    problem = expansion_problem(info.file_size, info.compress_size, f"member {name!r}")
    if problem is not None:
        return problem
    if not name.endswith(".npy"):
        return None
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        header_bytes = member.tell()
    if dtype.hasobject:
        return f"member {name!r} holds Python objects (would need pickle); refused"
    declared = math.prod(shape) * dtype.itemsize
    if declared > info.file_size - header_bytes:
        return (f"member {name!r} declares an array of shape {shape} ({declared} bytes) "
                f"but holds only {max(0, info.file_size - header_bytes)} bytes")
    return None


def npz_problem(path: Path) -> str | None:
    """Why ``path`` must not be loaded (a lying header, a bomb, pickled objects), or None when it is safe."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            total = sum(info.file_size for info in members)
            if total > MAX_DECODED_BYTES:
                return f"the archive would unpack to {total} bytes (limit {MAX_DECODED_BYTES})"
            for info in members:
                problem = _member_problem(archive, info)
                if problem is not None:
                    return problem
    except Exception as exc:  # zipfile.BadZipFile, ValueError from a bad .npy header, OSError ...
        message = " ".join(str(exc).split()) or type(exc).__name__
        return f"not a readable .npz archive ({type(exc).__name__}: {message})"
    return None
