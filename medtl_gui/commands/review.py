"""`medtl rank | explain`: human-in-the-loop review from the command line.

- ``medtl rank PROJECT --run RUN [--method entropy|margin|least_confidence|mc_dropout|kcenter|hybrid]
  [--ensemble RUN2 ...] [--top N] [--json]``: rank the project's unlabelled
  images (label the first ones next), store the order in the project (the
  browser's "Label next" view) and print the top N.
- ``medtl explain --run RUN SCAN... --out DIR [--method gradcam|gradcam++] [--class NAME]``:
  Grad-CAM heat-maps of the run's decision for each scan (files, folders,
  DICOM series), written as PNG overlays ``<name>_<method>.png`` plus the
  bare heat-map ``<name>_<method>_heatmap.png``. Unreadable scans are
  listed on stderr (exit 1), the others are written.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from medtl_gui.commands import UsageError, user_errors


def register(sub: Any) -> None:
    """Add ``rank`` and ``explain`` to the ``medtl`` sub-commands."""
    from medtl_gui.core.review.active_learning import RANKING_METHODS
    from medtl_gui.core.review.heatmap_colors import COLORMAPS
    from medtl_gui.core.review.saliency import SALIENCY_METHODS

    p = sub.add_parser("rank", help="rank a project's unlabelled images for labelling (active learning)",
                       description="Rank unlabelled images by how much labelling them should teach the model; "
                                   "the order is stored in the project for the browser's 'Label next' view.")
    p.add_argument("project", type=Path, metavar="PROJECT", help="project folder")
    p.add_argument("--run", type=Path, required=True, help="run folder (a classification run)")
    p.add_argument("--method", default="entropy", choices=RANKING_METHODS,
                   help="entropy/margin/least_confidence: uncertainty; mc_dropout: head dropout passes; "
                        "ensemble: disagreement of --run and --ensemble runs; kcenter: diversity of backbone "
                        "features; hybrid: uncertain pool then k-center (default entropy)")
    p.add_argument("--ensemble", type=Path, nargs="+", default=[], metavar="RUN",
                   help="further runs for --method ensemble")
    p.add_argument("--top", type=int, default=20, help="images to print; kcenter/hybrid: images picked greedily")
    p.add_argument("--mc-passes", type=int, default=20, help="mc_dropout: stochastic passes of the head")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"))
    p.add_argument("--device", default="auto")
    p.add_argument("--no-store", action="store_true", help="do not store the ranking in the project")
    p.add_argument("--json", action="store_true", help="print the whole ranking as JSON on stdout")
    p.set_defaults(func=run_rank)

    p = sub.add_parser("explain", help="Grad-CAM heat-maps of a run's decisions, as PNG overlays",
                       description="Write Grad-CAM (or Grad-CAM++) heat-map overlays explaining a trained "
                                   "classifier's decision for each scan.")
    p.add_argument("scans", nargs="+", metavar="SCAN", help="scan files, folders or DICOM series folders")
    p.add_argument("--run", type=Path, required=True, help="run folder (a classification run)")
    p.add_argument("--out", type=Path, required=True, help="folder for the PNG files (created)")
    p.add_argument("--method", default="gradcam", choices=SALIENCY_METHODS)
    p.add_argument("--class", dest="class_choice", metavar="CLASS",
                   help="class name or index to explain (default: the predicted class)")
    p.add_argument("--colormap", default="jet", choices=tuple(COLORMAPS))
    p.add_argument("--opacity", type=float, default=0.5, help="overlay opacity at the hottest point (0-1)")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"))
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print one JSON record per scan on stdout")
    p.set_defaults(func=run_explain)


def run_rank(args: argparse.Namespace) -> int:
    """Handler of ``medtl rank``: exit 0, or 1 when some images could not be read (they are listed)."""
    from medtl_gui.core.inference.project_prediction import check_classes_match
    from medtl_gui.core.inference.trained_model import load_trained_model
    from medtl_gui.core.project import Project
    from medtl_gui.core.review.active_learning import rank_project

    if args.top < 1:
        raise UsageError("--top must be at least 1")
    if args.ensemble and args.method != "ensemble":
        raise UsageError("--ensemble runs are only used by --method ensemble")
    try:
        runs = [load_trained_model(run, args.checkpoint) for run in [args.run, *args.ensemble]]
        with Project.open(args.project) as project:
            check_classes_match(project, runs[0])
            ranking = rank_project(project, runs if args.method == "ensemble" else runs[0], args.method,
                                   top=args.top, device=args.device, mc_passes=args.mc_passes,
                                   store=not args.no_store)
    except (*user_errors(), ValueError) as exc:  # ValueError: the runs or the class do not fit (core.review)
        raise UsageError(str(exc)) from exc
    if args.json:
        print(json.dumps(ranking.to_json(), indent=2))
    else:
        names = ranking.class_names
        print("rank\timage_id\tscore\t" + "\t".join(f"p_{name}" for name in names))
        for item in ranking.items[:args.top]:
            print(f"{item.rank}\t{item.key}\t{item.score:.4f}\t" + "\t".join(f"{p:.4f}" for p in item.probabilities))
    for source, reason in ranking.skipped:
        print(f"skipped {source}: {reason}", file=sys.stderr)
    stored = "" if args.no_store else f"; stored in {args.project}"
    print(f"ranked {len(ranking.items)} unlabelled images by {ranking.method}{stored}", file=sys.stderr)
    return 1 if ranking.skipped else 0


def _file_stem(source: str, used: set[str]) -> str:
    """A safe, unique file name stem for a scan's source path."""
    path = Path(source)
    stem = path.name
    for suffix in (".nii.gz", ".gz", ".dcm", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".nii", ".mha", ".nrrd"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem) or "scan"
    candidate, n = stem, 2
    while candidate in used:
        candidate, n = f"{stem}_{n}", n + 1
    used.add(candidate)
    return candidate


def run_explain(args: argparse.Namespace) -> int:
    """Handler of ``medtl explain``: exit 0 when every scan was explained, 1 when some were skipped."""
    import numpy as np
    from PIL import Image

    from medtl_gui.core.data.preprocessing import select_plane, to_unit_range
    from medtl_gui.core.inference.scan_discovery import scans_in_paths
    from medtl_gui.core.inference.trained_model import load_trained_model
    from medtl_gui.core.review.heatmap_colors import blend_overlay
    from medtl_gui.core.review.saliency import explain_image

    if not 0.0 <= args.opacity <= 1.0:
        raise UsageError("--opacity must be between 0 and 1")
    try:
        trained = load_trained_model(args.run, args.checkpoint)
        if trained.head_kind == "regression":
            raise UsageError(f"{args.run}: a regression run has no class decision to explain")
        scans, skipped = scans_in_paths(args.scans)
    except (*user_errors(), ValueError) as exc:  # ValueError: the runs or the class do not fit (core.review)
        raise UsageError(str(exc)) from exc
    skipped = list(skipped)
    args.out.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for scan in scans:
        try:
            image = scan.load()
            result = explain_image(trained, image, args.class_choice, method=args.method, device=args.device)
        except ValueError as exc:
            if args.class_choice is not None and "class" in str(exc):
                raise UsageError(str(exc)) from exc
            skipped.append((scan.source, " ".join(str(exc).split())))
            continue
        except Exception as exc:  # noqa: BLE001 - one unreadable scan must not stop the others
            skipped.append((scan.source, " ".join(str(exc).split()) or type(exc).__name__))
            continue
        pixels = np.asarray(image.pixels if hasattr(image, "pixels") else image)
        plane, _ = select_plane(pixels)
        unit = to_unit_range(plane, getattr(image, "window", None))
        stem = _file_stem(scan.source, used)
        tag = args.method.replace("+", "p")
        overlay_path = args.out / f"{stem}_{tag}.png"
        heatmap_path = args.out / f"{stem}_{tag}_heatmap.png"
        Image.fromarray(blend_overlay(unit, result.heatmap, args.opacity, args.colormap)).save(overlay_path)
        Image.fromarray(np.round(result.heatmap * 255).astype(np.uint8)).save(heatmap_path)
        record = {"source": scan.source, "overlay": str(overlay_path), "heatmap": str(heatmap_path),
                  "class": result.class_name, "class_index": result.class_index, "layer": result.layer,
                  "probabilities": dict(zip(trained.class_names, (float(p) for p in result.probabilities)))}
        if args.json:
            print(json.dumps(record))
        else:
            print(f"{scan.source}\t{result.class_name}\t{overlay_path}")
    for source, reason in skipped:
        print(f"skipped {source}: {reason}", file=sys.stderr)
    return 1 if skipped else 0
