"""A small live preview of the chosen shadow on the current photo (computed off the GUI thread).

The picture comes from one core function made for it (``packshot.core.jobs.preview_shadow``): the photo and
its stored mask with the settings' shadow, background and size preset.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel

from packshot.core.jobs import JobSettings, preview_shadow
from packshot.desktop.workers import serial_pool, start_worker

log = logging.getLogger(__name__)


class ShadowPreview(QLabel):
    """Shows ``preview_shadow`` for the photo set last and the settings ``settings()`` gives at each
    refresh (None: none valid now, keep the last picture); older answers are dropped."""

    def __init__(self, settings: Callable[[], Optional[JobSettings]]) -> None:
        super().__init__("Shadow preview: select a photo with a mask.")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(120, 160)
        self.setWordWrap(True)
        self._photo: Optional[Path] = None
        self._mask: Optional[Path] = None
        self._settings = settings
        self._asked = 0
        self._answered = 0  # the last ticket shown or failed
        self.image: Optional[np.ndarray] = None  # the picture shown last (H x W x 3 uint8)
        self.rendered = 0  # previews shown (tests wait on it)
        self._pool = serial_pool("packshot-shadow-preview")

    def set_photo(self, photo: Optional[Path], mask_path: Optional[Path]) -> None:
        self._photo, self._mask = photo, mask_path
        self.refresh()

    def refresh(self) -> None:
        """Preview again (the settings changed)."""
        if self._photo is None or self._mask is None or not Path(self._mask).is_file():
            self.setText("Shadow preview: the photo needs a mask first (Masks step).")
            return
        settings = self._settings()
        if settings is None:
            return
        self._asked += 1
        ticket = self._asked
        start_worker(preview_shadow, self._photo, self._mask, settings, pool=self._pool,
                     on_result=lambda rgb, t=ticket: self._show(t, rgb),
                     on_error=lambda exc, t=ticket: self._failed(t, exc))

    def pending(self) -> bool:
        """Whether the preview asked for last has not come back yet."""
        return self._answered != self._asked

    def _failed(self, ticket: int, exc: BaseException) -> None:
        if ticket == self._asked:
            self._answered = ticket
            self.image = None
            self.setText(f"No shadow preview: {exc}")

    def _show(self, ticket: int, rgb: np.ndarray) -> None:
        if ticket != self._asked:
            return  # the user changed photo or settings meanwhile
        self._answered = ticket
        self.image = rgb
        self._fit()
        self.rendered += 1

    def _fit(self) -> None:
        """The whole picture, scaled down to the label (never cut at an edge)."""
        if self.image is None:
            return
        from packshot.desktop.mask_view import rgb_to_qimage

        pixmap = QPixmap.fromImage(rgb_to_qimage(self.image))
        room = self.contentsRect().size()
        if pixmap.width() > room.width() or pixmap.height() > room.height():
            pixmap = pixmap.scaled(room, Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
        self.setPixmap(pixmap)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._fit()

    def shutdown(self) -> None:
        self._pool.waitForDone(5000)
