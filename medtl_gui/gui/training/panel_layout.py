"""How the training panel's fields are arranged: three group boxes of forms that fit the dock column (290 px
at 1280x720); wider fields go under their caption instead of beside it, and nothing scrolls sideways."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from medtl_gui.gui.training.form_fields import compact_form

if TYPE_CHECKING:
    from medtl_gui.gui.training.training_panel import TrainingPanel


def caption_row(form: QFormLayout, text: str, field: QWidget) -> None:
    """``field`` under its caption, both the form's whole width (a long caption then does not widen the
    form's caption column, and the field gets the whole row)."""
    caption = QLabel(text)
    caption.setToolTip(field.toolTip())
    form.addRow(caption)
    form.addRow(field)


def lay_out(panel: "TrainingPanel") -> None:
    """Put the panel's fields into its layout (sets ``panel._seg_input`` and ``panel._data_form``, the rows
    shown for segmentation only)."""
    p = panel
    choices = compact_form()
    caption_row(choices, "Preset", p.preset)  # long names ("Quick (feature extraction)"): the whole row
    choices.addRow("Task", p.task)
    choices.addRow("Model", p.model)
    caption_row(choices, "Pretrained", p.weights)  # "None (random initialisation)", "<name> — not in the store"
    what = QVBoxLayout()  # not form rows: a form gives a wrapped label the height of its previous text
    what.addLayout(choices)
    what.addWidget(p.weights_reason)  # the whole width: beside the button it wrapped every two words
    what.addWidget(p.import_button)
    how = compact_form()
    how.addRow("Strategy", p.strategy)
    how.addRow("Stages to train", p.stages)
    how.addRow("Unfreeze every", p.unfreeze_every)
    how.addRow("Retention", p.retention)
    how.addRow("Loss weight α", p.alpha)  # one row each: side by side they outgrow the dock column
    how.addRow("Loss weight β", p.beta)
    how.addRow("Learning rate", p.lr)
    caption_row(how, "Layer-wise factor", p.lr_decay)
    caption_row(how, "Domain adaptation", p.domain_adaptation)
    data = compact_form()
    data.addRow("Epochs", p.epochs)
    data.addRow("Time budget", p.time_budget)
    data.addRow("Batch size", p.batch_size)
    data.addRow("Image size", p.image_size)
    data.addRow("Patches per image", p.patches)
    data.addRow("Foreground share", p.foreground)
    seg_input = QGridLayout()  # two by two: fits the dock column
    for i, widget in enumerate((p.colour_channel, p.contrast, QLabel("scale"), p.input_scale)):
        seg_input.addWidget(widget, i // 2, i % 2)
    for box in (p.colour_channel, p.contrast):
        box.setMinimumContentsLength(5)
    data.addRow("Input", seg_input)
    p._seg_input = seg_input
    p._data_form = data
    augmentation = QHBoxLayout()
    augmentation.addWidget(p.augmentation, 1)
    augmentation.addWidget(p.preview_button)
    data.addRow("Augmentation", augmentation)
    data.addRow(p.preview)
    data.addRow("Class balancing", p.imbalance)
    data.addRow("Validation split", p.val_fraction)
    data.addRow("Device", p.device)
    data.addRow("Seed", p.seed)
    layout = QVBoxLayout(p)
    for title, form in (("Model", what), ("Transfer learning", how), ("Data and run", data)):
        box = QGroupBox(title)
        box.setLayout(form)
        layout.addWidget(box)
    layout.addWidget(p.data_line)
    layout.addWidget(p.problems_label)
    layout.addWidget(p.start_button)
    layout.addStretch(1)
