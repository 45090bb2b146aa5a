"""Photo + mask overlay view with click, box and brush tools (coordinates in full-res pixels).

The photo is shown at display resolution (at most ``DISPLAY_MAX`` px on the long side) so a 50 MP
photo stays cheap to paint; every event is mapped back to the photo's own pixel grid before it is
emitted, so the mask session never sees display coordinates.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPainterPath, QPen, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

from packshot.core.app_api import resize_mask
from packshot.desktop.mask_editing import mask_labels

DISPLAY_MAX = 1600
TOOLS = ("click", "box", "brush", "eraser")
MASK_RGB = (30, 144, 255)
OUTLINE_RGB = (255, 220, 0)


def display_size(width: int, height: int, limit: int = DISPLAY_MAX) -> tuple[int, int]:
    scale = min(1.0, limit / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """H x W x 3 uint8 -> an owning QImage (safe to build on a worker thread), in the format pixmaps
    use, so ``QPixmap.fromImage`` on the GUI thread converts nothing (1600 px: 5 ms less there)."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).convertToFormat(QImage.Format.Format_RGB32)


def overlay_image(labels: np.ndarray, opacity: float, outline: bool) -> QImage:
    """The overlay as an 8-bit indexed image of ``mask_labels`` (0 clear, 1 mask, 2 outline).

    Opacity and the outline switch only change the colour table, so toggling them is instant and
    the per-pixel work (``mask_labels``) can run on the worker that produced the mask."""
    h, w = labels.shape
    labels = np.ascontiguousarray(labels, np.uint8)
    image = QImage(labels.data, w, h, w, QImage.Format.Format_Indexed8).copy()
    tint = QColor(*MASK_RGB, int(round(255 * opacity))).rgba()
    image.setColorTable([QColor(0, 0, 0, 0).rgba(), tint, QColor(*OUTLINE_RGB).rgba() if outline else tint])
    return image


class MaskView(QGraphicsView):
    point_clicked = Signal(float, float, bool)  # x, y (photo pixels), positive
    box_drawn = Signal(float, float, float, float)  # x0, y0, x1, y1 (photo pixels)
    stroke_finished = Signal(object, float, bool)  # [(x, y), ...], radius (photo px), add

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setBackgroundBrush(QColor(40, 40, 40))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self._photo_item = QGraphicsPixmapItem()
        self._mask_item = QGraphicsPixmapItem()
        self._mask_item.setZValue(1)
        self.scene().addItem(self._photo_item)
        self.scene().addItem(self._mask_item)
        self._rubber = QGraphicsRectItem()
        self._rubber.setPen(QPen(QColor(255, 80, 80), 0, Qt.PenStyle.DashLine))
        self._rubber.setZValue(3)
        self._rubber.hide()
        self.scene().addItem(self._rubber)
        self._stroke_item = QGraphicsPathItem()
        self._stroke_item.setZValue(2)
        self.scene().addItem(self._stroke_item)
        self._cursor = QGraphicsEllipseItem()
        self._cursor.setPen(QPen(QColor(255, 255, 255), 0))
        self._cursor.setZValue(4)
        self._cursor.hide()
        self.scene().addItem(self._cursor)
        self.setMouseTracking(True)

        self.tool = "click"
        self.brush_size = 40  # diameter in photo pixels
        self.opacity = 0.45
        self.outline = True
        self._full_size = (1, 1)
        self._scale = 1.0  # display px per photo px
        self._mask: Optional[np.ndarray] = None
        self._labels: Optional[np.ndarray] = None
        self._drag_start: Optional[QPointF] = None
        self._stroke: list[tuple[float, float]] = []
        self._stroke_add = True

    # -- content --------------------------------------------------------------------------------
    def set_photo(self, image: QImage, full_size: tuple[int, int]) -> None:
        """``image`` is the display-size photo; ``full_size`` the photo's (width, height)."""
        self._full_size = full_size
        self._scale = image.width() / full_size[0]
        self._photo_item.setPixmap(QPixmap.fromImage(image))
        self.scene().setSceneRect(QRectF(0, 0, image.width(), image.height()))
        self._mask_item.setPixmap(QPixmap())
        self._mask = None
        self.fit()

    def clear(self) -> None:
        """No photo and no mask: nothing left on the canvas that belongs to another photo."""
        self._photo_item.setPixmap(QPixmap())
        self.set_mask(None)
        self._stroke, self._drag_start = [], None
        self._stroke_item.setPath(QPainterPath())
        self._rubber.hide()
        self._full_size, self._scale = (1, 1), 1.0
        self.scene().setSceneRect(QRectF())

    @property
    def has_photo(self) -> bool:
        """Whether a photo is on the canvas."""
        return not self._photo_item.pixmap().isNull()

    def set_mask(self, mask: Optional[np.ndarray], labels: Optional[np.ndarray] = None) -> None:
        """``mask``: bool H x W at display size (or full size: resized here); ``labels`` from
        ``mask_labels`` when a worker already made them."""
        if mask is None:
            self._mask = None
            self._mask_item.setPixmap(QPixmap())
            return
        pix = self._photo_item.pixmap()
        self._mask = resize_mask(mask.astype(bool), (pix.width(), pix.height()))
        self._labels = labels if labels is not None and labels.shape == self._mask.shape else \
            mask_labels(self._mask)
        self._redraw_mask()

    def set_opacity(self, opacity: float) -> None:
        self.opacity = float(opacity)
        self._redraw_mask()

    def set_outline(self, on: bool) -> None:
        self.outline = bool(on)
        self._redraw_mask()

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}")
        self.tool = tool
        self._cursor.setVisible(False)
        # the brush's outline previews its size; red says the eraser takes away
        self._cursor.setPen(QPen(QColor(255, 80, 80) if tool == "eraser" else QColor(255, 255, 255), 0))
        self.setCursor(Qt.CursorShape.CrossCursor if tool in ("click", "box") else Qt.CursorShape.BlankCursor)

    def _redraw_mask(self) -> None:
        if self._mask is not None:
            self._mask_item.setPixmap(QPixmap.fromImage(overlay_image(self._labels, self.opacity, self.outline)))

    def fit(self) -> None:
        rect = self.scene().sceneRect()
        if rect.width() > 0:
            self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)

    # -- coordinates ----------------------------------------------------------------------------
    def to_photo(self, scene_pt: QPointF) -> tuple[float, float]:
        x = min(max(scene_pt.x() / self._scale, 0.0), self._full_size[0] - 1)
        y = min(max(scene_pt.y() / self._scale, 0.0), self._full_size[1] - 1)
        return x, y

    def from_photo(self, x: float, y: float) -> QPoint:
        """Photo pixel -> widget (viewport) position; tests use it to click at a photo pixel."""
        return self.mapFromScene(QPointF(x * self._scale, y * self._scale))

    # -- events ---------------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        factor = 1.25 if event.angleDelta().y() > 0 else 0.8
        self.scale(factor, factor)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        scene_pt = self.mapToScene(event.position().toPoint())
        left = event.button() == Qt.MouseButton.LeftButton
        right = event.button() == Qt.MouseButton.RightButton
        if not (left or right):
            return super().mousePressEvent(event)
        if self.tool == "click":
            x, y = self.to_photo(scene_pt)
            self.point_clicked.emit(x, y, left)
        elif self.tool == "box" and left:
            self._drag_start = scene_pt
            self._rubber.setRect(QRectF(scene_pt, scene_pt))
            self._rubber.show()
        elif self.tool in ("brush", "eraser"):
            # Right button inverts the tool, like the click tool's negative click.
            self._stroke_add = (self.tool == "brush") == left
            self._stroke = [self.to_photo(scene_pt)]
            self._update_stroke_item()
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        scene_pt = self.mapToScene(event.position().toPoint())
        if self.tool in ("brush", "eraser"):
            r = self.brush_size * self._scale / 2
            self._cursor.setRect(QRectF(scene_pt.x() - r, scene_pt.y() - r, 2 * r, 2 * r))
            self._cursor.show()
        if self._drag_start is not None:
            self._rubber.setRect(QRectF(self._drag_start, scene_pt).normalized())
        elif self._stroke:
            self._stroke.append(self.to_photo(scene_pt))
            self._update_stroke_item()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        scene_pt = self.mapToScene(event.position().toPoint())
        if self._drag_start is not None:
            x0, y0 = self.to_photo(self._drag_start)
            x1, y1 = self.to_photo(scene_pt)
            self._drag_start = None
            self._rubber.hide()
            if abs(x1 - x0) >= 2 and abs(y1 - y0) >= 2:
                self.box_drawn.emit(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        elif self._stroke:
            self._stroke.append(self.to_photo(scene_pt))
            points, self._stroke = self._stroke, []
            self._stroke_item.setPath(QPainterPath())
            self.stroke_finished.emit(points, self.brush_size / 2, self._stroke_add)
        event.accept()

    def _update_stroke_item(self) -> None:
        path = QPainterPath()
        pts = [QPointF(x * self._scale, y * self._scale) for x, y in self._stroke]
        path.moveTo(pts[0])
        for p in pts[1:]:
            path.lineTo(p)
        colour = QColor(*MASK_RGB, 140) if self._stroke_add else QColor(255, 60, 60, 140)
        pen = QPen(colour, max(1.0, self.brush_size * self._scale), Qt.PenStyle.SolidLine,
                   Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        self._stroke_item.setPen(pen)
        self._stroke_item.setPath(path)

    def mask_display(self) -> Optional[np.ndarray]:
        return self._mask
