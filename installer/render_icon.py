"""Render MedTL's SVG icon to PNG (Linux .desktop) and ICO (Windows), with Qt, offscreen.

    python installer/render_icon.py resources/medtl.svg OUT_DIR

writes ``OUT_DIR/medtl.png`` (256 px) and ``OUT_DIR/medtl.ico`` (16-256 px).
Build-time helper of installer/build_linux.sh and installer/windows/build.ps1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def render_png(svg: Path, target: Path, size: int = 256) -> Path:
    """Rasterise ``svg`` into a transparent ``size`` x ``size`` PNG."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a readable SVG file")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    target.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(target)):
        raise OSError(f"{target}: could not write the PNG icon")
    return target


def main(argv: list[str]) -> int:
    """Command line: ``render_icon.py SVG OUT_DIR``."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 64
    svg, out = Path(argv[0]), Path(argv[1])
    png = render_png(svg, out / "medtl.png")
    from PIL import Image

    Image.open(png).save(out / "medtl.ico", sizes=[(16, 16), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])
    print(f"wrote {png} and {out / 'medtl.ico'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
