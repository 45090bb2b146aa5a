"""Short background tasks on a QThreadPool (thumbnails, mask edits, embeddings, downloads, export).

The napari habit: a worker wraps a plain function, reports through Qt signals (queued to the GUI
thread because the signal object lives there), and can be cancelled through a ``CancelToken`` that
the function checks. Long model work that must own the models goes to ``packshot.desktop.queue`` instead.
"""

from __future__ import annotations

import inspect
import logging
import sys
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from packshot.core.errors import Cancelled
from packshot.core.progress import CancelToken, Progress
from packshot.desktop.errors import log_exception

log = logging.getLogger(__name__)

# The GUI thread takes the GIL back many times per event-loop turn (every Python slot, paint event
# and virtual-method check of a Python widget). Against busy workers each take waits up to the
# interpreter's switch interval (5 ms by default): dozens per turn made 150-450 ms stalls on a loaded
# 2-core machine. At 1 ms they are a fifth of that; workers lose little (they switch only when asked).
GUI_SWITCH_INTERVAL = 0.001


def favour_gui_thread() -> None:
    """Let the GUI thread take the GIL back from busy workers within ``GUI_SWITCH_INTERVAL``."""
    if sys.getswitchinterval() > GUI_SWITCH_INTERVAL:
        sys.setswitchinterval(GUI_SWITCH_INTERVAL)


class WorkerSignals(QObject):
    started = Signal()
    progress = Signal(object)  # packshot.core.progress.Progress
    returned = Signal(object)
    errored = Signal(object)  # the exception object itself, traceback attached (napari's thread_worker)
    cancelled = Signal()
    finished = Signal()


class FunctionWorker(QRunnable):
    """Run ``fn(*args, **kwargs)`` on a pool thread; pass ``progress``/``cancel`` if it takes them."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.signals = WorkerSignals()
        self.cancel_token = CancelToken()
        params = inspect.signature(fn).parameters
        if "progress" in params and "progress" not in kwargs:
            self.kwargs["progress"] = self._emit_progress
        if "cancel" in params and "cancel" not in kwargs:
            self.kwargs["cancel"] = self.cancel_token
        self.setAutoDelete(False)  # the Python wrapper keeps the signals alive until finished

    def _emit_progress(self, p: Progress) -> None:
        self.signals.progress.emit(p)

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def run(self) -> None:
        try:
            self._run()
        except RuntimeError as exc:  # the app is shutting down: the signal object is gone, nobody listens
            log.debug("Background task finished after shutdown: %s", exc)

    def _run(self) -> None:
        self.signals.started.emit()
        try:
            result = self.fn(*self.args, **self.kwargs)
        except Cancelled:
            self.signals.cancelled.emit()
        except Exception as exc:  # relayed as it is; the GUI shows one readable line
            # Logged here, with its traceback, because a caller may pass no on_error at all.
            log_exception(exc, f"Background task {getattr(self.fn, '__qualname__', self.fn)} failed")
            self.signals.errored.emit(exc)
        else:
            if self.cancel_token.cancelled:
                self.signals.cancelled.emit()
            else:
                self.signals.returned.emit(result)
        finally:
            self.signals.finished.emit()


_live: set[FunctionWorker] = set()


def start_worker(
    fn: Callable[..., Any],
    *args: Any,
    on_result: Optional[Callable[[Any], None]] = None,
    on_error: Optional[Callable[[BaseException], None]] = None,
    on_progress: Optional[Callable[[Progress], None]] = None,
    on_finished: Optional[Callable[[], None]] = None,
    on_cancelled: Optional[Callable[[], None]] = None,
    pool: Optional[QThreadPool] = None,
    priority: int = 0,
    **kwargs: Any,
) -> FunctionWorker:
    """Create, connect and start a ``FunctionWorker``; it is kept alive until it finishes."""
    worker = FunctionWorker(fn, *args, **kwargs)
    if on_result:
        worker.signals.returned.connect(on_result)
    if on_error:
        worker.signals.errored.connect(on_error)
    if on_progress:
        worker.signals.progress.connect(on_progress)
    if on_cancelled:
        worker.signals.cancelled.connect(on_cancelled)
    if on_finished:  # connected before start: a fast task must not finish before we listen
        worker.signals.finished.connect(on_finished)
    _live.add(worker)
    worker.signals.finished.connect(lambda: _live.discard(worker))
    (pool or QThreadPool.globalInstance()).start(worker, priority)
    return worker


def forget_worker(worker: FunctionWorker) -> None:
    """Release a worker that was taken back from its pool before it ran (``QThreadPool.tryTake``)."""
    _live.discard(worker)


def serial_pool(name: str) -> QThreadPool:
    """A pool with one thread: tasks on it run in order (a mask session is not thread-safe)."""
    pool = QThreadPool()
    pool.setObjectName(name)
    pool.setMaxThreadCount(1)
    pool.setExpiryTimeout(-1)  # keep the thread: its torch state stays warm
    return pool
