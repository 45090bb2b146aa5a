"""Mask review: the photo with its mask, SAM clicks, box, brush/eraser, undo/redo, accept/reject.

Every edit is queued to one serial worker (the mask session is not thread-safe and SAM must not
run on the GUI thread); a second worker precomputes SAM embeddings for the next photos in the
review queue, which is ordered by mask score (doubtful masks first).

Key presses are never lost to a photo that is still loading: each is queued, with the photo it
was pressed for, behind that photo's open on the same serial worker, so they apply in order. Mouse
edits need the photo on screen (their coordinates belong to it). Accept moves on at once, so the
next press is for the next photo even before the save has finished.

A photo that cannot be read (HEIC without pillow-heif, a damaged file...) leaves the canvas empty,
says core's reason and cannot be accepted; work queued for it behind its open is dropped unsaid
(the open's reason is the one that matters).
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from packshot.core.progress import CancelToken
from packshot.desktop.mask_editing import EditResult, MaskEditor, OpenedPhoto
from packshot.desktop.mask_view import DISPLAY_MAX, MaskView, rgb_to_qimage
from packshot.desktop.project_session import ProjectSession
from packshot.desktop.settings import AppSettings
from packshot.desktop.workers import FunctionWorker, forget_worker, serial_pool, start_worker
from packshot.desktop.workspace import Workspace

log = logging.getLogger(__name__)

LOOKAHEAD = 3  # photos whose embeddings are prepared ahead of the one under review
# Doubtful masks are marked and come first: core's gate decides (its reason, or a score below its threshold).

# name -> keys (the first is shown in tooltips and the help overlay)
SHORTCUTS = {
    "click": ("C",), "box": ("X",), "brush": ("B",), "eraser": ("E",),
    "undo": ("Ctrl+Z",), "redo": ("Ctrl+Shift+Z", "Ctrl+Y"), "reset": ("Ctrl+R",),
    "accept": ("A", "Return"), "reject": ("R", "Backspace"), "next": ("N", "PgDown"), "prev": ("P", "PgUp"),
    "bigger": ("]",), "smaller": ("[",), "outline": ("O",), "more_opaque": (".",), "less_opaque": (",",),
    "fit": ("F",),
}
SHORTCUT_HELP = {
    "click": "Points tool (left click adds, right click removes)", "box": "Box tool", "brush": "Brush",
    "eraser": "Eraser (right button inverts brush and eraser)", "undo": "Undo", "redo": "Redo",
    "reset": "Reset the mask", "accept": "Accept the mask and go to the next photo",
    "reject": "Reject: do not generate this photo", "next": "Next photo", "prev": "Previous photo",
    "bigger": "Bigger brush", "smaller": "Smaller brush", "outline": "Outline on/off",
    "more_opaque": "More opaque overlay", "less_opaque": "Less opaque overlay", "fit": "Fit the photo",
}


def is_doubtful(record: Optional[object]) -> bool:
    """Core's mask-gate verdict on a project photo record (the batch reports the same ones)."""
    from packshot.core.jobs import DEFAULT_DOUBT_SCORE

    if record is None:
        return False
    score = getattr(record, "mask_score", None)
    return bool(getattr(record, "mask_doubt", None)) or (score is not None and score < DEFAULT_DOUBT_SCORE)


def open_for_view(editor: MaskEditor, path: Path, cancel: Optional[CancelToken] = None) -> tuple[OpenedPhoto, QImage]:
    """On the edit worker: ``editor`` opens ``path``, and its display image is made ready to paint
    there too, so the GUI thread only wraps it."""
    opened = editor.open(path, DISPLAY_MAX, cancel)
    return opened, rgb_to_qimage(opened.display)


class MaskReviewPanel(QWidget):
    mask_saved = Signal(object)  # photo path
    photo_changed = Signal(object)  # photo path now under review
    busy_changed = Signal(bool)
    compute_all_requested = Signal()
    download_requested = Signal()  # the user wants SAM's weights (models dialog)
    order_changed = Signal()  # states or scores changed (the Masks step counts again)

    def __init__(self, settings: AppSettings, workspace: Workspace, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.workspace = workspace
        self.session: Optional[ProjectSession] = None
        self.editor: Optional[MaskEditor] = None
        self.path: Optional[Path] = None
        self.order: list[Path] = []
        self._edit_pool: QThreadPool = serial_pool("packshot-mask-edits")
        self._lookahead_pool: QThreadPool = serial_pool("packshot-embeddings")
        self._lookahead: Optional[FunctionWorker] = None
        self._open_worker: Optional[FunctionWorker] = None
        self._pending = 0
        self._opened: Optional[OpenedPhoto] = None
        self._inputs_behind_open = 0  # key presses queued behind the open still in flight
        self._failed: dict[Path, str] = {}  # photos left behind whose queued work failed
        self._unreadable: dict[Path, str] = {}  # photos whose open failed: core's reason
        self._build()

    # -- layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        self.view = MaskView()
        self.view.point_clicked.connect(lambda x, y, pos: self._queue_view_edit("click", x, y, pos))
        self.view.box_drawn.connect(lambda *box: self._queue_view_edit("box", *box))
        self.view.stroke_finished.connect(lambda pts, r, add: self._queue_view_edit("stroke", pts, r, add))
        self.queue_list = QListWidget()
        self.queue_list.setMaximumWidth(260)
        # Selection IS the photo under review: a single click or an arrow key opens it in the editor.
        self.queue_list.currentItemChanged.connect(self._list_moved)

        self.tool_buttons = QButtonGroup(self)
        tools = QHBoxLayout()
        for tool, text in (("click", "Points"), ("box", "Box"), ("brush", "Brush"), ("eraser", "Eraser")):
            btn = QToolButton()
            btn.setText(text)
            btn.setCheckable(True)
            btn.setToolTip(f"{text} ({SHORTCUTS[tool][0]})" + (": left adds, right removes" if tool == "click" else ""))
            btn.clicked.connect(lambda _c=False, t=tool: self.set_tool(t))
            self.tool_buttons.addButton(btn)
            btn.setObjectName(f"tool-{tool}")
            tools.addWidget(btn)
        self.tool_buttons.buttons()[0].setChecked(True)
        self.brush_size = QSpinBox()
        self.brush_size.setRange(2, 1000)
        self.brush_size.setValue(self.view.brush_size)
        self.brush_size.setSuffix(" px")
        self.brush_size.valueChanged.connect(lambda v: setattr(self.view, "brush_size", v))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(int(self.view.opacity * 100))
        self.opacity.setMaximumWidth(120)
        self.opacity.valueChanged.connect(lambda v: self.view.set_opacity(v / 100))
        self.outline = QCheckBox("Outline")
        self.outline.setChecked(True)
        self.outline.toggled.connect(self.view.set_outline)
        tools.addWidget(QLabel("Brush"))
        tools.addWidget(self.brush_size)
        tools.addWidget(QLabel("Opacity"))
        tools.addWidget(self.opacity)
        tools.addWidget(self.outline)
        tools.addStretch(1)

        self.undo_btn = QPushButton("Undo")
        self.undo_btn.clicked.connect(lambda: self._queue_edit("undo"))
        self.redo_btn = QPushButton("Redo")
        self.redo_btn.clicked.connect(lambda: self._queue_edit("redo"))
        self.reset_btn = QPushButton("Reset")
        self.reset_btn.clicked.connect(lambda: self._queue_edit("reset"))
        self.prev_btn = QPushButton("◀ Previous")
        self.prev_btn.clicked.connect(self.previous)
        self.next_btn = QPushButton("Next ▶")
        self.next_btn.clicked.connect(self.next)
        self.reject_btn = QPushButton("Reject")
        self.reject_btn.setToolTip("Mark this photo as not to be generated (R)")
        self.reject_btn.clicked.connect(self.reject)
        self.accept_btn = QPushButton("Accept")
        self.accept_btn.setToolTip("Save this mask as reviewed and go to the next photo (A or Enter)")
        self.accept_btn.clicked.connect(self.accept)
        actions = QHBoxLayout()
        for w in (self.undo_btn, self.redo_btn, self.reset_btn):
            actions.addWidget(w)
        actions.addStretch(1)
        for w in (self.prev_btn, self.reject_btn, self.accept_btn, self.next_btn):
            actions.addWidget(w)
        self.info = QLabel("Open a folder to review masks.")
        self.failed_line = QLabel()  # work for a photo the user already left failed: it stays said
        self.failed_line.setWordWrap(True)
        self.failed_line.setStyleSheet("color:#c33")
        self.failed_line.hide()
        self.sam_note = QLabel("No SAM weights on this machine: clicks and boxes refine the mask only coarsely "
                               "(the classic masker). Brush and eraser work fully.")
        self.sam_note.setWordWrap(True)
        self.sam_note.setStyleSheet("color:#a60")
        self.sam_btn = QPushButton("Download SAM…")
        self.sam_btn.clicked.connect(self.download_requested)
        sam_row = QHBoxLayout()
        sam_row.addWidget(self.sam_note, 1)
        sam_row.addWidget(self.sam_btn)
        self.sam_bar = QWidget()
        self.sam_bar.setLayout(sam_row)
        self.sam_bar.hide()

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.sam_bar)
        rl.addLayout(tools)
        rl.addWidget(self.view, 1)
        rl.addWidget(self.info)
        rl.addWidget(self.failed_line)
        rl.addLayout(actions)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel("Review queue (doubtful first)"))
        ll.addWidget(self.queue_list)
        self.compute_all_btn = QPushButton("Compute all masks")
        self.compute_all_btn.setToolTip("Automatic masks for every photo (on the generation queue), so the "
                                        "queue can put doubtful masks first")
        self.compute_all_btn.clicked.connect(self.compute_all_requested)
        ll.addWidget(self.compute_all_btn)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        keys = {
            "click": lambda: self.set_tool("click"), "box": lambda: self.set_tool("box"),
            "brush": lambda: self.set_tool("brush"), "eraser": lambda: self.set_tool("eraser"),
            "undo": lambda: self._queue_edit("undo"), "redo": lambda: self._queue_edit("redo"),
            "reset": lambda: self._queue_edit("reset"), "accept": self.accept, "reject": self.reject,
            "next": self.next, "prev": self.previous,
            "bigger": lambda: self.brush_size.setValue(int(self.brush_size.value() * 1.25) + 1),
            "smaller": lambda: self.brush_size.setValue(max(2, int(self.brush_size.value() / 1.25))),
            "outline": self.outline.toggle,
            "more_opaque": lambda: self.opacity.setValue(self.opacity.value() + 10),
            "less_opaque": lambda: self.opacity.setValue(self.opacity.value() - 10),
            "fit": self.view.fit,
        }
        self.shortcuts = {}
        for name, slot in keys.items():
            sc = QShortcut(self)
            sc.setKeys([QKeySequence(k) for k in SHORTCUTS[name]])
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)
            self.shortcuts[name] = sc
        self._update_buttons(False, False)
        self._sync_accept()

    # -- project --------------------------------------------------------------------------------
    def set_session(self, session: ProjectSession, mask_settings: Any) -> None:
        """``mask_settings``: ``packshot.desktop.job_settings.mask_settings`` (the batch's masker choices)."""
        self._cancel_lookahead()
        self._edit_pool.waitForDone(30_000)  # the old editor's last edits finish before it goes
        self.session = session
        self.editor = MaskEditor(session.out_dir, mask_settings, self.workspace)
        self.path, self._opened, self._open_worker, self._inputs_behind_open = None, None, None, 0
        self._failed.clear()
        self._unreadable.clear()
        self._show_failed()
        self._sync_accept()
        try:
            has_sam = self.editor.context.auto_mask_models().get("sam") is not None
        except Exception:  # a broken models folder: the editor reports it when it opens a photo
            log.debug("Cannot tell whether SAM is here", exc_info=True)
            has_sam = False
        self.sam_bar.setVisible(not has_sam)
        self.refresh_order()

    def counts(self) -> tuple[int, int, int]:
        """(accepted, doubtful, total) over the project's photos, for the Masks step."""
        if self.session is None:
            return 0, 0, 0
        records = self.session.photos()
        accepted = sum(1 for r in records if r.mask_state in ("reviewed", "edited"))
        doubtful = sum(1 for r in records if r.mask_state not in ("reviewed", "edited")
                       and not r.rejected and is_doubtful(r))
        return accepted, doubtful, len(records)

    def refresh_order(self) -> None:
        if self.session is None:
            return
        self.order = self.session.review_order()
        records = {r.path: r for r in self.session.photos()}
        self.queue_list.blockSignals(True)  # rebuilding the list is not the user moving in it
        self.queue_list.clear()
        for path in self.order:
            rec = records.get(path)
            score = f"{rec.mask_score:.2f}" if rec and rec.mask_score is not None else "–"
            state = (rec.mask_state or "pending") if rec else "pending"
            if rec and rec.rejected:
                state = "rejected"
            unreadable = self._unreadable.get(path)
            if unreadable is not None:
                state = "cannot be read"
            doubtful = state in ("auto", "pending") and is_doubtful(rec)
            mark = "⚠ doubtful · " if doubtful else ""
            item = QListWidgetItem(f"{path.name}\n  {mark}{state} · score {score}")
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setData(Qt.ItemDataRole.UserRole + 1, doubtful)
            if doubtful:
                item.setForeground(QColor(200, 110, 0))
                item.setToolTip("The automatic mask scored low: check its outline first")
            if unreadable is not None:
                item.setForeground(QColor(200, 50, 50))
                item.setToolTip(unreadable)
            self.queue_list.addItem(item)
            if path == self.path:
                self.queue_list.setCurrentItem(item)
        self.queue_list.blockSignals(False)
        self.order_changed.emit()

    def _list_moved(self, current: Optional[QListWidgetItem], _previous: Optional[QListWidgetItem]) -> None:
        if current is not None:
            self.show_photo(Path(current.data(Qt.ItemDataRole.UserRole)))

    # -- navigation -----------------------------------------------------------------------------
    def show_photo(self, path: Path) -> Optional[FunctionWorker]:
        if self.editor is None or path == self.path:
            return None
        self.path = path = Path(path)
        self._opened = None
        # read again (the file may have been replaced); its reason is said again if it still fails
        if (reason := self._unreadable.pop(path, None)) is not None and self._failed.get(path) == reason:
            del self._failed[path]
            self._show_failed()
        self.info.setText(f"Loading {path.name}…")
        self._drop_pending_open()
        self._inputs_behind_open = 0
        self._cancel_lookahead()  # the photo in front of the user goes first
        self._set_busy(+1)
        worker = start_worker(open_for_view, self.editor, path, pool=self._edit_pool,
                              on_result=self._opened_photo, on_error=lambda exc: self._open_failed(exc, path),
                              on_finished=lambda: self._set_busy(-1))
        self._open_worker = worker
        self.queue_list.blockSignals(True)
        for row in range(self.queue_list.count()):
            if self.queue_list.item(row).data(Qt.ItemDataRole.UserRole) == str(self.path):
                self.queue_list.setCurrentRow(row)
        self.queue_list.blockSignals(False)
        self._sync_accept()
        self.photo_changed.emit(self.path)
        return worker

    def _drop_pending_open(self) -> None:
        """Paging quickly through photos: an open not started yet is dropped, a running one is
        cancelled at its next check (SAM's encoder checks between blocks)."""
        worker, self._open_worker = self._open_worker, None
        if worker is None or self._inputs_behind_open:
            return  # key presses for that photo wait behind its open: it must happen
        worker.cancel()
        if self._edit_pool.tryTake(worker):
            forget_worker(worker)
            self._set_busy(-1)

    def _step(self, delta: int) -> None:
        if not self.order:
            return
        i = self.order.index(self.path) if self.path in self.order else -1
        j = min(max(i + delta, 0), len(self.order) - 1)
        if j != i:
            self.show_photo(self.order[j])

    def next(self) -> None:
        self._step(+1)

    def previous(self) -> None:
        self._step(-1)

    def _start_lookahead(self) -> None:
        self._cancel_lookahead()
        if self.path not in self.order or self.editor is None:
            return
        i = self.order.index(self.path)
        upcoming = self.order[i + 1: i + 1 + LOOKAHEAD]
        if upcoming:
            self._lookahead = start_worker(self.editor.precompute, upcoming, pool=self._lookahead_pool)

    def _cancel_lookahead(self) -> None:
        if self._lookahead is not None:
            self._lookahead.cancel()
            self._lookahead = None

    # -- edits ----------------------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        self.view.set_tool(tool)
        for btn in self.tool_buttons.buttons():
            btn.setChecked(btn.objectName() == f"tool-{tool}")

    def _queue_view_edit(self, op: str, *args) -> Optional[FunctionWorker]:
        """A mouse edit: its coordinates belong to the photo on screen, so none while another loads."""
        if self._opened is None or self._opened.path != self.path:
            return None
        return self._queue_edit(op, *args)

    def _queue_edit(self, op: str, *args) -> Optional[FunctionWorker]:
        return self._submit(getattr(self.editor, op) if self.editor else None, args, self._edited)

    def accept(self) -> Optional[FunctionWorker]:
        """Save the mask of the photo under review and move on at once (the save runs behind)."""
        worker = self._submit(self.editor.accept if self.editor else None, (), self._accepted)
        if worker is not None:
            self.next()
        return worker

    def _submit(self, fn, args: tuple, on_result) -> Optional[FunctionWorker]:
        """Queue ``fn(path, *args)`` for the photo under review, behind its open if it is loading."""
        if fn is None or self.path is None or self.path in self._unreadable:
            return None
        path = self.path
        if self._open_worker is not None:
            self._inputs_behind_open += 1
        self._set_busy(+1)
        return start_worker(fn, path, *args, pool=self._edit_pool, on_result=on_result,
                            on_error=lambda exc: self._error(exc, path), on_finished=lambda: self._set_busy(-1))

    def reject(self) -> None:
        if self.session is None or self.path is None:
            return
        self.session.set_rejected(self.path, True)
        self.mask_saved.emit(self.path)
        self.refresh_order()
        self.next()

    def _accepted(self, path: Path) -> None:
        if self._failed.pop(Path(path), None) is not None:
            self._show_failed()
        self.mask_saved.emit(path)
        self.refresh_order()

    # -- results from the worker ----------------------------------------------------------------
    def _opened_photo(self, result: tuple[OpenedPhoto, QImage]) -> None:
        opened, image = result
        if opened.path != self.path:
            return  # the user moved on while this photo loaded
        self._opened = opened
        self._open_worker = None
        self._inputs_behind_open = 0
        self._start_lookahead()  # now that this photo is ready, prepare the next ones
        self.view.set_photo(image, opened.full_size)
        self.view.set_mask(opened.mask, opened.labels)
        self._describe(opened.score, opened.state)
        self._update_buttons(False, False)
        self.refresh_order()

    def _edited(self, result: EditResult) -> None:
        if result.path != self.path or self._opened is None or self._opened.path != result.path:
            return
        self.view.set_mask(result.mask, result.labels)
        # undo back to the opened mask is back to its status too (auto, reviewed, ...)
        self._describe(result.score, "edited (not saved: Enter accepts)" if result.edited else self._opened.state)
        self._update_buttons(result.can_undo, result.can_redo)

    def _describe(self, score: Optional[float], state: str) -> None:
        o = self._opened
        score_text = f"{score:.2f}" if score is not None else "–"
        self.info.setText(f"<b>{self.path.name}</b> · mask {state} · score {score_text} · "
                          f"{o.source} via {o.masker} · {o.full_size[0]}×{o.full_size[1]}")

    def _update_buttons(self, can_undo: bool, can_redo: bool) -> None:
        self.undo_btn.setEnabled(can_undo)
        self.redo_btn.setEnabled(can_redo)

    def _open_failed(self, exc: BaseException, path: Path) -> None:
        """``path`` cannot be read: its reason is said, the canvas emptied, accepting it refused."""
        from packshot.desktop.errors import user_message

        reason = user_message(exc)
        self._unreadable[path] = reason
        if path != self.path:  # the user moved on (e.g. accepted it while it loaded): say it where it stays
            self._failed[path] = reason
            self._show_failed()
        else:
            self._open_worker, self._inputs_behind_open = None, 0
            self.view.clear()
            self._update_buttons(False, False)
            self.info.setText(f"<span style='color:#c33'>{html.escape(reason)}</span>")
            self._sync_accept()
        self.refresh_order()

    def _error(self, exc: BaseException, path: Optional[Path] = None) -> None:
        from packshot.desktop.errors import user_message

        if path is not None and Path(path) in self._unreadable:
            return  # queued behind an open that failed: the open's reason is what the user needs
        if path is not None and Path(path) != self.path:  # the user moved on: say it where it stays
            self._failed[Path(path)] = user_message(exc)
            self._show_failed()
            return
        self.info.setText(f"<span style='color:#c33'>{user_message(exc)}</span>")

    def _show_failed(self) -> None:
        self.failed_line.setText("\n".join(f"{p.name}: {msg}" for p, msg in self._failed.items()))
        self.failed_line.setVisible(bool(self._failed))

    def _set_busy(self, delta: int) -> None:
        was = self._pending > 0
        self._pending += delta
        if was != (self._pending > 0):
            self.busy_changed.emit(self._pending > 0)

    @property
    def busy(self) -> bool:
        return self._pending > 0

    @property
    def can_accept(self) -> bool:
        """Whether the photo under review can be accepted: it is open, or still opening (an accept
        pressed meanwhile is applied once it is), and not one that could not be read."""
        return self.editor is not None and self.path is not None and self.path not in self._unreadable

    @property
    def unreadable_reason(self) -> Optional[str]:
        """Core's one-line reason when the photo under review could not be read, else None."""
        return self._unreadable.get(self.path) if self.path is not None else None

    @property
    def opened(self) -> Optional[OpenedPhoto]:
        """The photo on the canvas and its mask's facts (state, score, masker); None while one loads."""
        return self._opened

    def stop_lookahead(self, wait_ms: int = 30_000) -> None:
        """Cancel the next photo's preparation and wait for it to stop (closing, tests)."""
        self._cancel_lookahead()
        self._lookahead_pool.waitForDone(wait_ms)

    @property
    def opened_path(self) -> Optional[Path]:
        """The photo on the canvas, ready for edits (None while one loads or when it cannot be read)."""
        return self._opened.path if self._opened is not None else None

    def _sync_accept(self) -> None:
        self.accept_btn.setEnabled(self.can_accept)
        self.reset_btn.setEnabled(self.can_accept)

    def current_mask(self):
        return self.view.mask_display()

    def shutdown(self) -> None:
        self._cancel_lookahead()
        self._lookahead_pool.waitForDone(10_000)
        self._edit_pool.waitForDone(10_000)
