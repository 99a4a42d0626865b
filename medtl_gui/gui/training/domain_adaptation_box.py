"""The training panel's "Domain adaptation" row: method (none / AdaBN / DSBN / DANN) and target domain name."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QWidget

from medtl_gui.core.training.config import TrainConfig

#: (shown text, config value, tool tip) of each method
DOMAIN_ADAPTATION_CHOICES: tuple[tuple[str, str, str], ...] = (
    ("None", "none", "Train on the source images only."),
    ("AdaBN", "adabn", "Train normally, then re-estimate the batch-norm statistics on the target-domain images; "
                       "the run's 'target' checkpoint is used for target images."),
    ("DSBN", "dsbn", "Domain-specific batch norm: separate batch-norm statistics for source and target images "
                     "(target images unlabelled); the 'target' checkpoint uses the target statistics."),
    ("DANN", "dann", "Adversarial: a domain classifier behind a gradient-reversal layer makes the features of "
                     "source and target images alike; its accuracy is logged per epoch."),
)


class DomainAdaptationBox(QWidget):
    """Method combo + target domain name; ``changed`` fires on any edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.method = QComboBox()
        for index, (text, value, tip) in enumerate(DOMAIN_ADAPTATION_CHOICES):
            self.method.addItem(text, value)
            self.method.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
        self.method.setToolTip("Adapt to a target domain (another scanner or site): mark its images with "
                               "'medtl domain' or import them with --domain")
        self.target = QLineEdit("target")
        self.target.setPlaceholderText("target domain")
        self.target.setToolTip("Domain name of the target images in the project (they are used without labels)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.method, 1)
        layout.addWidget(self.target, 1)
        self.method.currentIndexChanged.connect(self._on_method)
        self.target.textEdited.connect(lambda _t: self.changed.emit())
        self._on_method()

    def _on_method(self, *_: Any) -> None:
        self.target.setEnabled(self.method.currentData() != "none")
        self.changed.emit()

    def values(self) -> dict[str, Any]:
        """The config values shown: ``domain_adaptation`` and ``target_domain``."""
        return {"domain_adaptation": self.method.currentData() or "none",
                "target_domain": self.target.text().strip() or "target"}

    def set_config(self, config: TrainConfig) -> None:
        """Show a config's domain-adaptation settings."""
        index = self.method.findData(config.domain_adaptation)
        self.method.setCurrentIndex(max(0, index))
        self.target.setText(config.target_domain)
        self._on_method()
