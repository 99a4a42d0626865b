"""Preferences: weight store folder, default training device, theme (saved with QSettings)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from medtl_gui.gui.app_settings import DEVICE_CHOICES, THEMES, AppSettings, default_weight_store


class SettingsDialog(QDialog):
    """Edits an ``AppSettings``; ``settings()`` returns the edited copy once accepted."""

    def __init__(self, current: AppSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        self.weight_store = QLineEdit(current.weight_store)
        self.weight_store.setPlaceholderText(default_weight_store())
        self.weight_store.setToolTip("Folder with pretrained weights (empty: the default folder shown)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        store_row = QHBoxLayout()
        store_row.addWidget(self.weight_store, 1)
        store_row.addWidget(browse)
        self.device = QComboBox()
        self.device.setEditable(True)
        self.device.addItems(list(DEVICE_CHOICES))
        self.device.setCurrentText(current.device)
        self.device.setToolTip("auto picks a CUDA GPU when present, else the CPU; cuda:N picks one GPU")
        self.theme = QComboBox()
        self.theme.addItems(list(THEMES))
        self.theme.setCurrentText(current.theme)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #ff6b6b;")
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Weight store folder", store_row)
        form.addRow("Default training device", self.device)
        form.addRow("Theme", self.theme)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept_if_valid)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def settings(self) -> AppSettings:
        """The values as edited (not yet saved)."""
        return AppSettings(weight_store=self.weight_store.text().strip(),
                           device=self.device.currentText().strip().lower(), theme=self.theme.currentText())

    def _accept_if_valid(self) -> None:
        problems = self.settings().problems()
        if problems:
            self.error.setText("; ".join(problems))
            return
        self.accept()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Weight store folder", self.weight_store.text())
        if folder:
            self.weight_store.setText(folder)
