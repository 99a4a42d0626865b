"""Preferences: weight store folder, default training device, theme, run monitor placement (QSettings)."""

from __future__ import annotations

from dataclasses import replace

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
from medtl_gui.gui.training.monitor_host import MONITOR_PLACEMENTS


class SettingsDialog(QDialog):
    """Edits an ``AppSettings``; ``settings()`` returns the edited copy once accepted."""

    def __init__(self, current: AppSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        self._current = current
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
        self.monitor_placement = QComboBox()
        for key, text in MONITOR_PLACEMENTS.items():
            self.monitor_placement.addItem(text, key)
        self.monitor_placement.setCurrentIndex(max(0, self.monitor_placement.findData(current.monitor_placement)))
        self.monitor_placement.setToolTip("Where the run monitor opens: a tab beside the viewer (one click "
                                          "switches) or a window of its own (e.g. on a second screen)")
        self.error = QLabel("")
        self.error.setStyleSheet("color: #ff6b6b;")
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Weight store folder", store_row)
        form.addRow("Default training device", self.device)
        form.addRow("Theme", self.theme)
        form.addRow("Run monitor", self.monitor_placement)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept_if_valid)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def settings(self) -> AppSettings:
        """The values as edited (not yet saved)."""
        return replace(self._current, weight_store=self.weight_store.text().strip(),
                       device=self.device.currentText().strip().lower(), theme=self.theme.currentText(),
                       monitor_placement=str(self.monitor_placement.currentData()))

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
