"""A combo box that fits narrow panels: it asks for a few characters of width, elides its text when it gets
less room than the text needs, and shows the whole text in its tool tip and its (wider) popup list."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import (
    QComboBox,
    QSizePolicy,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QToolTip,
    QWidget,
)

#: characters a combo box asks room for by default (the layout gives it more when there is more)
MIN_CHARACTERS = 8


class ElidedComboBox(QComboBox):
    """``QComboBox`` whose size hint is ``min_characters`` wide, not its longest item's width.

    Qt's combo box clips a current text longer than the box ("Sort: file nan"); this one draws it elided
    ("Sort: file…"), and while it is elided the tool tip starts with the whole text.
    """

    def __init__(self, parent: QWidget | None = None, min_characters: int = MIN_CHARACTERS):
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(min_characters)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.elide_mode = Qt.TextElideMode.ElideRight

    def is_elided(self) -> bool:
        """True when the current text does not fit the box as it is now."""
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        return self.fontMetrics().horizontalAdvance(option.currentText) > self._text_width(option)

    def _text_width(self, option: QStyleOptionComboBox) -> int:
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)
        icon = option.iconSize.width() + 4 if not option.currentIcon.isNull() else 0
        return max(0, field.width() - icon - 2)

    def paintEvent(self, _event) -> None:  # noqa: N802
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        if not self.isEditable():
            option.currentText = self.fontMetrics().elidedText(option.currentText, self.elide_mode,
                                                               self._text_width(option))
            painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent) and self.is_elided():
            tip = self.toolTip()
            QToolTip.showText(event.globalPos(), self.currentText() + (f"\n\n{tip}" if tip else ""), self)
            return True
        return super().event(event)

    def showPopup(self) -> None:  # noqa: N802
        """The list as wide as its longest item (the box itself may be narrower)."""
        view = self.view()
        view.setMinimumWidth(view.sizeHintForColumn(0) + view.verticalScrollBar().sizeHint().width() + 8)
        super().showPopup()
