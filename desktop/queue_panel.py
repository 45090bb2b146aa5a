"""The queue panel: every queued item with its own progress bar, overall progress, and controls."""

from __future__ import annotations

import time
from typing import Optional

from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from packshot.core.progress import Progress
from packshot.desktop.queue import BatchCounts, GenerationQueue

MAX_ROWS = 500  # finished rows beyond this are dropped from the view (the store keeps the facts)
ETA_STAGES = ("batch", "masks", "export")  # stages counted in photos: their pace gives an ETA
# The stages that count a job's photos (or masks, or files): a job's bar follows these, and the
# steps inside one photo (reading, mask, background, the denoising steps) only add words to it.
OUTER_UNITS = {"batch": "photos", "masks": "masks", "export": "files"}


def progress_words(p: Progress) -> str:
    """What one photo is doing, in words: "background (white)", "step 3 of 20" (never "photo 4/4",
    which reads as a count of photos)."""
    if p.stage == "generate":
        return f"step {p.done} of {p.total}" if p.total > 1 else "background"
    if p.stage == "photo":
        return (p.message or "").split(": ", 1)[-1] or "working"
    return p.stage


def item_text(outer: Optional[Progress], inner: Optional[Progress]) -> str:
    """A job's progress line: its own count ("2 of 5 photos") and, after it, what the current photo does."""
    parts = []
    if outer is not None and outer.total:
        parts.append(f"{outer.done} of {outer.total} {OUTER_UNITS[outer.stage]}")
    if inner is not None:
        parts.append(progress_words(inner))
    return " · ".join(parts)


def eta_text(seconds: float) -> str:
    """'about 1 min 20 s left' (rounded so it does not flicker)."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"about {seconds} s left"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"about {minutes} min {sec // 10 * 10} s left"
    return f"about {minutes // 60} h {minutes % 60} min left"


class QueuePanel(QWidget):
    def __init__(self, queue: GenerationQueue, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Item", "State", "Progress"])
        self.tree.setRootIsDecorated(False)
        self.tree.setColumnWidth(0, 320)
        self.overall = QProgressBar()
        self.overall.setFormat("nothing queued")
        self.overall.setValue(0)
        self.status = QLabel("Idle")
        self.live = QLabel()  # the background forming (core's live preview), shown while a generation runs
        self.live.setFixedSize(96, 96)
        self.live.setScaledContents(True)
        self.live.setToolTip("The background forming, every few steps")
        self.live.hide()
        self.pause_btn = QPushButton("Pause")
        self.pause_btn.setCheckable(True)
        self.pause_btn.setToolTip("Hold the queue after the current step (Ctrl+P)")
        self.pause_btn.toggled.connect(queue.set_paused)
        self.cancel_btn = QPushButton("Cancel current")
        self.cancel_btn.clicked.connect(queue.cancel_current)
        self.cancel_all_btn = QPushButton("Cancel all")
        self.cancel_all_btn.clicked.connect(queue.cancel_all)

        controls = QHBoxLayout()
        controls.addWidget(self.live)
        controls.addWidget(self.status, 1)
        controls.addWidget(self.overall, 2)
        controls.addWidget(self.pause_btn)
        controls.addWidget(self.cancel_btn)
        controls.addWidget(self.cancel_all_btn)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.tree)

        self._stage_since: dict[tuple[int, str], float] = {}
        self._outer: dict[int, Progress] = {}  # item -> its latest count of photos / masks / files
        self._states: dict[int, str] = {}  # item -> queued | running | done | failed | cancelled
        self._rows: dict[int, QTreeWidgetItem] = {}
        self._bars: dict[int, QProgressBar] = {}
        queue.item_added.connect(self._added)
        queue.item_started.connect(lambda i: self._set_state(i, "running"))
        queue.item_progress.connect(self._progress)
        queue.item_finished.connect(lambda i, _r: self._set_state(i, "done", full=True))
        queue.item_failed.connect(lambda i, exc: self._set_state(i, "failed", tip=str(exc)))
        queue.item_cancelled.connect(lambda i: self._set_state(i, "cancelled"))
        queue.batch_counts.connect(lambda _counts: self._overall())
        queue.paused_changed.connect(self._paused)

    def _added(self, item_id: int, label: str) -> None:
        row = QTreeWidgetItem([label, "queued", ""])
        self.tree.addTopLevelItem(row)
        bar = QProgressBar()
        bar.setMaximumHeight(14)
        bar.setValue(0)
        self.tree.setItemWidget(row, 2, bar)
        self._rows[item_id], self._bars[item_id] = row, bar
        self._states[item_id] = "queued"
        while self.tree.topLevelItemCount() > MAX_ROWS:
            old = self.tree.takeTopLevelItem(0)
            for key, value in list(self._rows.items()):
                if value is old:
                    self._rows.pop(key)
                    self._bars.pop(key)
                    self._states.pop(key, None)
                    self._outer.pop(key, None)
        self._overall()

    def _set_state(self, item_id: int, state: str, *, full: bool = False, tip: str = "") -> None:
        row = self._rows.get(item_id)
        if row is None:
            return
        row.setText(1, state)
        self._states[item_id] = state
        if tip:
            row.setToolTip(1, tip)
        if full:
            bar = self._bars[item_id]
            bar.setMaximum(max(bar.maximum(), 1))
            bar.setValue(bar.maximum())
            outer = self._outer.get(item_id)
            bar.setFormat(_escaped(item_text(outer, None) if outer is not None else "done"))
        if state == "running":
            self.status.setText(f"Running: {row.text(0)}")
            self.tree.scrollToItem(row)

    def _progress(self, item_id: int, p: Progress) -> None:
        bar = self._bars.get(item_id)
        if bar is None:
            return
        if p.stage in OUTER_UNITS:
            self._outer[item_id] = p
        outer = self._outer.get(item_id)
        counted = outer if outer is not None else p  # the bar counts the job's photos when it has them
        if counted.total:
            bar.setMaximum(counted.total)
            bar.setValue(counted.done)
        eta = ""
        item = self.queue.item(item_id)
        if p.stage in ETA_STAGES and p.total and p.done and item is not None and item.started_at:
            eta = " · " + eta_text((time.monotonic() - item.started_at) / p.done * (p.total - p.done))
            self._stage_since.setdefault((item_id, p.stage), item.started_at)
        words = item_text(outer, None if p is outer else p)
        bar.setFormat(_escaped(words + eta) if (words or eta) else "%p%")
        if eta:
            self.status.setText(f"Running: {self._rows[item_id].text(0)}{eta}")
        row = self._rows[item_id]
        row.setToolTip(2, p.message or p.stage)
        if p.image is not None:
            self.show_live_preview(p.image)

    def show_live_preview(self, images) -> None:
        """The first variant's preview (uint8 H x W x 3, small: made on the worker, only painted here)."""
        import numpy as np
        from PySide6.QtGui import QImage, QPixmap

        rgb = np.ascontiguousarray(images[0])
        height, width = rgb.shape[:2]
        image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
        self.live.setPixmap(QPixmap.fromImage(image))
        self.live.show()

    def counts(self) -> BatchCounts:
        """How the jobs listed here ended: the overall line counts what the list shows."""
        states = list(self._states.values())
        return BatchCounts(total=len(states), done=states.count("done"), failed=states.count("failed"),
                           cancelled=states.count("cancelled"))

    def _overall(self) -> None:
        # The bar fills as items end; the text says how they ended (cancelled is not done).
        counts = self.counts()
        self.overall.setFormat(_escaped(counts.text()) if counts.total else "nothing queued")
        self.overall.setMaximum(max(counts.total, 1))
        self.overall.setValue(counts.finished)
        if counts.total and counts.finished >= counts.total:
            self.status.setText("Idle")
            self.live.hide()

    def _paused(self, paused: bool) -> None:
        self.pause_btn.blockSignals(True)
        self.pause_btn.setChecked(paused)
        self.pause_btn.blockSignals(False)
        self.pause_btn.setText("Resume" if paused else "Pause")
        if paused:
            self.status.setText("Paused")

    def progress_text(self, item_id: int) -> str:
        """What the item's own bar says ("2 of 5 photos · background")."""
        bar = self._bars.get(item_id)
        return bar.text() if bar is not None else ""

    def state_of(self, item_id: int) -> str:
        row = self._rows.get(item_id)
        return row.text(1) if row else ""

    def item_ids(self) -> list[int]:
        """The queue items listed, oldest first."""
        return list(self._rows)

    def row_count(self) -> int:
        return self.tree.topLevelItemCount()


def _escaped(text: str) -> str:
    """A progress bar's format treats % as a placeholder: a file name's own % is kept as it is."""
    return text.replace("%", "%%")


class QueueDock(QDockWidget):
    """The queue panel docked at the bottom of the window: hidden until work is queued."""

    def __init__(self, queue: GenerationQueue, parent: QWidget) -> None:
        super().__init__("Generation queue", parent)
        self.setObjectName("queue-dock")
        self.panel = QueuePanel(queue)
        self.setWidget(self.panel)
        self.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.hide()
        queue.item_added.connect(lambda *_: self.show())
