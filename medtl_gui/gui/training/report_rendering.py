"""Render a report's HTML with Qt's rich-text engine: PDF (QPrinter) and PNG (a picture of the page).

No browser engine (QtWebEngine, Chromium) is installed with MedTL, so the
PDF and PNG of a report come from ``QTextDocument``. It resolves the
report's ``data:`` URIs itself (:class:`ReportDocument`): PNG thumbnails
are decoded directly, SVG figures drawn with ``QSvgRenderer`` at twice
their size so that they stay sharp. Works with the ``offscreen`` platform
(no display needed); needs a ``QGuiApplication`` (created if missing).
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

from PySide6.QtCore import QByteArray, QMarginsF, QSizeF, QUrl
from PySide6.QtGui import QGuiApplication, QImage, QPageLayout, QPageSize, QPainter, QTextDocument

#: device pixels per SVG pixel when figures are rasterised
SVG_SCALE = 2.0
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S | re.I)


def ensure_application() -> QGuiApplication:
    """The running Qt application, or a new one (e.g. for ``medtl report --pdf``).

    A ``QApplication`` (not only a ``QGuiApplication``), so that widgets can
    still be made later in the same process.
    """
    app = QGuiApplication.instance()
    if app is None:
        from PySide6.QtWidgets import QApplication

        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QApplication([])
    return app  # type: ignore[return-value]


def _decode_data_uri(uri: str) -> QImage | None:
    """The image in a ``data:image/...;base64,`` URI (SVG rasterised at :data:`SVG_SCALE`), or None."""
    header, _, payload = uri.partition(",")
    if not header.startswith("data:image/") or ";base64" not in header:
        return None
    raw = base64.b64decode(payload)
    if header.startswith("data:image/svg+xml"):
        from PySide6.QtSvg import QSvgRenderer

        renderer = QSvgRenderer(QByteArray(raw))
        if not renderer.isValid():
            return None
        size = renderer.defaultSize()
        image = QImage(int(size.width() * SVG_SCALE), int(size.height() * SVG_SCALE), QImage.Format.Format_ARGB32)
        image.fill(0xFFFFFFFF)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        image.setDevicePixelRatio(SVG_SCALE)
        return image
    image = QImage.fromData(raw)
    return None if image.isNull() else image


class ReportDocument(QTextDocument):
    """A ``QTextDocument`` of a report's HTML that resolves the embedded ``data:`` images."""

    def __init__(self, html: str, width: float = 980.0):
        super().__init__()
        self.setDocumentMargin(0)
        self.setHtml(_SCRIPT.sub("", html))  # the machine-readable JSON is not for the page
        self.setTextWidth(width)

    def loadResource(self, kind: int, url: QUrl):  # noqa: N802 - Qt's name
        text = url.toString()
        if text.startswith("data:"):
            image = _decode_data_uri(text)
            if image is not None:
                return image
        return super().loadResource(kind, url)


def render_png(html: str, destination: str | os.PathLike, width: int = 980, max_height: int | None = None,
               scale: float = 1.5, top: float = 0.0) -> Path:
    """A picture of the report page from ``top`` down (``max_height`` px of it, if given), ``scale`` x sharp."""
    from PySide6.QtCore import QRectF

    ensure_application()
    document = ReportDocument(html, width)
    height = int(document.size().height() - top)
    if max_height is not None:
        height = min(height, max_height)
    image = QImage(int(width * scale), int(height * scale), QImage.Format.Format_ARGB32)
    image.fill(0xFFFFFFFF)
    painter = QPainter(image)
    painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
                           | QPainter.RenderHint.SmoothPixmapTransform)
    painter.scale(scale, scale)
    painter.translate(0, -top)
    document.drawContents(painter, QRectF(0, top, width, height))
    painter.end()
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(destination)):
        raise OSError(f"{destination}: cannot write the PNG")
    return destination


def render_pdf(html: str, destination: str | os.PathLike) -> Path:
    """The report as an A4 PDF (Qt's PDF writer; no external converter needed)."""
    from PySide6.QtGui import QPdfWriter

    ensure_application()
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    writer = QPdfWriter(str(destination))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(12, 12, 12, 12), QPageLayout.Unit.Millimeter)
    writer.setResolution(96)
    writer.setTitle("MedTL evaluation report")
    document = ReportDocument(html)
    layout = writer.pageLayout().paintRectPixels(writer.resolution())
    document.setPageSize(QSizeF(layout.width(), layout.height()))
    document.print_(writer)
    if not destination.is_file() or destination.stat().st_size == 0:
        raise OSError(f"{destination}: the PDF could not be written")
    return destination
