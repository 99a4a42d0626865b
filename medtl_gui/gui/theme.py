"""Dark medical-viewer theme (default) and a light alternative: Fusion style, a palette, a style sheet.

The style sheets live in ``resources/styles/<theme>.qss``; the image canvas
stays black in both themes.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from medtl_gui.gui.resources import resource_path

ACCENT = "#3d8bfd"
THEMES: tuple[str, ...] = ("dark", "light")


def dark_palette() -> QPalette:
    """Dark grey chrome, light text, blue highlight."""
    pal = QPalette()
    base, window, text = QColor(30, 31, 34), QColor(43, 45, 48), QColor(222, 224, 228)
    pal.setColor(QPalette.ColorRole.Window, window)
    pal.setColor(QPalette.ColorRole.WindowText, text)
    pal.setColor(QPalette.ColorRole.Base, base)
    pal.setColor(QPalette.ColorRole.AlternateBase, QColor(37, 38, 41))
    pal.setColor(QPalette.ColorRole.ToolTipBase, window)
    pal.setColor(QPalette.ColorRole.ToolTipText, text)
    pal.setColor(QPalette.ColorRole.Text, text)
    pal.setColor(QPalette.ColorRole.Button, window)
    pal.setColor(QPalette.ColorRole.ButtonText, text)
    pal.setColor(QPalette.ColorRole.BrightText, QColor("#ff5555"))
    pal.setColor(QPalette.ColorRole.Highlight, QColor(ACCENT))
    pal.setColor(QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
    pal.setColor(QPalette.ColorRole.PlaceholderText, QColor(130, 132, 138))
    pal.setColor(QPalette.ColorRole.Link, QColor(ACCENT))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(110, 112, 118))
    return pal


def style_sheet(name: str) -> str:
    """The theme's style sheet (empty when the file is missing)."""
    path = resource_path(f"styles/{name}.qss")
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def apply_theme(app: QApplication, name: str = "dark") -> None:
    """Apply a theme from ``THEMES`` to the whole application."""
    if name not in THEMES:
        raise ValueError(f"unknown theme {name!r} (themes: {', '.join(THEMES)})")
    app.setStyle("Fusion")
    app.setPalette(dark_palette() if name == "dark" else app.style().standardPalette())
    app.setStyleSheet(style_sheet(name))
