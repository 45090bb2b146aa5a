"""Mask view pieces: overlay labels and colours, and photo <-> screen coordinates on big photos
(shown downscaled) so a click lands on the photo pixel under the cursor."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage

from packshot.core.masking.postprocess import resize_mask
from packshot.desktop.mask_editing import mask_labels
from packshot.desktop.mask_view import DISPLAY_MAX, MaskView, display_size, overlay_image


def test_labels_mark_inside_and_outline():
    mask = np.zeros((20, 30), bool)
    mask[5:15, 10:20] = True
    labels = mask_labels(mask)
    assert labels[0, 0] == 0 and labels[10, 15] == 1
    assert labels[5, 15] == 2 and labels[10, 10] == 2  # the border of the square
    assert set(np.unique(labels[~mask])) <= {0, 2}


def test_overlay_opacity_and_outline_switch_only_recolour():
    labels = np.array([[0, 1, 2]], np.uint8)
    on = overlay_image(labels, 0.5, True)
    off = overlay_image(labels, 0.5, False)
    assert QColor.fromRgba(on.pixel(0, 0)).alpha() == 0
    assert QColor.fromRgba(on.pixel(1, 0)).alpha() == 128
    assert QColor.fromRgba(on.pixel(2, 0)).alpha() == 255
    assert off.pixel(2, 0) == off.pixel(1, 0)  # outline off: drawn like the mask


def test_big_photo_clicks_map_to_full_resolution(qtbot):
    full = (4000, 3000)
    w, h = display_size(*full)
    assert max(w, h) == DISPLAY_MAX
    view = MaskView()
    view.resize(800, 600)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    image = QImage(w, h, QImage.Format.Format_RGB888)
    image.fill(QColor(200, 200, 200))
    view.set_photo(image, full)
    mask = np.zeros((full[1], full[0]), bool)
    mask[1000:2000, 1500:2500] = True
    view.set_mask(resize_mask(mask, (w, h)))
    assert view.mask_display().shape == (h, w)
    with qtbot.waitSignal(view.point_clicked) as sig:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.from_photo(3210, 1234))
    x, y, _ = sig.args
    # one screen pixel is several photo pixels here: the click lands within that footprint
    footprint = full[0] / (w * view.transform().m11())
    assert abs(x - 3210) <= footprint and abs(y - 1234) <= footprint
