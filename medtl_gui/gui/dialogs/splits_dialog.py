"""Edit ▸ Splits…: shares, grouping and seed of the automatic train/val/test assignment, with a live preview.

The preview is ``Project.preview_splits`` (the core planner, nothing written);
*Apply* saves the settings in the project (later imports use them) and runs
``Project.apply_split_settings``. Both run off the GUI thread (a
``BackgroundJob`` each): on a 5,000-image project the preview takes 40-120 ms
and Apply 250-400 ms on the 2-core test machine, above the window's 50 ms
stall budget. The preview waits 150 ms after the last change, and a result
overtaken by a newer change is dropped. Splits from the imported data and
those set by hand are never changed here.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medtl_gui.core.project.split_planning import SplitSettings
from medtl_gui.gui.background import BackgroundJob

#: grouping combo entries: (text, value of ``SplitSettings.by``)
GROUPING_CHOICES: tuple[tuple[str, str | None], ...] = (
    ("Automatic (patient when PatientIDs exist, case for segmentation, else image)", None),
    ("Patient: images of one PatientID stay together", "patient"),
    ("Case: an image with its masks (same patient or DICOM study)", "case"),
    ("Image: every image on its own", "image"),
)


def _percent_spin(value: float, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(0, 90)
    spin.setSingleStep(5)
    spin.setSuffix(" %")
    spin.setValue(round(value * 100))
    spin.setToolTip(tip)
    return spin


def fill_split_table(table: QTableWidget, summary: Any) -> None:
    """Show a ``SplitSummary`` in ``table``: a row per split, a column per class, total (and masked images)."""
    columns, rows = summary.columns(), summary.rows()
    show_masks = any(summary.masked.values())
    headers = [*columns, "Total", *(["Masked"] if show_masks else [])]
    table.clear()
    table.setRowCount(len(rows))
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setVerticalHeaderLabels(rows)
    for r, split in enumerate(rows):
        values = [*(summary.count(split, c) for c in columns), summary.total(split)]
        if show_masks:
            values.append(summary.masked.get(split, 0))
        for c, value in enumerate(values):
            item = QTableWidgetItem(str(value))
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)


def table_cell(table: QTableWidget, split: str, column: str) -> int:
    """The count a split table shows in row ``split``, column ``column``."""
    rows = [table.verticalHeaderItem(r).text() for r in range(table.rowCount())]
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    return int(table.item(rows.index(split), headers.index(column)).text())


class SplitsDialog(QDialog):
    """Shares, grouping, seed, "reassign automatic splits", a preview table of counts per class and split, Apply.

    ``applied(summary)`` is emitted after the store was written (a ``SplitSummary``).
    """

    applied = Signal(object)

    def __init__(self, project: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.project = project
        self.setObjectName("splits-dialog")
        self.setWindowTitle("Splits")
        self.resize(620, 460)
        settings = project.split_settings()
        self.val_spin = _percent_spin(settings.val_fraction, "Share of images for validation (best-epoch choice)")
        self.test_spin = _percent_spin(settings.test_fraction, "Share of images kept for the final test")
        self.grouping = QComboBox()
        for text, value in GROUPING_CHOICES:
            self.grouping.addItem(text, value)
        self.grouping.setCurrentIndex(next(i for i, (_, v) in enumerate(GROUPING_CHOICES) if v == settings.by))
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setValue(settings.seed)
        self.reassign = QCheckBox("Reassign automatic splits")
        self.reassign.setToolTip("Redistribute every split MedTL assigned, with these settings. Splits from the "
                                 "imported data and splits set by hand are kept.")
        form = QFormLayout()
        form.addRow("Validation share", self.val_spin)
        form.addRow("Test share", self.test_spin)
        form.addRow("Keep together", self.grouping)
        form.addRow("Seed", self.seed_spin)
        form.addRow("", self.reassign)
        self.table = QTableWidget(0, 0)
        self.table.setObjectName("splits-preview")
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.apply_button: QPushButton = self.buttons.addButton("Apply", QDialogButtonBox.ButtonRole.ApplyRole)
        self.apply_button.clicked.connect(self.apply)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Preview: images per split and class after Apply"))
        layout.addWidget(self.table, 1)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self.refresh_preview)
        for signal in (self.val_spin.valueChanged, self.test_spin.valueChanged, self.seed_spin.valueChanged,
                       self.grouping.currentIndexChanged, self.reassign.toggled):
            signal.connect(self._timer.start)
        self.last_preview = None
        self._serial = 0  # of the newest preview request; older results are dropped
        self._applying = False
        self.apply_button.setEnabled(False)  # until the first preview is shown
        self.refresh_preview()

    def settings(self) -> SplitSettings:
        """The settings the widgets show."""
        return SplitSettings(val_fraction=self.val_spin.value() / 100, test_fraction=self.test_spin.value() / 100,
                             by=self.grouping.currentData(), seed=self.seed_spin.value())

    def refresh_preview(self) -> None:
        """Recompute the preview table with the core planner in the background (nothing is written)."""
        self._timer.stop()
        self._serial += 1
        try:
            settings = self.settings().validate()
        except ValueError:
            self.apply_button.setEnabled(False)
            self.note.setText("Validation and test shares together must stay below 100 %.")
            return
        serial = self._serial
        job = BackgroundJob(self.project.preview_splits, settings, pass_progress=False,
                            keep_existing=not self.reassign.isChecked())
        job.succeeded.connect(lambda summary: self._show_preview(serial, summary))
        job.failed.connect(lambda message, _details: self.note.setText(f"No preview: {message}"))
        job.start()

    def _show_preview(self, serial: int, summary: Any) -> None:
        if serial != self._serial:
            return
        self.last_preview = summary
        fill_split_table(self.table, summary)
        self.apply_button.setEnabled(not self._applying)
        what = f"{summary.changed} image(s) would get a new split" if summary.changed else "no split would change"
        self.note.setText(f"Grouped by {summary.grouping}; {what}. Splits from the imported data and splits set "
                          "by hand are kept.")

    def cell(self, split: str, column: str) -> int:
        """The previewed count in row ``split`` and column ``column`` (a class name, "Total", ...)."""
        return table_cell(self.table, split, column)

    def apply(self) -> None:
        """Save the settings in the project and assign the splits (in the background); ``applied`` follows."""
        from medtl_gui.core.project.history import current_user

        settings = self.settings().validate()
        self._applying = True
        self.apply_button.setEnabled(False)
        self.note.setText("Applying…")
        job = BackgroundJob(_save_and_apply, self.project, settings, pass_progress=False,
                            keep_existing=not self.reassign.isChecked(), user=current_user())
        job.succeeded.connect(self._applied)
        job.failed.connect(self._apply_failed)
        job.start()

    def _applied(self, summary: Any) -> None:
        self._applying = False
        self.reassign.setChecked(False)
        self._timer.stop()
        self._serial += 1  # drop previews still running: the table shows the result itself
        self.last_preview = summary
        fill_split_table(self.table, summary)
        self.apply_button.setEnabled(True)
        self.note.setText(f"Applied: {summary.changed} image(s) got a new split (grouped by {summary.grouping}).")
        self.applied.emit(summary)

    def _apply_failed(self, message: str, _details: str) -> None:
        self._applying = False
        self.apply_button.setEnabled(True)
        self.note.setText(f"Nothing was changed: {message}")


def _save_and_apply(project: Any, settings: SplitSettings, *, keep_existing: bool, user: str) -> Any:
    """Worker thread: keep the settings in the project and assign the splits (two transactions)."""
    project.save_split_settings(settings)
    return project.apply_split_settings(settings, keep_existing=keep_existing, user=user)


def show_splits_dialog(window: Any) -> SplitsDialog | None:
    """Edit ▸ Splits… for the main window's project; the browser reloads after each Apply."""
    if getattr(window, "project", None) is None:
        return None
    dialog = SplitsDialog(window.project, window)
    dialog.applied.connect(lambda _summary: window.refresh_browser())
    window.splits_dialog = dialog
    dialog.open()
    return dialog
