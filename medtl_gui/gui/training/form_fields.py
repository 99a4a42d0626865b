"""Small factories for the training panel's form fields (combo boxes and spin boxes with tips)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QSpinBox


def combo(items: list[tuple[str, Any]], tip: str = "") -> QComboBox:
    """A combo box of ``(text, data)`` items."""
    box = QComboBox()
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
