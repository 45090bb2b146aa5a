"""The thumbnail grid view and its delegate (tile = thumbnail, name, status badge)."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from packshot.desktop.thumbnails import STATUS_COLOURS, THUMB_SIZE, StatusRole


class PhotoDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:  # noqa: N802 - Qt API
        return QSize(THUMB_SIZE + 16, THUMB_SIZE + 36)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        painter.save()
        rect = option.rect
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, option.palette.highlight())
        pix: QPixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if pix is not None:
            x = rect.x() + (rect.width() - pix.width()) // 2
            y = rect.y() + 8 + (THUMB_SIZE - pix.height()) // 2
            painter.drawPixmap(x, y, pix)
        status = index.data(StatusRole) or ""
        colour = STATUS_COLOURS.get(status, QColor(90, 90, 90))
        badge = QRect(rect.x() + 10, rect.y() + 10, 78, 18)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(colour)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(badge, 6, 6)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, status)
        painter.setPen(option.palette.text().color())
        text_rect = QRect(rect.x() + 4, rect.y() + THUMB_SIZE + 12, rect.width() - 8, 20)
        name = painter.fontMetrics().elidedText(index.data(Qt.ItemDataRole.DisplayRole) or "",
                                                Qt.TextElideMode.ElideMiddle, text_rect.width())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignCenter, name)
        painter.restore()


class PhotoGrid(QListView):
    """Icon-mode list: uniform item sizes and batched layout keep thousands of rows cheap."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setSpacing(4)
        self.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.setItemDelegate(PhotoDelegate(self))
