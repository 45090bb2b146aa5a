"""The Background step's shadow preview: every shadow renders (the photo's own too), over the chosen
colour, with the whole picture in view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tests.desktop.conftest import product_photo

TIMEOUT = 30_000


def _photo_with_mask(folder: Path, bottom: bool = False) -> tuple[Path, Path]:
    """A red product (reaching the bottom edge when ``bottom``) on a studio-grey backdrop, and its mask."""
    photo = folder / "mug.png"
    w, h = 96, 80
    yy, xx = np.mgrid[0:h, 0:w]
    centre_y = h - 12 if bottom else h / 2
    inside = ((xx - w / 2) / (w * 0.25)) ** 2 + ((yy - centre_y) / (h * 0.3)) ** 2 <= 1
    if bottom:
        product_photo(photo, (w, h))
        img = np.full((h, w, 3), 225, np.uint8)
        img[inside] = (200, 30, 40)
        Image.fromarray(img).save(photo)
    else:
        product_photo(photo, (w, h))
    mask = folder / "mug_mask.png"
    Image.fromarray(np.where(inside, 255, 0).astype(np.uint8)).save(mask)
    return photo, mask


def _preview_after(qtbot, window, change) -> np.ndarray:
    preview = window.templates.shadow_preview
    shown = preview.rendered
    change()
    qtbot.waitUntil(lambda: preview.rendered > shown and not preview.pending(), timeout=TIMEOUT)
    assert preview.image is not None, preview.text()
    return preview.image


def test_keep_the_photos_own_shadow_renders(qtbot, make_window, app_settings, tmp_path):
    window = make_window(app_settings, engine="white")
    photo, mask = _photo_with_mask(tmp_path)
    panel = window.templates
    panel.set_preview_photo(photo, mask)
    image = _preview_after(qtbot, window, lambda: panel.shadow.setCurrentIndex(panel.shadow.findData("keep")))
    assert image.ndim == 3 and image.shape[2] == 3
    assert "No shadow preview" not in panel.shadow_preview.text()


def test_drop_shadow_preview_is_over_the_chosen_colour(qtbot, make_window, app_settings, tmp_path):
    window = make_window(app_settings, engine="color", shadow="drop")
    photo, mask = _photo_with_mask(tmp_path)
    panel = window.templates
    panel.set_preview_photo(photo, mask)
    image = _preview_after(qtbot, window, lambda: panel.set_colour((20, 40, 230)))
    assert tuple(image[0, 0]) == (20, 40, 230)


def test_drop_shadow_below_a_product_at_the_bottom_edge_is_in_view(qtbot, make_window, app_settings, tmp_path):
    """With a size preset the product is framed with room below, as in the output: the shadow shows there."""
    window = make_window(app_settings, engine="white", shadow="drop")
    photo, mask = _photo_with_mask(tmp_path, bottom=True)
    panel = window.templates
    panel.set_preview_photo(photo, mask)
    image = _preview_after(qtbot, window, lambda: panel.preset.setCurrentIndex(panel.preset.findData("square-1000")))
    assert image.shape[0] == image.shape[1]  # framed on the preset's square canvas
    product_rows = np.nonzero(((image[:, :, 0] > 150) & (image[:, :, 1] < 100)).any(axis=1))[0]
    below = image[product_rows.max() + 1:]  # the rows under the framed product
    assert below.shape[0] > 5 and below.min() < 245  # room below it, and the drop shadow in it
    pixmap = panel.shadow_preview.pixmap()
    room = panel.shadow_preview.contentsRect()
    assert pixmap.width() <= room.width() and pixmap.height() <= room.height()  # nothing cut off
