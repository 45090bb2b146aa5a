"""Small pieces of the main window that need no state of it: its first size, revealing a folder, what a
drop onto it opens."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QEvent, QObject, QSize, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QWidget


def default_window_size(available: QSize) -> QSize:
    """The first size of the window: roomy on a large screen, never past the one it opens on (a
    1366 x 768 laptop leaves about 1366 x 740 below its panel)."""
    return QSize(min(1280, available.width() - 40), min(860, available.height() - 40))


def reveal_in_file_manager(folder: Optional[Path]) -> bool:
    """Open ``folder`` (or the folder of a file) in the system's file manager."""
    if folder is None:
        return False
    target = Path(folder)
    if target.is_file():
        target = target.parent
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(target)))


def dropped_folder(mime) -> Optional[tuple[Path, list[Path]]]:
    """(folder to open, dropped photo files) from a drop of a folder or of photos; None otherwise."""
    if mime is None or not mime.hasUrls():
        return None
    paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
    folders = [p for p in paths if p.is_dir()]
    if folders:
        return folders[0], []
    files = [p for p in paths if p.is_file()]
    if not files:
        return None
    return files[0].parent, files


class FolderDrops(QObject):
    """Lets ``widget`` take a dropped folder (or photos: their folder, the first one selected)."""

    def __init__(self, widget: QWidget, open_dropped: Callable[[Path, list[Path]], None]) -> None:
        super().__init__(widget)
        self._open = open_dropped
        widget.setAcceptDrops(True)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            found = dropped_folder(event.mimeData())
            if found is None:
                return False
            event.acceptProposedAction()
            if kind == QEvent.Type.Drop:
                self._open(*found)
            return True
        return False
