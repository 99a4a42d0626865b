"""Where a written report is, when no application could open it: its path, *Open folder*, *Copy path*.

Shown by the run history's *Report…* when the desktop has no handler for
HTML files (or opening failed), e.g. on a locked-down workstation or a
server without a browser, so the user is never left with a path in a
status line only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPushButton, QVBoxLayout, QWidget


class ReportLocationDialog(QDialog):
    """The report's path with buttons to open its folder and to copy the path.

    ``folder_opener(folder)`` opens a folder in the file manager and returns
    False when it cannot (injectable: tests pass a recorder).
    """

    def __init__(self, path: Path, folder_opener: Callable[[Path], bool], parent: QWidget | None = None,
                 reason: str = "No application is registered to open HTML files here."):
        super().__init__(parent)
        self.path = Path(path)
        self.folder_opener = folder_opener
        self.setWindowTitle("Report written")
        message = QLabel(f"{reason} Open the report from its folder, or copy its path into a browser.")
        message.setWordWrap(True)
        self.path_label = QLabel(str(self.path))
        self.path_label.setObjectName("report-path")
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path_label.setWordWrap(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.open_folder_button = QPushButton("Open folder")
        self.open_folder_button.clicked.connect(self.open_folder)
        self.copy_button = QPushButton("Copy path")
        self.copy_button.clicked.connect(self.copy_path)
        buttons.addButton(self.open_folder_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(message)
        layout.addWidget(self.path_label)
        layout.addWidget(self.status)
        layout.addWidget(buttons)

    def open_folder(self) -> bool:
        """Show the report's folder in the file manager (a note in the dialog when that fails too)."""
        folder = self.path.parent
        opened = bool(self.folder_opener(folder))
        self.status.setText(f"Opened {folder}" if opened else
                            f"No file manager could open {folder}; copy the path instead.")
        return opened

    def copy_path(self) -> None:
        """Put the report's path on the clipboard."""
        QGuiApplication.clipboard().setText(str(self.path))
        self.status.setText("Path copied to the clipboard")
