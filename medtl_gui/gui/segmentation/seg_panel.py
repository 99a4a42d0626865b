"""The segmentation dock: tools, active label, brush size, overlay style, per-label visibility, proposal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from medtl_gui.gui.elided_combo import ElidedComboBox
from medtl_gui.gui.flow_layout import FlowLayout
from medtl_gui.gui.segmentation.editor import TOOLS, SegmentationEditor
from medtl_gui.gui.segmentation.overlay import FALLBACK_COLORS, PROPOSAL_COLOR
from medtl_gui.gui.segmentation.painting import MAX_BRUSH_RADIUS
from medtl_gui.gui.slider_value import slider_value_label


def color_swatch(color: str, size: int = 14) -> QIcon:
    """A small square icon of one colour (label lists)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(color))
    return QIcon(pixmap)


class SegmentationPanel(QWidget):
    """Controls of the ``SegmentationEditor`` and its overlay; mirrors the keyboard shortcuts.

    ``tool_actions`` are the window's checkable tool actions (they carry the
    icons and shortcuts); ``edit_labels_requested`` asks the window to open
    the segmentation label editor.
    """

    edit_labels_requested = Signal()

    def __init__(self, editor: SegmentationEditor, tool_actions: Mapping[str, QAction],
                 history_actions: Sequence[QAction] = (), parent: QWidget | None = None):
        super().__init__(parent)
        self.editor = editor
        overlay = editor.overlay
        tools = FlowLayout(spacing=2)  # wraps onto a second line in a narrow dock
        self.tool_buttons: dict[str, QToolButton] = {}
        for name in TOOLS:
            button = QToolButton()
            button.setDefaultAction(tool_actions[name])
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
            button.setAutoRaise(True)
            button.setIconSize(QSize(22, 22))
            tools.addWidget(button)
            self.tool_buttons[name] = button
        tools.addSpacing(8)
        history = QWidget()  # undo and redo wrap onto the next line together
        history_row = QHBoxLayout(history)
        history_row.setContentsMargins(0, 0, 0, 0)
        history_row.setSpacing(2)
        for action in history_actions:
            button = QToolButton()
            button.setDefaultAction(action)
            button.setAutoRaise(True)
            button.setIconSize(QSize(22, 22))
            history_row.addWidget(button)
        tools.addWidget(history)

        self.label_box = ElidedComboBox(min_characters=6)
        self.label_box.setToolTip("Label painted by brush, fill, polygon and lasso")
        self.label_box.currentIndexChanged.connect(self._on_label_chosen)
        edit_labels = QToolButton()
        edit_labels.setText("Edit…")
        edit_labels.setToolTip("Add, rename and recolour segmentation labels")
        edit_labels.clicked.connect(self.edit_labels_requested)
        label_row = QHBoxLayout()
        label_row.addWidget(self.label_box, 1)
        label_row.addWidget(edit_labels)
        self.radius_box = QSpinBox()
        self.radius_box.setRange(0, MAX_BRUSH_RADIUS)
        self.radius_box.setSuffix(" px")
        self.radius_box.setToolTip("Brush and eraser radius ([ smaller, ] larger)")
        self.radius_box.setValue(editor.radius)
        self.radius_box.valueChanged.connect(editor.set_radius)
        self.tolerance_box = QDoubleSpinBox()
        self.tolerance_box.setRange(0.0, 100000.0)
        self.tolerance_box.setDecimals(1)
        self.tolerance_box.setSpecialValueText("mask region only")
        self.tolerance_box.setToolTip("Fill: 0 fills the clicked mask region; above 0 also requires image values "
                                      "within this distance of the clicked pixel (e.g. HU)")
        self.tolerance_box.valueChanged.connect(lambda v: setattr(editor, "fill_tolerance", float(v)))
        paint = QGroupBox("Paint")
        form = QFormLayout(paint)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # a field too wide goes under its label
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Label", label_row)
        for text, field in (("Radius", self.radius_box), ("Tolerance", self.tolerance_box)):  # short: room for
            caption = QLabel(text)  # the label's name in the narrow dock; the tips say what they are
            caption.setToolTip(field.toolTip())
            form.addRow(caption, field)

        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(int(round(overlay.opacity * 100)))
        self.opacity_slider.setToolTip("Opacity of the label overlay")
        self.opacity_slider.valueChanged.connect(lambda v: overlay.set_opacity(v / 100.0))
        self.opacity_value = slider_value_label(self.opacity_slider)  # "50 %" beside the slider
        self.show_box = QCheckBox("Show (M)")
        self.show_box.setChecked(overlay.visible)
        self.show_box.toggled.connect(overlay.set_visible)
        self.outline_box = QCheckBox("Outline (O)")
        self.outline_box.setChecked(overlay.outline)
        self.outline_box.toggled.connect(overlay.set_outline)
        self.visibility_list = QListWidget()
        self.visibility_list.setToolTip("Untick a label to hide it")
        self.visibility_list.setMaximumHeight(76)
        self.visibility_list.itemChanged.connect(self._on_visibility)
        overlay_box = QGroupBox("Overlay")
        overlay_layout = QVBoxLayout(overlay_box)
        opacity_row = QHBoxLayout()
        opacity_row.addWidget(QLabel("Opacity"))
        opacity_row.addWidget(self.opacity_slider, 1)
        opacity_row.addWidget(self.opacity_value)
        overlay_layout.addLayout(opacity_row)
        toggles = QHBoxLayout()
        toggles.addWidget(self.show_box)
        toggles.addWidget(self.outline_box)
        overlay_layout.addLayout(toggles)
        overlay_layout.addWidget(self.visibility_list)

        self.proposal_box = QCheckBox("Show")
        self.proposal_box.setChecked(overlay.proposal_visible)
        self.proposal_box.setToolTip(f"The model's proposed mask, drawn as a {PROPOSAL_COLOR} outline")
        self.proposal_box.toggled.connect(overlay.set_proposal_visible)
        self.proposal_state = QLabel()
        self.proposal_state.setWordWrap(True)
        self.accept_button = QPushButton("Accept")
        self.accept_button.setToolTip("Use the model's proposal as this slice's mask (Ctrl+Enter)")
        self.accept_button.clicked.connect(editor.accept_proposal)
        self.clear_button = QPushButton("Clear slice")
        self.clear_button.setToolTip("Erase every label of the slice on screen (undoable)")
        self.clear_button.clicked.connect(editor.clear_slice)
        proposal_box = QGroupBox("Model proposal")
        proposal_layout = QVBoxLayout(proposal_box)
        proposal_row = QHBoxLayout()
        proposal_row.addWidget(self.proposal_box, 1)
        proposal_row.addWidget(self.accept_button)
        proposal_layout.addLayout(proposal_row)
        proposal_layout.addWidget(self.proposal_state)

        self.save_state = QLabel("")
        self.save_state.setObjectName("save-state")
        self.save_state.setWordWrap(True)
        bottom = QHBoxLayout()
        bottom.addWidget(self.save_state, 1)
        bottom.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addWidget(paint)
        layout.addWidget(overlay_box)
        layout.addWidget(proposal_box)
        layout.addLayout(bottom)
        layout.addStretch(1)
        editor.state_changed.connect(self.sync)
        self.set_labels([])

    # -- API -------------------------------------------------------------------------
    def set_labels(self, labels: Sequence[tuple[int, str, str]]) -> None:
        """The project's segmentation labels as (value, name, colour); an unnamed label 1 when none."""
        entries = list(labels) or [(1, "label 1 (unnamed)", FALLBACK_COLORS[0])]
        self.editor.overlay.set_colors({value: color for value, _name, color in entries})
        hidden = self.editor.overlay.hidden
        self.label_box.blockSignals(True)
        self.label_box.clear()
        for value, name, color in entries:
            self.label_box.addItem(color_swatch(color), f"{value}  {name}", value)
        index = max(0, self.label_box.findData(self.editor.label_value))
        self.label_box.setCurrentIndex(index)
        self.label_box.blockSignals(False)
        self.editor.set_label_value(int(self.label_box.currentData()))
        self.visibility_list.blockSignals(True)
        self.visibility_list.clear()
        for value, name, color in entries:
            item = QListWidgetItem(color_swatch(color), name)
            item.setData(Qt.ItemDataRole.UserRole, value)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked if value in hidden else Qt.CheckState.Checked)
            self.visibility_list.addItem(item)
        self.visibility_list.blockSignals(False)

    def sync(self) -> None:
        """Show the editor's current state (tool, radius, proposal availability)."""
        editor = self.editor
        self.radius_box.blockSignals(True)
        self.radius_box.setValue(editor.radius)
        self.radius_box.blockSignals(False)
        self.show_box.setChecked(editor.overlay.visible)
        self.outline_box.setChecked(editor.overlay.outline)
        document = editor.document
        has_proposal = document is not None and document.proposal(editor.slice_index) is not None
        self.accept_button.setEnabled(has_proposal)
        self.clear_button.setEnabled(document is not None)
        if document is None:
            self.proposal_state.setText("")
        elif has_proposal:
            self.proposal_state.setText("A proposal exists for this slice (cyan outline).")
        else:
            self.proposal_state.setText("<i>No model proposal for this slice.</i>")

    def show_save_state(self, pending: int, error: str | None = None) -> None:
        """"Saving…" / "All changes saved" / the error of the last failed save."""
        if error:
            self.save_state.setText(f"<span style='color:#ff6b6b'>Mask not saved: {error}</span>")
        elif pending:
            self.save_state.setText("Saving…")
        else:
            self.save_state.setText("All mask changes saved")

    # -- internals -------------------------------------------------------------------
    def _on_label_chosen(self, index: int) -> None:
        if index >= 0:
            self.editor.set_label_value(int(self.label_box.itemData(index)))

    def _on_visibility(self, item: QListWidgetItem) -> None:
        value = int(item.data(Qt.ItemDataRole.UserRole))
        self.editor.overlay.set_label_visible(value, item.checkState() == Qt.CheckState.Checked)
