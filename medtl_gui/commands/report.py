"""`medtl report`: a self-contained HTML evaluation report of a run (and a PDF of it).

``medtl report --run DIR [--data PROJECT_OR_NPZ] [--split test] [--out report.html]
[--pdf [FILE.pdf]] [--identified] [--device D] [--json]`` evaluates the run on
a split of its data (default: the data it trained on) with the same code
as ``medtl evaluate`` and writes the report (default: ``DIR/report-<split>.html``).
De-identified unless ``--identified``; a report of a project's data is
recorded in that project's export log. ``--pdf`` renders the HTML with
Qt's rich-text engine and PDF writer (PySide6, installed with MedTL; no
browser or office suite needed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from medtl_gui.commands import UsageError


def register(sub: Any) -> None:
    """Add ``report`` to the CLI's sub-parsers."""
    p = sub.add_parser("report", help="write a self-contained HTML evaluation report of a run (and a PDF)",
                       description="Data summary with a patient-level split check, model card, metrics with "
                                   "bootstrap 95% intervals (the numbers of medtl evaluate), confusion matrix, "
                                   "ROC/PR curves, calibration, per-class table, most confident errors and "
                                   "training curves; Dice/IoU/AUC per case for segmentation runs.")
    p.add_argument("--run", type=Path, required=True, help="run folder")
    p.add_argument("--data", help="project folder or .npz to evaluate on (default: the run's training data)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--out", type=Path, help="HTML file (default: RUN/report-<split>.html)")
    p.add_argument("--pdf", nargs="?", const=True, default=None, metavar="FILE.pdf",
                   help="also write a PDF (default name: the HTML's with .pdf)")
    p.add_argument("--identified", action="store_true",
                   help="keep file paths and patient ids (opt out of de-identification; logged as such)")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"))
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print the report's path, sections and evaluation as JSON")
    p.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Handler of ``medtl report``."""
    from medtl_gui.core.data.errors import DataError
    from medtl_gui.core.reporting import generate_report
    from medtl_gui.core.reporting.report_data import data_location

    def progress(text: str) -> None:
        if not args.json:
            print(text, file=sys.stderr)

    try:  # the run's own data: found relative to the run (a moved or copied project), said once when elsewhere
        data = data_location(args.run, args.data, note=lambda text: print(text, file=sys.stderr))
        result = generate_report(args.run, args.out, data=data, split=args.split, identified=args.identified,
                                 device=args.device, checkpoint=args.checkpoint, progress=progress)
    except DataError as exc:
        raise UsageError(str(exc)) from exc
    except NotImplementedError as exc:  # a task that writes no report yet
        raise UsageError(f"{args.run}: {exc}") from exc
    pdf = None
    if args.pdf is not None:
        pdf = result.path.with_suffix(".pdf") if args.pdf is True else Path(args.pdf)
        try:
            from medtl_gui.gui.training.report_rendering import render_pdf
        except ImportError as exc:
            raise UsageError(f"no PDF converter: Qt (PySide6) is not available ({exc}); the HTML report was "
                             f"written to {result.path}") from exc
        render_pdf(result.path.read_text(encoding="utf-8"), pdf)
    if args.json:
        print(json.dumps({"report": str(result.path), "pdf": str(pdf) if pdf else None,
                          "sections": result.sections, "export_logged": result.export_logged,
                          "evaluation": result.evaluation}, indent=2))
    else:
        print(f"report: {result.path}" + (f"\npdf: {pdf}" if pdf else "")
              + ("\nrecorded in the project's export log" if result.export_logged else ""))
    return 0
