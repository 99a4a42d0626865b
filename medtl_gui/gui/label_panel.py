"""Classification labelling panel: classes with their keys, the current label, the model's proposal, a note."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class LabelPanel(QWidget):
    """Buttons mirror the keyboard: 1-9 assign a class, U uncertain, S skip, Enter confirms a proposal."""

    label_requested = Signal(str)  # class name
    status_requested = Signal(str)  # "uncertain" | "skipped"
    clear_requested = Signal()
    confirm_requested = Signal()
    note_edited = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.current = QLabel("No image")
        self.current.setWordWrap(True)
        self.proposal = QLabel("")
        self.proposal.setWordWrap(True)
        self.confirm_button = QPushButton("Confirm suggestion (Enter)")
        self.confirm_button.clicked.connect(self.confirm_requested)
        self.confirm_button.setEnabled(False)
        self._class_box = QGroupBox("Classes")
        self._class_layout = QVBoxLayout(self._class_box)
        self.class_buttons: list[QPushButton] = []
        uncertain = QPushButton("Uncertain (U)")
        uncertain.clicked.connect(lambda: self.status_requested.emit("uncertain"))
        skip = QPushButton("Skip (S)")
        skip.clicked.connect(lambda: self.status_requested.emit("skipped"))
        clear = QPushButton("Clear label (0)")
        clear.clicked.connect(self.clear_requested)
        self.note = QLineEdit()
        self.note.setPlaceholderText("Note on this image (Enter to save)")
        self.note.returnPressed.connect(lambda: self.note_edited.emit(self.note.text()))
        layout = QVBoxLayout(self)
        layout.addWidget(self.current)
        layout.addWidget(self._class_box)
        layout.addWidget(uncertain)
        layout.addWidget(skip)
        layout.addWidget(clear)
        layout.addWidget(self.proposal)
        layout.addWidget(self.confirm_button)
        layout.addWidget(QLabel("Note"))
        layout.addWidget(self.note)
        layout.addStretch(1)

    def set_classes(self, classes: list[tuple[str, str | None]]) -> None:
        """``classes``: (name, colour) in key order; key i+1 assigns class i."""
        for b in self.class_buttons:
            b.deleteLater()
        self.class_buttons = []
        for i, (name, color) in enumerate(classes[:9]):
            button = QPushButton(f"{i + 1}  {name}")
            if color:
                button.setStyleSheet(f"text-align: left; padding: 4px; border-left: 6px solid {color};")
            button.clicked.connect(lambda _=False, n=name: self.label_requested.emit(n))
            self._class_layout.addWidget(button)
            self.class_buttons.append(button)

    def show_state(self, label_text: str, proposal_text: str | None, note: str | None) -> None:
        self.current.setText(f"<b>Label:</b> {label_text or '<i>unlabelled</i>'}")
        self.proposal.setText(f"<b>Model suggests:</b> {proposal_text}" if proposal_text else "")
        self.confirm_button.setEnabled(bool(proposal_text))
        self.note.setText(note or "")
