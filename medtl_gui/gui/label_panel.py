"""Classification labelling panel: classes with their keys, the current label, the model's suggestion, a note."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from medtl_gui.gui.text_field import TextField


class LabelPanel(QWidget):
    """Buttons mirror the keyboard: class keys 1-9, U uncertain, S skip, 0 clear, Enter confirms a suggestion."""

    label_requested = Signal(str)  # class name
    status_requested = Signal(str)  # "uncertain" | "skipped"
    clear_requested = Signal()
    confirm_requested = Signal()
    note_edited = Signal(str)
    edit_classes_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.current = QLabel("No image")
        self.current.setWordWrap(True)
        self.current.setObjectName("current-label")
        self.proposal = QLabel("")
        self.proposal.setWordWrap(True)
        self.confirm_button = QPushButton("Confirm suggestion (Enter)")
        self.confirm_button.clicked.connect(self.confirm_requested)
        self.confirm_button.setEnabled(False)
        self._class_box = QGroupBox("Classes")
        self._class_layout = QVBoxLayout(self._class_box)
        self.class_buttons: list[QPushButton] = []
        self._state_buttons: list[QPushButton] = []
        for text, slot in (("Uncertain (U)", lambda: self.status_requested.emit("uncertain")),
                           ("Skip (S)", lambda: self.status_requested.emit("skipped")),
                           ("Clear label (0)", self.clear_requested.emit)):
            button = QPushButton(text)
            button.clicked.connect(slot)
            self._state_buttons.append(button)
        edit = QPushButton("Edit classes…")
        edit.clicked.connect(self.edit_classes_requested)
        self.note = TextField()
        self.note.setPlaceholderText("Note on this image (Enter to save)")
        self.note.returnPressed.connect(lambda: self.note_edited.emit(self.note.text()))
        layout = QVBoxLayout(self)
        layout.addWidget(self.current)
        layout.addWidget(self._class_box)
        for button in self._state_buttons:
            layout.addWidget(button)
        layout.addWidget(self.proposal)
        layout.addWidget(self.confirm_button)
        layout.addWidget(QLabel("Note (N)"))
        layout.addWidget(self.note)
        layout.addWidget(edit)
        layout.addStretch(1)

    def set_classes(self, classes: Sequence[tuple[str, str | None, str | None]]) -> None:
        """``classes``: (name, colour, shortcut key or None), in index order."""
        for button in self.class_buttons:
            button.deleteLater()
        self.class_buttons = []
        for name, color, key in classes:
            button = QPushButton(f"{key or '·'}   {name}")
            button.setToolTip(f"Label as {name}" + (f" (key {key})" if key else ""))
            if color:
                button.setStyleSheet(f"text-align: left; padding: 4px 8px; border-left: 6px solid {color};")
            button.clicked.connect(lambda _=False, n=name: self.label_requested.emit(n))
            self._class_layout.addWidget(button)
            self.class_buttons.append(button)

    def show_state(self, label_text: str, proposal_text: str | None, note: str | None,
                   enabled: bool = True) -> None:
        """Show the current label, the model's suggestion (None: none) and the note."""
        if not enabled:
            self.current.setText("No image")
        else:
            self.current.setText(f"<b>Label:</b> {label_text or '<i>unlabelled</i>'}")
        self.proposal.setText(f"<b>Model suggests:</b> {proposal_text}" if proposal_text else "")
        self.confirm_button.setEnabled(bool(proposal_text))
        for button in self.class_buttons + self._state_buttons:
            button.setEnabled(enabled)
        if not self.note.hasFocus():
            self.note.setText(note or "")
