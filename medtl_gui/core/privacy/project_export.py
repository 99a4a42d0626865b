"""Export a project's labels and masks out of the project folder - de-identified unless the user opts out.

Every export appends one entry to the project's append-only export log
(``Project.record_export``: who, when, what, where, de-identified or not).
De-identification uses the project's own secret salt (created on first use,
stored in the project, never exported), so an image's pseudonym is the same
in every export of the same project and nowhere else.

- :func:`export_labels_csv` - one row per image: id, path, patient, UIDs,
  modality, shape, label, label status, split, domain.
- :func:`export_masks` - the final masks as PNG files plus ``manifest.csv``.

Spreadsheet safety: a cell that starts with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return (a label named ``=HYPERLINK(...)``) would run as a
formula when the CSV is opened in a spreadsheet; it is written with a
leading ``'`` (OWASP's advice for CSV injection), which spreadsheets show
as text. Plain numbers (``-3``, ``+0.5``, ``1e-3``) are not formulas and are
written as they are.
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medtl_gui.core.project.atomic_files import atomic_write_bytes
from medtl_gui.core.project.file_names import to_stored
from medtl_gui.core.privacy.deidentify import DEIDENTIFICATION_METHOD, deidentify_record

if TYPE_CHECKING:
    from medtl_gui.core.project import ExportRecord, Project

#: project meta key of the de-identification salt
SALT_META_KEY = "privacy_salt"
LABEL_COLUMNS = ("id", "path", "patient_id", "study_uid", "series_uid", "modality", "shape", "n_frames", "label",
                 "label_status", "split", "domain")


def project_salt(project: "Project") -> str:
    """The project's secret de-identification salt (created and stored on first use)."""
    salt = project.meta(SALT_META_KEY)
    if not salt:
        salt = secrets.token_hex(16)
        project.set_meta(SALT_META_KEY, salt)
    return salt


def _label_rows(project: "Project", split: str | None) -> list[dict[str, Any]]:
    return [
        {"id": r.id, "path": r.path, "patient_id": r.patient_id, "study_uid": r.study_uid, "series_uid": r.series_uid,
         "modality": r.modality, "shape": "x".join(str(n) for n in r.shape), "n_frames": r.n_frames,
         "label": r.label, "label_status": r.label_status, "split": r.split, "domain": r.domain}
        for r in project.images(split=split)
    ]


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula (see the module docstring)."""
    if not isinstance(value, str) or not value or value[0] not in _FORMULA_STARTS or _NUMBER.fullmatch(value):
        return value
    return "'" + value


_FORMULA_STARTS = frozenset("=+-@\t\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _csv_text(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else spreadsheet_safe(v)) for k, v in row.items()})
    return buffer.getvalue()


def _deidentified(row: dict[str, Any], salt: str) -> dict[str, Any]:
    """``deidentify_record`` of a row whose path may be a file name that is not valid UTF-8 (its
    pseudonym is taken from the stored form, the name itself for every valid name)."""
    if row.get("path"):
        row = dict(row, path=to_stored(row["path"]))
    return deidentify_record(row, salt=salt)


def _write_atomically(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8", "surrogateescape"))  # undecodable file names: their own bytes


def export_labels_csv(
    project: "Project", destination: str | os.PathLike, *, deidentify: bool = True, split: str | None = None,
    user: str | None = None,
) -> "ExportRecord":
    """Write the labels (of one split, or all) as CSV; de-identified unless ``deidentify=False``; logged."""
    target = Path(destination).expanduser().resolve()
    rows = _label_rows(project, split)
    if deidentify:
        salt = project_salt(project)
        rows = [_deidentified(row, salt) for row in rows]
    _write_atomically(target, _csv_text(rows, LABEL_COLUMNS))
    return project.record_export(
        "labels-csv", target, deidentified=deidentify, n_items=len(rows), user=user,
        details={"split": split, "method": DEIDENTIFICATION_METHOD if deidentify else None},
    )


def export_masks(
    project: "Project", destination: str | os.PathLike, *, deidentify: bool = True, user: str | None = None
) -> "ExportRecord":
    """Copy every final mask into ``destination`` with a ``manifest.csv``; de-identified unless asked; logged.

    Mask files are named ``image<id>[_z<slice>].png`` (the project's own
    image number identifies nobody); the manifest links each file to its
    image's (pseudonymised) patient, UIDs and label.
    """
    folder = Path(destination).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    salt = project_salt(project) if deidentify else ""
    images = {row["id"]: row for row in _label_rows(project, None)}
    manifest = []
    for mask in project.mask_records():
        name = f"image{mask.image_id}" + ("" if mask.slice_index is None else f"_z{mask.slice_index}") + ".png"
        shutil.copyfile(project.folder / mask.path, folder / name)
        row = dict(images[mask.image_id], mask_file=name, slice=mask.slice_index, mask_origin=mask.origin)
        manifest.append(_deidentified(row, salt) if deidentify else row)
    _write_atomically(folder / "manifest.csv", _csv_text(manifest, LABEL_COLUMNS + ("mask_file", "slice",
                                                                                       "mask_origin")))
    return project.record_export(
        "masks", folder, deidentified=deidentify, n_items=len(manifest), user=user,
        details={"method": DEIDENTIFICATION_METHOD if deidentify else None},
    )
