"""Small pieces of the main window that need no state of it: its first size, revealing a folder, what a
drop onto it opens."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QSize, QUrl
from PySide6.QtGui import QDesktopServices


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
