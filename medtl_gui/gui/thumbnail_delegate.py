"""How one image looks in the thumbnail grid: picture, class colour bar, name, label, mask badge."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from medtl_gui.gui.browser_model import ROW_ROLE, BrowserRow
from medtl_gui.gui.thumbnails import ThumbnailCache

#: size of one grid cell (picture + two text lines)
CELL = QSize(136, 168)
PICTURE = 120


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints a ``BrowserRow`` as a grid cell; a grey placeholder until its thumbnail arrives."""

    def __init__(self, thumbnails: "ThumbnailCache | None" = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.small_font = QFont()
        self.small_font.setPointSizeF(max(7.0, self.small_font.pointSizeF() - 1.0))

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:  # noqa: N802
        return CELL

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        row: BrowserRow = index.data(ROW_ROLE)
        if row is None:
            return
        rect = option.rect.adjusted(3, 3, -3, -3)
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette.highlight() if selected else palette.base())
        painter.drawRoundedRect(rect, 5, 5)
        picture_rect = QRect(rect.left() + (rect.width() - PICTURE) // 2, rect.top() + 4, PICTURE, PICTURE)
        # ask the cache directly: QModelIndex.data() returning "nothing" leaks None in PySide6 6.12.0
        pixmap = self.thumbnails.pixmap(row.image_id, row.sha256) if self.thumbnails is not None else None
        painter.fillRect(picture_rect, QColor(0, 0, 0))
        if pixmap is not None and not pixmap.isNull():
            scaled = pixmap.scaled(picture_rect.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
            x = picture_rect.left() + (picture_rect.width() - scaled.width()) // 2
            y = picture_rect.top() + (picture_rect.height() - scaled.height()) // 2
            painter.drawPixmap(x, y, scaled)
        else:
            painter.setPen(QColor(110, 112, 118))
            painter.drawText(picture_rect, Qt.AlignmentFlag.AlignCenter, "…")
        if row.color:
            painter.fillRect(QRect(picture_rect.left(), picture_rect.bottom() - 4, picture_rect.width(), 5),
                             QColor(row.color))
        if row.has_mask:
            badge = QRect(picture_rect.right() - 20, picture_rect.top() + 3, 17, 14)
            painter.setBrush(QColor(255, 127, 14, 220))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawRoundedRect(badge, 3, 3)
            painter.setPen(QColor(255, 255, 255))
            painter.setFont(self.small_font)
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, "M")
        if row.disagrees:
            painter.setPen(QPen(QColor("#ffb347"), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(picture_rect.adjusted(1, 1, -1, -1))
        text_color = palette.highlightedText().color() if selected else palette.text().color()
        painter.setPen(text_color)
        painter.setFont(self.small_font)
        metrics = painter.fontMetrics()
        name_rect = QRect(rect.left() + 4, picture_rect.bottom() + 4, rect.width() - 8, metrics.height())
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignHCenter,
                         metrics.elidedText(row.name, Qt.TextElideMode.ElideMiddle, name_rect.width()))
        label = row.cell(1) or "unlabelled"
        label_rect = name_rect.translated(0, metrics.height())
        if row.color and not selected:
            painter.setPen(QColor(row.color))
        elif not row.label:
            painter.setPen(QColor(140, 142, 148) if not selected else text_color)
        painter.drawText(label_rect, Qt.AlignmentFlag.AlignHCenter,
                         metrics.elidedText(label + (f" · {row.split}" if row.split else ""),
                                            Qt.TextElideMode.ElideRight, label_rect.width()))
        painter.restore()
