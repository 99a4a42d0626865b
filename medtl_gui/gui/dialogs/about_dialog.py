"""Help ▸ About: what MedTL is and the versions of the libraries it runs on."""

from __future__ import annotations

from importlib import metadata

from PySide6.QtWidgets import QMessageBox, QWidget

from medtl_gui import __version__

#: distributions listed in the About box (torch is read from its metadata: never imported here)
LISTED_PACKAGES: tuple[str, ...] = (
    "PySide6-Essentials", "pyqtgraph", "numpy", "pydicom", "SimpleITK", "Pillow", "torch", "torchvision", "monai",
)


def library_versions() -> dict[str, str]:
    """Installed version of each listed package ("not installed" when missing)."""
    versions = {}
    for name in LISTED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def about_html() -> str:
    """The About text."""
    rows = "".join(f"<tr><td>{name}</td><td>&nbsp;{version}</td></tr>" for name, version in library_versions().items())
    return (f"<h3>MedTL {__version__}</h3>"
            "<p>Open scans, label them, and fine-tune pretrained CNNs on them — offline.</p>"
            f"<table>{rows}</table>")


def show_about(parent: QWidget) -> QMessageBox:
    """Open the About box (non-blocking) and return it."""
    box = QMessageBox(parent)
    box.setWindowTitle("About MedTL")
    box.setText(about_html())
    box.setIconPixmap(parent.windowIcon().pixmap(64, 64))
    box.open()
    return box
