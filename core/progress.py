"""Progress reporting and cooperative cancellation shared by every long operation.

Jobs take a ``ProgressCallback`` and a ``CancelToken``; the CLI renders progress with tqdm, the GUI
forwards it through Qt signals from its worker thread. Nothing here knows about either.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from packshot.core.errors import Cancelled


@dataclass(frozen=True)
class Progress:
    """One progress report: ``done`` of ``total`` units of ``stage`` (``total`` 0 = unknown)."""

    stage: str
    done: int
    total: int
    message: str = ""
    # A live preview of the background forming (N x H x W x 3 uint8), sent every few steps to
    # callbacks that ask for it with a ``preview_every`` attribute (the app's worker does).
    image: Optional[Any] = field(default=None, compare=False, repr=False)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


ProgressCallback = Callable[[Progress], None]


def preview_every(progress: Optional[ProgressCallback]) -> int:
    """How often ``progress`` wants live preview images (0: never)."""
    return int(getattr(progress, "preview_every", 0) or 0)


def no_progress(_: Progress) -> None:
    """Default callback: report nothing."""


class CancelToken:
    """Thread-safe flag that a worker checks between units of work (steps, files, chunks)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def reset(self) -> None:
        self._event.clear()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("Cancelled by the user.")


def check(cancel: Optional[CancelToken]) -> None:
    """Raise ``Cancelled`` if ``cancel`` is set; accept ``None`` for callers that cannot cancel."""
    if cancel is not None:
        cancel.raise_if_cancelled()
