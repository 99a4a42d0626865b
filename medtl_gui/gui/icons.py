"""Toolbar and menu icons: the SVGs in ``resources/icons/``, tinted for the theme, crisp at any DPI.

Icons are line drawings that use ``currentColor``; ``icon(name)`` replaces it
with the theme's icon colour and renders the SVG into pixmaps at several
sizes (16 to 96 px), so Qt picks a sharp one on high-DPI screens.
"""

from __future__ import annotations

import atexit
from functools import lru_cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from medtl_gui.gui.resources import resource_path

#: icon colour per theme
ICON_COLORS: dict[str, str] = {"dark": "#d5d8dd", "light": "#3a3e44"}
#: pixel sizes rendered into every icon
ICON_SIZES: tuple[int, ...] = (16, 20, 24, 32, 48, 64, 96)

_theme = "dark"


def set_icon_theme(theme: str) -> None:
    """Use the icon colour of ``theme`` ("dark" or "light") for icons made from now on."""
    global _theme
    _theme = theme if theme in ICON_COLORS else "dark"


def icon_names() -> list[str]:
    """Names of the icons available in ``resources/icons``."""
    return sorted(p.stem for p in resource_path("icons").glob("*.svg"))


def icon(name: str) -> QIcon:
    """The icon ``resources/icons/<name>.svg`` in the current theme's colour.

    Raises ``FileNotFoundError`` naming the file when there is no such icon.
    """
    return _render(name, ICON_COLORS[_theme])


def clear_icon_cache() -> None:
    """Drop the rendered icons (their pixmaps must go while the QApplication still exists)."""
    _render.cache_clear()


@lru_cache(maxsize=256)
def _render(name: str, color: str) -> QIcon:
    path = resource_path(f"icons/{name}.svg")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such icon")
    data = path.read_text(encoding="utf-8").replace("currentColor", color)
    renderer = QSvgRenderer(QByteArray(data.encode("utf-8")))
    if not renderer.isValid():
        raise ValueError(f"{path}: not a valid SVG icon")
    result = QIcon()
    for size in ICON_SIZES:
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        result.addPixmap(pixmap)
    return result


# pixmaps destroyed during interpreter shutdown, after Qt's application object, can crash:
# drop them at exit, while the application still exists
atexit.register(clear_icon_cache)
