"""The report shown after an import: counts, the splits it made, and every skipped file with the reason."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medtl_gui.core.project.file_names import display_name
from medtl_gui.gui.dialogs.splits_dialog import fill_split_table, table_cell


def summary_text(report: Any) -> str:
    """One paragraph: imported, duplicates, labelled, masks, skipped (an ``ImportReport``)."""
    text = f"Imported {report.imported} image(s); {report.duplicates} duplicate(s)."
    extras = []
    if getattr(report, "labelled", 0):
        extras.append(f"{report.labelled} labelled")
    if getattr(report, "masks_imported", 0):
        extras.append(f"{report.masks_imported} mask(s)")
    if getattr(report, "classes_created", None):
        extras.append("new classes: " + ", ".join(report.classes_created))
    if extras:
        text += " " + "; ".join(extras) + "."
    if report.skipped:
        text += f"\n{len(report.skipped)} file(s) skipped — see the list below."
    splits = getattr(report, "splits", None)
    if splits is not None:
        text += (f"\nSplits by {splits.grouping}: {splits.changed} image(s) assigned; the project now has "
                 f"{splits.total('train')} train, {splits.total('val')} validation and {splits.total('test')} test "
                 "images (Edit ▸ Splits… changes them).")
    if getattr(report, "cancelled", False):
        text += "\nThe import was cancelled; what was read before is kept."
    return text


class ImportSummaryDialog(QDialog):
    """Non-blocking report of one import (``open()`` it); skipped files in a table with reasons."""

    def __init__(self, report: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("import-summary")
        self.setWindowTitle("Import finished")
        self.resize(760, 420 if report.skipped else (300 if getattr(report, "splits", None) else 160))
        self.message = QLabel(summary_text(report))
        self.message.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        self.splits_table = QTableWidget(0, 0)
        self.splits_table.setObjectName("import-splits")
        self.splits_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.splits_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        splits = getattr(report, "splits", None)
        if splits is not None:
            fill_split_table(self.splits_table, splits)
            self.splits_table.setMaximumHeight(self.splits_table.verticalHeader().length()
                                               + self.splits_table.horizontalHeader().height() + 6)
        self.splits_table.setVisible(splits is not None)
        layout.addWidget(self.splits_table)
        self.skipped_table = QTableWidget(len(report.skipped), 2)
        self.skipped_table.setHorizontalHeaderLabels(["Skipped file", "Reason"])
        self.skipped_table.verticalHeader().hide()
        self.skipped_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.skipped_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for row, (path, reason) in enumerate(report.skipped):
            self.skipped_table.setItem(row, 0, QTableWidgetItem(display_name(path)))  # RLO, bytes: escaped
            self.skipped_table.setItem(row, 1, QTableWidgetItem(display_name(reason)))
            self.skipped_table.item(row, 1).setToolTip(display_name(reason))
        self.skipped_table.setWordWrap(True)
        self.skipped_table.resizeColumnToContents(0)
        self.skipped_table.setColumnWidth(0, min(self.skipped_table.columnWidth(0), 380))
        self.skipped_table.resizeRowsToContents()
        self.skipped_table.setVisible(bool(report.skipped))
        layout.addWidget(self.skipped_table, 1)
        for warning in getattr(report, "warnings", [])[:5]:
            note = QLabel(f"⚠ {warning}")
            note.setWordWrap(True)
            layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)

    def text(self) -> str:
        """The summary paragraph."""
        return self.message.text()

    def split_count(self, split: str, column: str = "Total") -> int:
        """The count the splits table shows for ``split`` and ``column`` (a class name or "Total")."""
        return table_cell(self.splits_table, split, column)

    def detailed_text(self) -> str:
        """Every skipped file with its reason, one per line."""
        rows = range(self.skipped_table.rowCount())
        return "\n".join(f"{self.skipped_table.item(r, 0).text()}: {self.skipped_table.item(r, 1).text()}" for r in rows)
