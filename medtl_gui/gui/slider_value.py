"""A label beside a slider that shows its value as the user drags (e.g. "50 %" beside an opacity slider)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSlider


def percent_text(value: int) -> str:
    """A 0..100 slider value as shown beside it."""
    return f"{value} %"


def slider_value_label(slider: QSlider, text: Callable[[int], str] = percent_text) -> QLabel:
    """A label that always shows ``text(slider.value())`` (fixed width, so the slider does not jump)."""
    label = QLabel(text(slider.value()))
    label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    label.setMinimumWidth(label.fontMetrics().horizontalAdvance(text(slider.maximum())) + 4)
    slider.valueChanged.connect(lambda value: label.setText(text(value)))
    return label
