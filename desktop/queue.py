"""The generation queue: one worker QThread that owns the models and runs jobs one at a time.

Every model call (masking, diffusion, QC re-segmentation) goes through here, so models are loaded
once, on one thread, and never on the GUI thread. Jobs are plain objects with
``run(progress, cancel) -> result`` (see ``QueueJob``); the queue reports per-item and overall
progress through signals, and supports cancel current, cancel all and pause (which also holds a
running job at its next progress report, i.e. between diffusion steps).
"""

from __future__ import annotations

import atexit
import itertools
import logging
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Optional, Protocol

from PySide6.QtCore import QObject, QThread, Signal, Slot

from packshot.core.errors import Cancelled
from packshot.core.progress import CancelToken, Progress

LIVE_PREVIEW_EVERY = 4  # denoising steps between live previews of the background forming

log = logging.getLogger(__name__)


class QueueJob(Protocol):
    """What the queue runs. ``label`` is shown in the queue panel."""

    label: str

    def run(self, progress, cancel: CancelToken) -> Any: ...


@dataclass
class QueueItem:
    id: int
    job: QueueJob
    cancel: CancelToken = field(default_factory=CancelToken)
    state: str = "queued"  # queued | running | done | failed | cancelled
    started_at: float = 0.0

    @property
    def label(self) -> str:
        return getattr(self.job, "label", type(self.job).__name__)


@dataclass
class BatchCounts:
    """How the items queued since the queue was last idle ended (so far)."""

    total: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.cancelled

    def text(self) -> str:
        """E.g. "2 of 5 jobs done · 3 cancelled": cancelled and failed items are never counted as done."""
        parts = [f"{self.done} of {self.total} {'job' if self.total == 1 else 'jobs'} done"]
        parts += [f"{n} {word}" for n, word in ((self.failed, "failed"), (self.cancelled, "cancelled")) if n]
        return " · ".join(parts)


class _Runner(QObject):
    """Lives on the worker thread; its ``loop`` slot never returns until ``stop``."""

    item_started = Signal(int)
    item_progress = Signal(int, object)  # id, Progress
    item_finished = Signal(int, object)  # id, result
    item_failed = Signal(int, object)  # id, exception
    item_cancelled = Signal(int)
    idle = Signal()

    def __init__(self, owner: GenerationQueue) -> None:
        super().__init__()
        self._owner = owner

    @Slot()
    def loop(self) -> None:
        owner = self._owner
        while True:
            item = owner._take_next()
            if item is None:
                return
            self.item_started.emit(item.id)
            try:
                # A job that returned has done its work (its results are saved): it is "done" even
                # if a cancel arrived after its last step.
                result = item.job.run(self._reporter(item), item.cancel)
            except Cancelled:
                item.state = "cancelled"
                self.item_cancelled.emit(item.id)
            except Exception as exc:  # one failed item never stops the queue
                log.exception("Queue item %r failed", item.label)
                item.state = "failed"
                self.item_failed.emit(item.id, exc)
            else:
                item.state = "done"
                self.item_finished.emit(item.id, result)
            finally:
                owner._done_with(item)
            if owner._is_empty():
                self.idle.emit()

    def _reporter(self, item: QueueItem):
        def report(p: Progress) -> None:
            self._report(item, p)

        report.preview_every = LIVE_PREVIEW_EVERY  # type: ignore[attr-defined]  (core sends live previews)
        return report

    def _report(self, item: QueueItem, p: Progress) -> None:
        self.item_progress.emit(item.id, p)
        self._owner._wait_while_paused(item.cancel)  # pause holds the job between steps
        item.cancel.raise_if_cancelled()


class GenerationQueue(QObject):
    """Submit jobs from the GUI thread; connect to the signals to follow them."""

    item_added = Signal(int, str)  # id, label
    item_started = Signal(int)
    item_progress = Signal(int, object)
    item_finished = Signal(int, object)
    item_failed = Signal(int, object)
    item_cancelled = Signal(int)
    overall_progress = Signal(int, int)  # finished items (done, failed or cancelled), all items since idle
    batch_counts = Signal(object)  # BatchCounts: done, failed and cancelled told apart
    paused_changed = Signal(bool)
    idle = Signal()

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._cond = threading.Condition()
        self._pending: deque[QueueItem] = deque()
        self._current: Optional[QueueItem] = None
        self._paused = False
        self._stopping = False
        self._ids = itertools.count(1)
        self._items: dict[int, QueueItem] = {}
        self._counts = BatchCounts()
        self._thread = QThread()
        self._thread.setObjectName("packshot-models")
        self._runner = _Runner(self)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.loop)
        for name in ("item_started", "item_progress", "item_failed", "item_cancelled", "idle"):
            getattr(self._runner, name).connect(getattr(self, name))
        self._runner.item_finished.connect(self.item_finished)
        self._runner.item_finished.connect(lambda *_: self._count("done"))
        self._runner.item_failed.connect(lambda *_: self._count("failed"))
        self._runner.item_cancelled.connect(lambda *_: self._count("cancelled"))
        self._thread.start()
        # A running QThread destroyed at interpreter exit aborts the process: stop it first.
        ref = weakref.ref(self)
        atexit.register(lambda: (q := ref()) is not None and q._alive() and q.shutdown())

    # -- GUI-thread API -------------------------------------------------------------------------
    def submit(self, job: QueueJob) -> int:
        item = QueueItem(next(self._ids), job)
        with self._cond:
            if self._current is None and not self._pending:
                self._counts = BatchCounts()
            self._items[item.id] = item
            self._pending.append(item)
            self._counts.total += 1
            self._cond.notify_all()
        self.item_added.emit(item.id, item.label)
        self._emit_counts()
        return item.id

    def counts(self) -> BatchCounts:
        return replace(self._counts)

    def item(self, item_id: int) -> Optional[QueueItem]:
        return self._items.get(item_id)

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._current is not None or bool(self._pending)

    @property
    def paused(self) -> bool:
        return self._paused

    def pending_count(self) -> int:
        with self._cond:
            return len(self._pending) + (1 if self._current else 0)

    def cancel_current(self) -> None:
        with self._cond:
            if self._current is not None:
                self._current.cancel.cancel()
            self._cond.notify_all()

    def cancel(self, item_id: int) -> None:
        """Cancel one item, queued or running."""
        with self._cond:
            item = self._items.get(item_id)
            if item is None:
                return
            if item in self._pending:
                self._pending.remove(item)
                item.state = "cancelled"
                dropped = True
            else:
                item.cancel.cancel()
                dropped = False
            self._cond.notify_all()
        if dropped:
            self.item_cancelled.emit(item_id)
            self._count("cancelled")

    def cancel_all(self) -> None:
        with self._cond:
            dropped = list(self._pending)
            self._pending.clear()
            for item in dropped:
                item.state = "cancelled"
            if self._current is not None:
                self._current.cancel.cancel()
            self._cond.notify_all()
        for item in dropped:
            self.item_cancelled.emit(item.id)
            self._count("cancelled")

    def set_paused(self, paused: bool) -> None:
        with self._cond:
            self._paused = paused
            self._cond.notify_all()
        self.paused_changed.emit(paused)

    def shutdown(self, timeout_ms: int = 300_000) -> bool:
        """Cancel everything and stop the thread (called when the window closes).

        The running job stops at its next cancellation check (a diffusion step, a file), which on a
        slow CPU can take seconds; destroying a running QThread would abort the process, so this
        waits for it. Returns False only if the job did not stop within ``timeout_ms``."""
        self.cancel_all()
        with self._cond:
            self._stopping = True
            self._paused = False
            self._cond.notify_all()
        self._thread.quit()
        stopped = self._thread.wait(timeout_ms)
        if not stopped:
            log.error("The generation worker did not stop within %d s.", timeout_ms // 1000)
        return stopped

    def worker_running(self) -> bool:
        """Whether the queue's worker thread still runs (it stops on ``shutdown``)."""
        return self._alive()

    def _alive(self) -> bool:
        try:
            return self._thread.isRunning()
        except RuntimeError:  # the C++ object is already gone
            return False

    def wait_idle(self, timeout_s: float = 60.0) -> bool:
        """Block until nothing is queued or running (tests and shutdown only, never from slots)."""
        end = time.monotonic() + timeout_s
        with self._cond:
            while self._current is not None or self._pending:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    # -- worker-thread side ---------------------------------------------------------------------
    def _take_next(self) -> Optional[QueueItem]:
        with self._cond:
            while not self._stopping and (self._paused or not self._pending):
                self._cond.wait()
            if self._stopping:
                return None
            item = self._pending.popleft()
            item.state = "running"
            item.started_at = time.monotonic()
            self._current = item
            return item

    def _done_with(self, item: QueueItem) -> None:
        with self._cond:
            self._current = None
            self._cond.notify_all()

    def _is_empty(self) -> bool:
        with self._cond:
            return not self._pending

    def _wait_while_paused(self, cancel: CancelToken) -> None:
        with self._cond:
            while self._paused and not self._stopping and not cancel.cancelled:
                self._cond.wait(0.2)

    def _count(self, state: str) -> None:
        """GUI thread (queued signals from the worker, or cancel calls)."""
        setattr(self._counts, state, getattr(self._counts, state) + 1)
        self._emit_counts()

    def _emit_counts(self) -> None:
        self.overall_progress.emit(self._counts.finished, self._counts.total)
        self.batch_counts.emit(replace(self._counts))
