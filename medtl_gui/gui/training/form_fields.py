"""Small factories for the training panel's form fields (combo boxes and spin boxes with tips) and its forms,
made to fit the dock column (290 px at 1280x720): combo boxes ask for a few characters and elide the rest,
forms put a field that does not fit beside its label under it."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QSpinBox

from medtl_gui.gui.elided_combo import ElidedComboBox


def compact_form() -> QFormLayout:
    """A form whose fields grow with the panel and wrap under their label when the panel is narrow."""
    form = QFormLayout()
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    return form


def combo(items: list[tuple[str, Any]] = (), tip: str = "") -> QComboBox:
    """A combo box of ``(text, data)`` items that fits a narrow panel (``ElidedComboBox``)."""
    box = ElidedComboBox()
    for text, data in items:
        box.addItem(text, data)
    box.setToolTip(tip)
    return box


def select(box: QComboBox, value: Any) -> bool:
    """Choose the item whose data is ``value``; False when there is none."""
    index = box.findData(value)
    if index >= 0:
        box.setCurrentIndex(index)
    return index >= 0


def spin(low: int, high: int, tip: str, special: str | None = None) -> QSpinBox:
    """An integer spin box (``special``: the text shown at its minimum)."""
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setToolTip(tip)
    if special:
        spin.setSpecialValueText(special)
    return spin


def dspin(low: float, high: float, decimals: int, step: float, tip: str, special: str | None = None) -> QDoubleSpinBox:
    """A decimal spin box (``special``: the text shown at its minimum)."""
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(decimals)
    spin.setSingleStep(step)
    spin.setToolTip(tip)
    if special:
        spin.setSpecialValueText(special)
    return spin
