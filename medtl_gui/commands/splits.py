"""`medtl split`: show and change a project's train/val/test splits.

- ``medtl split PROJECT``: give every image without a split one (the project's
  split settings; what each import already does) and print the counts per
  split and class.
- ``--val F --test F --by patient|image|case --seed N``: change the project's
  split settings (kept in the project: later imports use them too), then
  assign the images without a split. Automatic assignments already made stay
  as they are unless ``--reassign``, which redistributes every automatic
  assignment with the settings. Splits given by the imported data (a CSV
  ``split`` column, an ``.npz``'s official splits) and splits set by hand are
  never redistributed: they change only with ``--ids``.
- ``--ids 1,2,3 --to train|val|test|none``: move images by hand (kept by
  every later assignment; ``none`` hands them back to the automatic
  assignment, which fills them at the next ``medtl split`` or import).

Every change is a history entry (action "split", with the user). ``--json``
prints the changes and the counts as JSON.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from typing import Any

from medtl_gui.commands import UsageError


def register(sub: Any) -> None:
    """Add ``split`` to the ``medtl`` sub-commands."""
    from medtl_gui.core.project.split_planning import GROUPINGS

    p = sub.add_parser("split", help="show and change a project's train/val/test splits",
                       description="Assign every image without a split (stratified by class, grouped by patient, "
                                   "case or image, seeded), optionally with new shares; --reassign redistributes "
                                   "automatic assignments; --ids/--to moves images by hand. Splits from the "
                                   "imported data or set by hand are only changed by --ids.")
    p.add_argument("project", help="project folder")
    p.add_argument("--val", type=float, metavar="F", help="share of validation images (default 0.15)")
    p.add_argument("--test", type=float, metavar="F", help="share of test images (default 0.15)")
    p.add_argument("--by", choices=GROUPINGS,
                   help="keep together: patient (same PatientID), case (an image with its masks; same patient or "
                        "DICOM study), image (none). Default: patient when PatientIDs exist, case for "
                        "segmentation projects, else image")
    p.add_argument("--seed", type=int, help="random seed of the assignment (default 0)")
    p.add_argument("--reassign", action="store_true",
                   help="redistribute every automatic assignment (never splits from the data or set by hand)")
    p.add_argument("--ids", help="comma-separated image ids to move by hand (with --to)")
    p.add_argument("--to", choices=("train", "val", "test", "none"), help="split for --ids (none: unassign)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_split)


def run_split(args: argparse.Namespace) -> int:
    """Handler of ``medtl split``."""
    from medtl_gui.core.project import Project, ProjectError
    from medtl_gui.core.project.history import current_user

    by_hand = args.ids is not None or args.to is not None
    if by_hand and (args.ids is None or args.to is None):
        raise UsageError("--ids and --to go together (e.g. --ids 3,7 --to test)")
    if by_hand and (args.reassign or any(v is not None for v in (args.val, args.test, args.by, args.seed))):
        raise UsageError("--ids/--to moves images by hand; give --val/--test/--by/--seed/--reassign in another call")
    try:
        with Project.open(args.project) as project:
            if by_hand:
                return _move(project, _parse_ids(args.ids), None if args.to == "none" else args.to,
                             user=current_user(), as_json=args.json)
            return _assign(project, args, user=current_user())
    except ProjectError as exc:
        raise UsageError(str(exc)) from exc


def _assign(project: Any, args: argparse.Namespace, *, user: str) -> int:
    stored = project.split_settings()
    overrides = {key: value for key, value in (("val_fraction", args.val), ("test_fraction", args.test),
                                               ("by", args.by), ("seed", args.seed)) if value is not None}
    try:
        settings = replace(stored, **overrides).validate()
    except ValueError as exc:
        raise UsageError(f"{exc} (--val, --test)" if "fraction" in str(exc) else str(exc)) from exc
    if settings != stored:
        project.save_split_settings(settings)
    summary = project.apply_split_settings(settings, keep_existing=not args.reassign, user=user)
    automatic = sum(1 for record in project.images() if record.split_origin == "auto")
    if args.json:
        print(json.dumps({"changed": summary.changed, "reassigned": bool(args.reassign),
                          "settings_saved": settings != stored, **summary.as_dict()}, indent=2))
        return 0
    print(summary.headline())
    print(summary.table())
    if settings != stored and not args.reassign and automatic:
        print(f"new settings saved; the {automatic} images assigned automatically before keep their split "
              f"(--reassign redistributes them)")
    return 0


def _move(project: Any, ids: list[int], split: str | None, *, user: str, as_json: bool) -> int:
    moved = project.set_splits(ids, split, user=user)
    summary = project.split_summary()
    if as_json:
        print(json.dumps({"moved": moved, "to": split, **summary.as_dict()}, indent=2))
        return 0
    where = split or "no split (filled by the next automatic assignment)"
    print(f"{len(moved)} image(s) moved to {where}" + (f": {', '.join(map(str, moved))}" if moved else ""))
    print(summary.table())
    return 0


def _parse_ids(text: str) -> list[int]:
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise UsageError(f"--ids: expected comma-separated integers, got {text!r}") from exc
    if not ids:
        raise UsageError("--ids: no image id given")
    return ids
