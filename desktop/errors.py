"""Errors shown as readable messages, never as traceback dialogs; everything logged to a file.

``PackshotError`` messages are written for people, so they are shown as they are. Anything else is
a bug: the user sees one plain sentence and where the log file is; the traceback goes to the log.
"""

from __future__ import annotations

import logging
import sys
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from desktop.settings import log_dir

log = logging.getLogger("desktop")
LOG_NAME = "packshot.log"
_log_file: Optional[Path] = None


def setup_logging(folder: Optional[Path] = None, level: int = logging.INFO) -> Path:
    """Send the ``core`` and ``desktop`` loggers to a rotating file; return its path."""
    global _log_file
    folder = folder or log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_NAME
    root = logging.getLogger()
    if not any(getattr(h, "_packshot", False) for h in root.handlers):
        handler = RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
        handler._packshot = True  # type: ignore[attr-defined]  # marks our handler for idempotence
        root.addHandler(handler)
    root.setLevel(min(root.level or level, level))
    _log_file = path
    return path


def log_file() -> Optional[Path]:
    return _log_file


def user_message(exc: BaseException) -> str:
    """The sentence a person reads for ``exc``: its own text for our errors, a plain one otherwise."""
    from core.errors import PackshotError  # core.errors is tiny and Qt-free

    if isinstance(exc, PackshotError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, MemoryError):
        return "Packshot ran out of memory. Try fewer variants, a smaller resolution, or the CPU device."
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"A file operation failed: {exc.strerror}{where}."
    where = f" Details are in the log file: {_log_file}" if _log_file else ""
    return f"Something unexpected went wrong ({type(exc).__name__}: {exc}).{where}"


def show_error(parent: Optional[QWidget], exc: BaseException | str, title: str = "Packshot") -> None:
    """Log ``exc`` and show it in a message box (on the GUI thread only)."""
    if isinstance(exc, BaseException):
        log.error("%s", title, exc_info=(type(exc), exc, exc.__traceback__))
        text = user_message(exc)
    else:
        log.error("%s: %s", title, exc)
        text = exc
    if QApplication.instance() is None:
        return
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.exec()


class _Relay(QObject):
    """Carries exceptions raised on other threads to the GUI thread (queued signal to a slot)."""

    raised = Signal(object)

    def __init__(self, parent_getter) -> None:
        super().__init__()
        self._parent_getter = parent_getter
        self.raised.connect(self._show)  # receiver lives on the GUI thread: queued from workers

    @Slot(object)
    def _show(self, exc: BaseException) -> None:
        show_error(self._parent_getter(), exc)


_relay: Optional[_Relay] = None


def install_excepthook(parent_getter=lambda: None) -> None:
    """Route uncaught exceptions (GUI or worker threads) to the log and a readable message box."""
    global _relay
    _relay = _Relay(parent_getter)

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        exc.__traceback__ = tb
        _relay.raised.emit(exc)  # queued when called off the GUI thread

    sys.excepthook = hook
    threading.excepthook = lambda args: hook(args.exc_type, args.exc_value, args.exc_traceback)
