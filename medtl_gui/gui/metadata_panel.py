"""Metadata of the current scan (DICOM tags); patient-identifying values hidden by default."""

from __future__ import annotations

from typing import Any, Mapping

from PySide6.QtWidgets import QCheckBox, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget



class MetadataPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._metadata: dict[str, Any] = {}
        self.reveal_box = QCheckBox("Show patient-identifying information")
        self.reveal_box.setToolTip("Also shows PatientIDs in the browser's Patient column (remembered)")
        self.reveal_box.toggled.connect(self._refresh)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Attribute", "Value"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.reveal_box)
        layout.addWidget(self.table)

    def set_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Show a scan's metadata: its DICOM attributes (``metadata["dicom"]``) and MedTL's summary."""
        flat = {k: v for k, v in metadata.items() if k != "dicom" and v not in (None, [], {}, "")}
        flat.update(metadata.get("dicom") or {})
        self._metadata = flat
        self._refresh()

    def shown(self) -> dict[str, str]:
        """What the table currently displays, attribute -> text (used by tests)."""
        return {self.table.item(r, 0).text(): self.table.item(r, 1).text() for r in range(self.table.rowCount())}

    def _refresh(self) -> None:
        from medtl_gui.core.imaging.privacy import visible_metadata

        shown = visible_metadata(self._metadata, reveal=self.reveal_box.isChecked())
        self.table.setRowCount(len(shown))
        for r, (key, value) in enumerate(sorted(shown.items())):
            self.table.setItem(r, 0, QTableWidgetItem(str(key)))
            text = str(value)
            self.table.setItem(r, 1, QTableWidgetItem(text if len(text) < 200 else text[:200] + "…"))
