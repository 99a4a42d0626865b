"""Screenshots of an evaluation report: ``report.png`` (top), ``report_figures.png``, ``report_errors.png``.

Renders the real HTML report with Qt's rich-text engine, offscreen (no
browser is installed with MedTL), as ``medtl report --pdf`` does::

    .venv/bin/python -m medtl_gui.cli train ../shared/data/medmnist/pneumoniamnist.npz --model baseline_cnn \\
        --epochs 4 --image-size 28 --run-dir /tmp/pneumonia-run
    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots/make_report_screenshot.py /tmp/pneumonia-run \\
        --data ../shared/data/medmnist/pneumoniamnist.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

HERE = Path(__file__).resolve().parent


def heading_offsets(document) -> dict[str, float]:
    """Top y (document pixels) of every block, keyed by its text."""
    layout = document.documentLayout()
    offsets = {}
    block = document.begin()
    while block.isValid():
        offsets.setdefault(block.text().strip(), layout.blockBoundingRect(block).top())
        block = block.next()
    return offsets


def render_region(html: str, destination: Path, top: float, bottom: float) -> Path:
    """Draw the part ``top``..``bottom`` of the report page into a PNG (the app's own report renderer)."""
    from medtl_gui.gui.training.report_rendering import render_png

    return render_png(html, destination, max_height=int(bottom - top), top=top)


def _best_epoch(run: Path) -> str:
    import json

    return str(json.loads((run / "report.json").read_text(encoding="utf-8"))["best_epoch"] + 1) + "."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--data")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    from medtl_gui.core.reporting import generate_report
    from medtl_gui.gui.training.report_rendering import ReportDocument, ensure_application

    ensure_application()
    html = generate_report(args.run, args.out / "report-example.html", data=args.data).path.read_text("utf-8")
    (args.out / "report-example.html").unlink()
    offsets = heading_offsets(ReportDocument(html))
    model = offsets["Hyper-parameters"]
    render_region(html, args.out / "report.png", 0, model)
    start = offsets["Metrics with 95% confidence intervals"] - 10
    end = offsets["Per-class metrics"] - 10
    render_region(html, args.out / "report_figures.png", start, end)
    render_region(html, args.out / "report_errors.png", offsets["Most confident errors"] - 10,
                  offsets["Best epoch (checkpoint used): " + str(_best_epoch(args.run))] + 30)
    print(args.out / "report.png", args.out / "report_figures.png", args.out / "report_errors.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
