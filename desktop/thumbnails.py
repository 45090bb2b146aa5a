"""Photo grid model: a QAbstractListModel whose thumbnails are decoded lazily on a QThreadPool.

Only rows the view asks to paint request a thumbnail, the newest request first (LIFO priority), so
scrolling through thousands of photos stays fast; decoded thumbnails live in a bounded cache.
"""

from __future__ import annotations

import itertools
import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

log = logging.getLogger(__name__)

THUMB_SIZE = 160
CACHE_LIMIT = 2000

# Status keys shown on each tile, in the words of the issue.
MASK_STATES = ("pending", "auto", "reviewed", "edited", "rejected")
STATUS_COLOURS = {
    "failed": QColor(200, 40, 40),
    "flagged": QColor(230, 140, 0),
    "generated": QColor(40, 160, 70),
    "reviewed": QColor(60, 120, 220),
    "edited": QColor(60, 120, 220),
    "auto": QColor(140, 140, 140),
    "pending": QColor(90, 90, 90),
    "rejected": QColor(120, 0, 120),
}


@dataclass
class PhotoEntry:
    """What the grid shows for one photo; filled from the project store."""

    path: Path
    mask_state: str = "pending"
    mask_score: Optional[float] = None
    generated: bool = False
    flagged: bool = False
    error: Optional[str] = None

    @property
    def status(self) -> str:
        """One word for the badge: the most important fact first."""
        if self.error:
            return "failed"
        if self.flagged:
            return "flagged"
        if self.generated:
            return "generated"
        return self.mask_state

    @property
    def tooltip(self) -> str:
        parts = [self.path.name, f"mask: {self.mask_state}"]
        if self.mask_score is not None:
            parts.append(f"mask score: {self.mask_score:.2f}")
        if self.generated:
            parts.append("generated" + (" (flagged by QC)" if self.flagged else ""))
        if self.error:
            parts.append(f"failed: {self.error}")
        return "\n".join(parts)


PathRole = Qt.ItemDataRole.UserRole + 1
StatusRole = Qt.ItemDataRole.UserRole + 2
EntryRole = Qt.ItemDataRole.UserRole + 3


def load_thumbnail(path: Path, size: int = THUMB_SIZE) -> QImage:
    """Decode a small upright preview (JPEG draft mode keeps this fast for big photos)."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im.draft("RGB", (size * 2, size * 2))  # JPEG: decode at reduced scale directly
        im = ImageOps.exif_transpose(im)
        if im.mode not in ("RGB", "RGBA"):
            im = im.convert("RGBA" if "A" in im.getbands() or "transparency" in im.info else "RGB")
        im.thumbnail((size, size))
        fmt = QImage.Format.Format_RGBA8888 if im.mode == "RGBA" else QImage.Format.Format_RGB888
        data = im.tobytes()
        qimg = QImage(data, im.width, im.height, im.width * len(im.getbands()), fmt)
        return qimg.copy()  # own the pixels: ``data`` dies with this frame


def thumbnail_or_reason(path: Path, size: int = THUMB_SIZE) -> tuple[Optional[QImage], Optional[str]]:
    """(preview, None), or (None, why the photo cannot be read, in core's words): what Pillow alone
    cannot open (camera RAW, HEIC with pillow-heif) core's reader may, and when it cannot either, its
    ``ImageReadError`` says precisely why ("HEIC/HEIF photos need pillow-heif ...")."""
    try:
        return load_thumbnail(path, size), None
    except Exception as exc:  # Pillow's own errors: ask core, which reads more and explains
        log.info("Pillow has no thumbnail for %s: %s", path.name, exc)
    from packshot.core.errors import ImageReadError
    from packshot.core.images import load_photo

    try:
        rgb = load_photo(path).rgb8
    except ImageReadError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a tile never raises; the reason is shown instead
        return None, f"{path.name}: cannot be read ({exc})."
    import numpy as np
    from PIL import Image

    im = Image.fromarray(np.ascontiguousarray(rgb))
    im.thumbnail((size, size))
    data = im.tobytes()
    return QImage(data, im.width, im.height, im.width * 3, QImage.Format.Format_RGB888).copy(), None


class _ThumbSignals(QObject):
    done = Signal(str, object, object)  # path, QImage or None, the reason it is unreadable or None


class _ThumbTask(QRunnable):
    def __init__(self, path: Path, signals: _ThumbSignals) -> None:
        super().__init__()
        self.path, self.signals = path, signals

    def run(self) -> None:
        image, reason = thumbnail_or_reason(self.path)
        self.signals.done.emit(str(self.path), image, reason)


def placeholder(size: int = THUMB_SIZE) -> QPixmap:
    pix = QPixmap(size, size)
    pix.fill(QColor(60, 60, 60))
    return pix


class PhotoListModel(QAbstractListModel):
    """Rows of ``PhotoEntry``; DecorationRole thumbnails load on demand."""

    problem_found = Signal(object, str)  # photo path, why it cannot be read

    def __init__(self, parent: Optional[QObject] = None, pool: Optional[QThreadPool] = None) -> None:
        super().__init__(parent)
        self._entries: list[PhotoEntry] = []
        self._row_of: dict[str, int] = {}
        self._cache: OrderedDict[str, QPixmap] = OrderedDict()
        self._pending: set[str] = set()
        self._priority = itertools.count()
        self._pool = pool or QThreadPool(self)
        if pool is None:
            self._pool.setMaxThreadCount(2)
        self._problems: dict[str, str] = {}  # path -> why it cannot be read (found by its thumbnail)
        self._signals = _ThumbSignals()
        self._signals.done.connect(self._on_thumb)
        self._placeholder = placeholder()

    # -- content --------------------------------------------------------------------------------
    def set_entries(self, entries: list[PhotoEntry]) -> None:
        self.beginResetModel()
        self._entries = list(entries)
        self._row_of = {str(e.path): i for i, e in enumerate(self._entries)}
        self.endResetModel()

    def entries(self) -> list[PhotoEntry]:
        return list(self._entries)

    def entry(self, row: int) -> PhotoEntry:
        return self._entries[row]

    def problem(self, path: Path | str) -> Optional[str]:
        """Why the photo cannot be read (known once its tile was decoded), or None."""
        return self._problems.get(str(path))

    def row_of(self, path: Path | str) -> int:
        return self._row_of.get(str(path), -1)

    def update_entry(self, entry: PhotoEntry) -> None:
        row = self.row_of(entry.path)
        if row < 0:
            return
        self._entries[row] = entry
        idx = self.index(row)
        self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DisplayRole, StatusRole, Qt.ItemDataRole.ToolTipRole])

    def thumbnails_cached(self) -> int:
        """How many thumbnails are loaded (tests wait on it)."""
        return len(self._cache)

    def thumbnails_requested(self) -> int:
        """Thumbnails loaded or being loaded."""
        return len(self._cache) + len(self._pending)

    def has_thumbnail(self, path: Path | str) -> bool:
        return str(path) in self._cache

    def invalidate_thumbnail(self, path: Path | str) -> None:
        key = str(path)
        self._cache.pop(key, None)
        row = self.row_of(key)
        if row >= 0:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    @property
    def pool(self) -> QThreadPool:
        return self._pool

    def wait_for_thumbnails(self, msecs: int = 10_000) -> bool:
        """Tests and screenshots: wait for queued decodes to finish."""
        return self._pool.waitForDone(msecs)

    # -- Qt model API ---------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        entry = self._entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return entry.path.name
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbnail(entry.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            problem = self._problems.get(str(entry.path))
            return f"{entry.tooltip}\n{problem}" if problem else entry.tooltip
        if role == StatusRole:
            return entry.status
        if role == PathRole:
            return str(entry.path)
        if role == EntryRole:
            return entry
        if role == Qt.ItemDataRole.SizeHintRole:
            return QSize(THUMB_SIZE + 16, THUMB_SIZE + 36)
        return None

    def _thumbnail(self, path: Path) -> QPixmap:
        key = str(path)
        pix = self._cache.get(key)
        if pix is not None:
            self._cache.move_to_end(key)
            return pix
        if key not in self._pending:
            self._pending.add(key)
            # Newest request first: what the user looks at now beats what scrolled past.
            self._pool.start(_ThumbTask(path, self._signals), next(self._priority) % 1_000_000)
        return self._placeholder

    def _on_thumb(self, key: str, image: Optional[QImage], reason: Optional[str] = None) -> None:
        self._pending.discard(key)
        if reason:
            self._problems[key] = reason
        else:
            self._problems.pop(key, None)
        pix = QPixmap.fromImage(image) if image is not None else self._broken(reason or "")
        self._cache[key] = pix
        while len(self._cache) > CACHE_LIMIT:
            self._cache.popitem(last=False)
        row = self.row_of(key)
        if row >= 0:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole])
            if reason:
                self.problem_found.emit(Path(key), reason)

    def _broken(self, reason: str) -> QPixmap:
        """"unreadable" and why (the file name left out: it is under the tile)."""
        pix = placeholder()
        p = QPainter(pix)
        p.setPen(QColor(230, 90, 90))
        why = reason.split(": ", 1)[-1].split(" Fix:")[0]
        p.drawText(pix.rect().adjusted(6, 6, -6, -6), int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                   f"unreadable\n{why}" if why else "unreadable")
        p.end()
        return pix
