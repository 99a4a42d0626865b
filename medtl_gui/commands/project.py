"""`medtl import | info | demo | check | export-labels | export-masks | exports`: project sub-commands.

- ``medtl import PROJECT SOURCE... [--copy] [--class-names a,b] [--limit N] [--json]``
  creates the project if needed, imports, prints progress on stderr and a
  summary (or the report as JSON on stdout). Every image without a split then
  gets one (see ``medtl split``); the summary shows the counts per split and
  class. Exit 0 even when some files were skipped (the report lists them);
  exit 2 when a source does not exist.
- ``medtl info PROJECT [--json]``: counts per split and class, and per domain.
- ``medtl domain PROJECT NAME (--ids 1,2,5 | --folder DIR | --all-unlabelled)``:
  put images into domain NAME (``source`` is the default domain; a target
  domain is used by ``medtl train --domain-adaptation``). Each change is a
  history entry.
- ``medtl demo PROJECT [--force]``: create the built-in demo project; refuses
  a non-empty folder that is not a demo project.
- ``medtl export-labels PROJECT OUT.csv [--split S] [--identified]`` and
  ``medtl export-masks PROJECT OUT_DIR [--identified]``: exports,
  de-identified (PS3.15 basic profile) unless ``--identified``; each one is
  recorded in the project's export log, shown by ``medtl exports PROJECT``.
- ``medtl check PROJECT [--repair] [--json] [--verify-images]``: integrity
  check (SQLite's integrity check first, then files, mask hashes, history
  and its hash chain, leftovers of interrupted writes); ``--repair`` fixes
  what is safe to fix and checks again, and writes nothing to a damaged
  database (``--rebuild-into NEW_FOLDER`` copies what is readable into a
  new project instead). Exit 0 when no error is left (leftovers alone are
  reported but do not fail), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from medtl_gui.commands import UsageError


def register(sub: Any) -> None:
    """Add the project sub-commands to the CLI's sub-parsers."""
    p = sub.add_parser("import", help="import scans (folders, CSV, .npz, DICOM) into a project",
                       description="Import scans into PROJECT (created when absent). Each SOURCE is a folder "
                                   "with one sub-folder per class, a CSV path,label[,split], a MedMNIST .npz, "
                                   "a DICOM folder, an images/+masks folder pair, or a single file.")
    p.add_argument("project", help="project folder (created when it does not exist)")
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="files or folders to import")
    p.add_argument("--copy", action="store_true", help="copy scan files into the project (default: reference them)")
    p.add_argument("--class-names", help="comma-separated names of .npz label values 0,1,... (e.g. normal,pneumonia)")
    p.add_argument("--limit", type=int, help="import at most N images per source (per split of an .npz)")
    p.add_argument("--domain", help="domain of every imported image (site, scanner ...; default source); "
                                    "e.g. --domain target for domain adaptation")
    p.add_argument("--json", action="store_true", help="print the import report as JSON on stdout")
    p.set_defaults(func=run_import)

    p = sub.add_parser("info", help="show a project's images per split and class")
    p.add_argument("project")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_info)

    p = sub.add_parser("domain", help="put images into a domain (source, or a target domain for adaptation)",
                       description="Mark images of PROJECT as domain NAME ('source' is the default domain of "
                                   "every image). Used by medtl train --domain-adaptation --target-domain NAME.")
    p.add_argument("project")
    p.add_argument("name", help="domain name (e.g. target, scanner-b; 'source' clears the tag)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--ids", help="comma-separated image ids")
    which.add_argument("--folder", type=Path, help="every image imported from this folder")
    which.add_argument("--all-unlabelled", action="store_true", help="every image without a class label")
    p.set_defaults(func=run_domain)

    p = sub.add_parser("remove", help="remove images from a project (with their labels and masks)",
                       description="Remove images from PROJECT with their labels, masks, proposals and ranking. "
                                   "Copies the project made on import are deleted; files imported in place are "
                                   "never touched. The history keeps what was labelled, with one "
                                   "'image-removed' row per image.")
    p.add_argument("project")
    p.add_argument("--ids", required=True, help="comma-separated image ids (see the browser or medtl info)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_remove)

    p = sub.add_parser("demo", help="create the built-in demo project (synthetic scans, no download)")
    p.add_argument("project", help="folder to create (new or empty)")
    p.add_argument("--n-images", type=int, default=60, help="number of chest phantoms (default 60)")
    p.add_argument("--size", type=int, default=256, help="phantom size in pixels (default 256)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="re-create an existing demo project")
    p.set_defaults(func=run_demo)

    p = sub.add_parser("check", help="check a project's integrity, optionally repair it (exit 1 when errors remain)",
                       description="Check PROJECT: SQLite integrity, orphaned rows, missing or changed files, mask "
                                   "hashes, history consistency, leftovers of interrupted writes. With --repair, "
                                   "fix what is safe (unreferenced files go to cache/orphaned/, repairs are "
                                   "recorded in the history) and check again.")
    p.add_argument("project")
    p.add_argument("--repair", action="store_true", help="fix what can be fixed safely, then check again")
    p.add_argument("--verify-images", action="store_true", help="also re-hash image files copied into the project")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--rebuild-into", metavar="NEW_FOLDER", type=Path,
                   help="copy what is readable (images, labels, masks, splits) of a damaged project into a new "
                        "project in NEW_FOLDER; the damaged one is not changed")
    p.set_defaults(func=run_check)

    p = sub.add_parser("export-labels", help="write a project's labels as CSV (de-identified unless --identified)")
    p.add_argument("project")
    p.add_argument("destination", help="CSV file to write")
    p.add_argument("--split", choices=("train", "val", "test", "unassigned"), help="only this split")
    p.add_argument("--identified", action="store_true",
                   help="keep patient IDs, UIDs and paths (opt out of de-identification; logged as such)")
    p.set_defaults(func=run_export_labels)

    p = sub.add_parser("export-masks", help="copy a project's masks and a manifest out (de-identified unless --identified)")
    p.add_argument("project")
    p.add_argument("destination", help="folder to write")
    p.add_argument("--identified", action="store_true", help="opt out of de-identification (logged as such)")
    p.set_defaults(func=run_export_masks)

    p = sub.add_parser("exports", help="show a project's export audit log (who exported what, when, where)")
    p.add_argument("project")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_exports)


# -- handlers ----------------------------------------------------------------------------
def run_import(args: argparse.Namespace) -> int:
    from medtl_gui.core.project import Project, ProjectError, import_sources

    missing = [s for s in args.sources if not Path(s).expanduser().exists()]
    if missing:
        raise UsageError(f"source does not exist: {', '.join(missing)}")
    from medtl_gui.core.project.import_plans import checked_class_names

    try:  # refused before the project is created or anything is written
        class_names = checked_class_names(args.class_names.split(",")) if args.class_names is not None else None
    except ValueError as exc:
        raise UsageError(f"--class-names: {exc}") from exc
    progress = _ProgressLine(sys.stderr)
    try:
        with Project.open_or_create(args.project) as project:
            report = import_sources(project, args.sources, copy=args.copy, class_names=class_names,
                                    limit=args.limit, domain=args.domain, progress=progress)
    except ProjectError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        progress.finish()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(report.summary())
        if report.splits is not None:
            print(f"change the splits with: medtl split {args.project} [--val F] [--test F] [--by patient|image|case]")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from medtl_gui.core.project.domains import describe_counts, domain_counts

    with _open(args.project) as project:
        info = project.info()
        info["domains"] = domain_counts(project)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['name']}  ({info['path']})")
    print(f"images: {info['images']}  unlabelled: {info['unlabelled']}  masks: {info['masks']}"
          f" on {info['images_with_masks']} images  model proposals: {info['proposals']}")
    if info["classes"]:
        print("classes: " + ", ".join(info["classes"]))
    if info["seg_labels"]:
        print("segmentation labels: " + ", ".join(info["seg_labels"]))
    for split, counts in info["splits"].items():
        per_class = ", ".join(f"{name} {n}" for name, n in counts["classes"].items())
        print(f"  {split:<10} {counts['images']:>6} images  ({per_class or 'no classes'};"
              f" unlabelled {counts['unlabelled']})")
    if info["domains"]:
        print("domains: " + describe_counts(info["domains"]))
    return 0


def run_domain(args: argparse.Namespace) -> int:
    """Handler of ``medtl domain``."""
    from medtl_gui.core.project import ProjectError
    from medtl_gui.core.project.domains import describe_counts, domain_counts, mark_images, mark_source_folder

    with _open(args.project) as project:
        try:
            if args.folder is not None:
                changed = mark_source_folder(project, args.folder, args.name)
            else:
                if args.ids:
                    ids = _parse_ids(args.ids)
                else:
                    ids = [record.id for record in project.images(unlabelled=True)]
                changed = mark_images(project, ids, args.name)
        except ProjectError as exc:
            raise UsageError(str(exc)) from exc
        counts = domain_counts(project)
    print(f"{changed} image(s) moved to domain {args.name!r}; domains: {describe_counts(counts)}")
    return 0


def _parse_ids(text: str) -> list[int]:
    """Image ids from ``--ids 1,2,3``."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise UsageError(f"--ids: expected comma-separated integers, got {text!r}") from exc


def run_remove(args: argparse.Namespace) -> int:
    """Handler of ``medtl remove``."""
    from medtl_gui.core.project import ProjectError

    from medtl_gui.core.project import Project
    from medtl_gui.core.project.disk_space import is_disk_full
    from medtl_gui.core.project.removal import free_space_for_removal

    ids = _parse_ids(args.ids)
    try:
        opened = Project.open(args.project)
    except ProjectError as exc:  # a disk too full to open the project: free what the removal frees, then open
        if not is_disk_full(exc) or not free_space_for_removal(args.project, ids):
            raise UsageError(str(exc)) from exc
        opened = _open(args.project)
    with opened as project:
        try:
            removed = project.remove_images(ids)
        except ProjectError as exc:
            raise UsageError(str(exc)) from exc
        remaining = len(project.images())
    if args.json:
        print(json.dumps({"removed": removed, "remaining": remaining}))
    else:
        print(f"removed {len(removed)} image(s) ({', '.join(map(str, removed))}); {remaining} remain")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from medtl_gui.core.project import ProjectError, create_demo_project

    folder = Path(args.project).expanduser()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        if not _is_demo_project(folder):
            raise UsageError(f"{folder}: folder is not empty and is not a demo project; refusing to overwrite it")
        if not args.force:
            print(f"{folder} is already a demo project (use --force to re-create it)")
            return 0
        shutil.rmtree(folder)
    started = time.monotonic()
    try:
        project = create_demo_project(folder, n_images=args.n_images, size=args.size, seed=args.seed)
    except (ProjectError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    with project:
        info = project.info()
    print(f"demo project created in {folder} in {time.monotonic() - started:.1f} s: {info['images']} images,"
          f" {info['unlabelled']} unlabelled, {info['masks']} masks")
    return 0


def run_check(args: argparse.Namespace) -> int:
    import sqlite3

    from medtl_gui.core.project import ProjectError

    if args.rebuild_into is not None:
        from medtl_gui.core.project.rebuild import rebuild_project

        try:
            rebuilt = rebuild_project(args.project, args.rebuild_into)
        except ProjectError as exc:
            raise UsageError(str(exc)) from exc
        print(rebuilt.summary())
        return 0
    with _open(args.project) as project:
        try:
            report = project.check(repair=args.repair, verify_image_hashes=args.verify_images)
        except (sqlite3.DatabaseError, UnicodeDecodeError, ProjectError) as exc:  # e.g. the file went away
            raise UsageError(f"{project.folder}: the check could not finish: {exc}") from exc
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
        return 0 if report.ok else 1
    repaired = [p for p in report.problems if p.repaired]
    leftovers = [p for p in report.problems if p.severity == "leftover" and not p.repaired]
    for problem in repaired:
        print(f"  repaired: {problem.message} ({problem.repair})")
    for problem in leftovers:
        hint = f"; `medtl check --repair` would {problem.repair}" if problem.repair and not args.repair else ""
        print(f"  leftover: {problem.message}{hint}")
    for problem in report.errors:
        hint = f"; `--repair` would {problem.repair}" if problem.repair and not args.repair else ""
        print(f"  error: {problem.message}{hint}")
    if report.ok:
        print(f"{report.path}: ok" + (f" ({len(repaired)} repaired)" if repaired else ""))
        return 0
    print(f"{report.path}: {len(report.errors)} problem(s) left")
    if report.repair_refused:
        print(f"  not repaired: {report.repair_refused}")
    elif report.database_damaged:
        print(f"  the database is damaged: `--repair` will not write to it; `medtl check {args.project} "
              "--rebuild-into NEW_FOLDER` copies what is readable into a new project")
    return 1


def run_export_labels(args: argparse.Namespace) -> int:
    from medtl_gui.core.privacy import export_labels_csv

    with _open(args.project) as project:
        record = export_labels_csv(project, args.destination, deidentify=not args.identified, split=args.split)
    _print_export(record)
    return 0


def run_export_masks(args: argparse.Namespace) -> int:
    from medtl_gui.core.privacy import export_masks

    with _open(args.project) as project:
        record = export_masks(project, args.destination, deidentify=not args.identified)
    _print_export(record)
    return 0


def run_exports(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    with _open(args.project) as project:
        records = project.exports()
    if args.json:
        print(json.dumps([asdict(r) for r in records], indent=2))
        return 0
    for r in records:
        state = "de-identified" if r.deidentified else "IDENTIFIED"
        print(f"{r.timestamp}  {r.user:<12} {r.what:<12} {state:<13} {r.n_items or 0:>6} items -> {r.destination}")
    if not records:
        print("no exports recorded")
    return 0


def _print_export(record: Any) -> None:
    state = "de-identified (DICOM PS3.15 basic profile)" if record.deidentified else "NOT de-identified (--identified)"
    print(f"exported {record.n_items} {record.what} items to {record.destination}: {state}; logged as export "
          f"#{record.id} by {record.user}")


# -- helpers ---------------------------------------------------------------------------------
def _open(folder: str) -> Any:
    from medtl_gui.core.project import Project, ProjectError

    try:
        return Project.open(folder)
    except ProjectError as exc:
        raise UsageError(str(exc)) from exc


def _is_demo_project(folder: Path) -> bool:
    from medtl_gui.core.project import Project, ProjectError

    try:
        with Project.open(folder) as project:
            return project.meta("demo") == "1"
    except ProjectError:
        return False


class _ProgressLine:
    """Import progress on stderr: one updating line on a terminal, a line per 10 % otherwise."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.is_tty = bool(getattr(stream, "isatty", lambda: False)())
        self.last_draw = 0.0
        self.last_decile = -1
        self.drawn = False

    def __call__(self, done: int, total: int, path: str) -> None:
        if total <= 0:
            return
        if self.is_tty:
            now = time.monotonic()
            if done < total and now - self.last_draw < 0.1:
                return
            self.last_draw = now
            text = f"[import] {done}/{total} {path}"
            self.stream.write("\r" + text[:110].ljust(110))
            self.drawn = True
        else:
            decile = done * 10 // total
            if decile != self.last_decile:
                self.last_decile = decile
                self.stream.write(f"[import] {done}/{total}\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.is_tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
