"""Edge matting prepared on a worker while the app is idle, saying so when it is its first use.

Loading the edge-matting code holds the GIL for a few hundred ms even from numba's cache, so the app
loads it early rather than in the first composite. On a fresh install that load compiles the code
(seconds, up to a minute on a slow computer): then core's first-use line is shown until it is done,
so a first generation that waits for it is not a silent stall.
"""

from __future__ import annotations

import logging
from typing import Callable, Optional

from PySide6.QtCore import QObject, Qt, Signal

from packshot.core.progress import Progress
from packshot.desktop.elided_label import ElidedLabel
from packshot.desktop.workers import FunctionWorker, start_worker

log = logging.getLogger(__name__)


def prepare_matting(progress: Callable[[Progress], None]) -> None:
    """Load (or, the first time, compile) the edge-matting code; report core's first-use line first
    when it has to compile."""
    from packshot.core.app_api import matting_first_use_message, matting_needs_preparing, warm_up_matting

    if matting_needs_preparing():
        progress(Progress("prepare", 0, 0, matting_first_use_message()))
    warm_up_matting()


class MattingWarmUp(QObject):
    preparing = Signal(str)  # what is being prepared, in words (only when it is the first use)
    finished = Signal()  # done, failed or not needed: nothing is being prepared any more

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._worker: Optional[FunctionWorker] = None

    @property
    def running(self) -> bool:
        return self._worker is not None

    def start(self) -> None:
        if self._worker is not None:
            return
        self._worker = start_worker(
            prepare_matting,
            on_progress=self._progress,  # bound slots: nothing is called once the window is gone
            # the app still works: the first composite loads it instead, only slower
            on_error=lambda exc: log.info("Edge matting warm-up failed: %s", exc),
            on_finished=self._done,
        )

    def _progress(self, progress: Progress) -> None:
        self.preparing.emit(progress.message)

    def _done(self) -> None:
        self._worker = None
        self.finished.emit()


class PreparingLine(ElidedLabel):
    """The status bar's line for what the app prepares ahead (core's first-use line); hidden when nothing."""

    def __init__(self, warm_up: MattingWarmUp) -> None:
        super().__init__(mode=Qt.TextElideMode.ElideRight)
        self.setStyleSheet("color:#a60")
        self.hide()
        warm_up.preparing.connect(self.show_text)
        warm_up.finished.connect(lambda: self.show_text(""))

    def show_text(self, text: str) -> None:
        self.setText(text)
        self.setVisible(bool(text))
