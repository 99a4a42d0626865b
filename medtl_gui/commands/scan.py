"""`medtl read PATH [--json] [--series UID]`: what MedTL sees in a scan file or DICOM folder.

Prints a short human summary (or the JSON of
:func:`medtl_gui.core.imaging.describe` with ``--json``). Unreadable input
raises ``ScanReadError``, which ``medtl_gui.cli`` prints as one line with
exit code 2. Library warnings (e.g. pydicom's about invalid attribute
values) are collected and shown once each instead of as raw warning dumps.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``read`` sub-command."""
    parser = subparsers.add_parser(
        "read",
        help="read a scan file or DICOM folder and print what it holds",
        description=(
            "Read a DICOM file or series folder, NIfTI/MHA/MHD/NRRD volume, or "
            "PNG/JPEG/TIFF/GIF/BMP image and print its shape, type, geometry, value "
            "range and encoding. Exit code 2 when it cannot be read."
        ),
    )
    parser.add_argument("path", help="scan file or folder of DICOM files")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--series", metavar="UID", help="series to read when a folder holds several")
    parser.set_defaults(func=run_read)


def run_read(args: argparse.Namespace) -> int:
    """Handler of ``medtl read``: print the summary, return the exit code."""
    from medtl_gui.core.imaging import describe

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        info = describe(args.path, args.series)
    notes = list(dict.fromkeys(" ".join(str(w.message).split()) for w in caught))
    if args.json:
        if notes:
            info["library_warnings"] = notes
        print(json.dumps(info, indent=2, allow_nan=False))
    else:
        print(format_summary(info))
        for note in notes:
            print(f"medtl read: warning: {note}", file=sys.stderr)
    return 0


def _number(value: Any) -> str:
    if value is None:
        return "?"
    if isinstance(value, float):
        return f"{value + 0.0:.6g}"  # + 0.0 turns -0.0 into 0.0
    return str(value)


def _triple(values: list[Any] | None, unit: str = "") -> str:
    if not values:
        return "?"
    return " x ".join(_number(v) for v in values) + unit


def format_summary(info: dict[str, Any]) -> str:
    """The human-readable text of a :func:`describe` result."""
    lines = [f"{'path:':13}{info['path']}"]
    kind = info.get("kind", "?")
    if info.get("modality"):
        kind += f" ({info['modality']})"
    lines.append(f"{'kind:':13}{kind}")
    for series in info.get("series", []):
        lines.append(
            f"{'series:':13}{series['uid']}  {series.get('modality') or '?':6} "
            f"{series['n_files']:5d} files  {series.get('description') or ''}"
        )
    if info.get("skipped"):
        lines.append(f"{'skipped:':13}{info['skipped']} non-image files")
    if info.get("note"):
        lines.append(f"{'note:':13}{info['note']}")
    if "shape" not in info:
        return "\n".join(lines)
    colour = ", RGB" if info.get("is_color") else ""
    lines.append(f"{'shape:':13}{_triple(info['shape'])}  {info['dtype']}{colour}")
    lines.append(f"{'spacing:':13}{_triple(info.get('spacing'), ' mm')}")
    lines.append(f"{'origin:':13}{_triple(info.get('origin'))}")
    lines.append(f"{'values:':13}{_number(info.get('min'))} .. {_number(info.get('max'))}")
    window = info.get("window")
    default = info.get("default_window")
    if window:
        lines.append(f"{'window:':13}center {_number(window[0])}, width {_number(window[1])} (from the file)")
    elif default:
        lines.append(f"{'window:':13}center {_number(default[0])}, width {_number(default[1])} (default)")
    if info.get("transfer_syntax"):
        lines.append(f"{'encoding:':13}{info['transfer_syntax']} ({info.get('transfer_syntax_uid')})")
    if info.get("photometric_interpretation"):
        shown = info.get("photometric_out")
        converted = f" -> {shown}" if shown and shown != info["photometric_interpretation"] else ""
        lines.append(f"{'photometric:':13}{info['photometric_interpretation']}{converted}")
    if info.get("decoder"):
        lines.append(f"{'decoder:':13}{info['decoder']}")
    lut = info.get("modality_lut")
    if lut and lut.get("source") not in (None, "none"):
        detail = ", ".join(f"{k} {_number(v)}" for k, v in lut.items() if k != "source")
        lines.append(f"{'rescale:':13}{lut['source']}" + (f" ({detail})" if detail else ""))
    for warning in info.get("warnings", []):
        lines.append(f"{'warning:':13}{warning}")
    return "\n".join(lines)
