"""A small live preview of the chosen shadow on the current photo (computed off the GUI thread).

It uses core's own pieces (``core.jobs.make_shadow`` and ``core.generation.composite``) on a
downscaled copy of the photo and its stored mask, over a light grey background.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QLabel

from desktop.workers import serial_pool, start_worker

log = logging.getLogger(__name__)

PREVIEW_SIDE = 320
BACKDROP = (236, 236, 236)


def render_shadow_preview(photo: Path, mask_path: Path, kind: str, side: int = PREVIEW_SIDE) -> np.ndarray:
    """H x W x 3 uint8: the product over a plain backdrop with core's shadow of ``kind``."""
    from PIL import Image

    from core.generation.composite import composite
    from core.images import load_photo
    from core.jobs import load_mask_file, make_shadow

    full = load_photo(photo)
    mask = load_mask_file(mask_path, full.size)
    scale = min(1.0, side / max(full.size))
    size = (max(1, round(full.size[0] * scale)), max(1, round(full.size[1] * scale)))
    rgb = np.asarray(Image.fromarray(full.rgb8).resize(size, Image.Resampling.BILINEAR))
    alpha = np.asarray(Image.fromarray((mask.alpha * 255).astype(np.uint8)).resize(size, Image.Resampling.BILINEAR),
                       np.float32) / 255.0
    backdrop = np.empty_like(rgb)
    backdrop[:] = BACKDROP
    return composite(rgb, alpha, backdrop, make_shadow(kind))


class ShadowPreview(QLabel):
    """Shows ``render_shadow_preview`` for the photo and shadow set last (older answers are dropped)."""

    def __init__(self) -> None:
        super().__init__("Shadow preview: select a photo with a mask.")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumHeight(160)
        self.setWordWrap(True)
        self._photo: Optional[Path] = None
        self._mask: Optional[Path] = None
        self._kind = "none"
        self._asked = 0
        self.rendered = 0  # previews shown (tests wait on it)
        self._pool = serial_pool("packshot-shadow-preview")

    def set_photo(self, photo: Optional[Path], mask_path: Optional[Path]) -> None:
        self._photo, self._mask = photo, mask_path
        self._refresh()

    def set_shadow(self, kind: str) -> None:
        self._kind = kind
        self._refresh()

    def _refresh(self) -> None:
        if self._photo is None or self._mask is None or not Path(self._mask).is_file():
            self.setText("Shadow preview: the photo needs a mask first (Masks step).")
            return
        self._asked += 1
        ticket = self._asked
        start_worker(render_shadow_preview, self._photo, self._mask, self._kind, pool=self._pool,
                     on_result=lambda rgb, t=ticket: self._show(t, rgb),
                     on_error=lambda exc: self.setText(f"No shadow preview: {exc}"))

    def _show(self, ticket: int, rgb: np.ndarray) -> None:
        if ticket != self._asked:
            return  # the user changed photo or shadow meanwhile
        from desktop.mask_view import rgb_to_qimage

        self.setPixmap(QPixmap.fromImage(rgb_to_qimage(rgb)))
        self.rendered += 1

    def shutdown(self) -> None:
        self._pool.waitForDone(5000)
