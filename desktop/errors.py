"""Errors shown as readable messages, never as traceback dialogs; everything logged to a file.

``PackshotError`` messages are written for people, so they are shown as they are. Anything else is
a bug: the user sees one plain sentence and where the log file is; the traceback goes to the log.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from packshot.core.app_api import LOG_NAME as CORE_LOG_NAME
from packshot.core.app_api import log_file as core_log_file
from packshot.core.app_api import setup_file_logging
from packshot.core.errors import Cancelled
from packshot.core.errors import user_message as _core_message
from packshot.desktop.settings import log_dir

log = logging.getLogger("packshot.desktop")
LOG_NAME = CORE_LOG_NAME


def setup_logging(folder: Optional[Path] = None, level: int = logging.INFO) -> Optional[Path]:
    """Send every logger (``core``, ``desktop``, libraries) to the rotating log file; return its path."""
    return setup_file_logging(folder or log_dir(), level)


def log_file() -> Optional[Path]:
    return core_log_file()


def log_exception(exc: BaseException, context: str = "Error") -> None:
    """Write ``exc`` with its traceback to the log at ERROR, once per exception object (a worker and
    the dialog that shows it both call this)."""
    if getattr(exc, "_packshot_logged", False):
        return
    log.error("%s", context, exc_info=(type(exc), exc, exc.__traceback__))
    try:
        exc._packshot_logged = True  # type: ignore[attr-defined]
    except AttributeError:  # an exception type with __slots__: logging twice is the lesser harm
        pass


def user_message(exc: BaseException) -> str:
    """The line a person reads for ``exc``: its own text for our errors (and failures we recognise:
    disk full, read-only folder, out of memory), one plain line pointing to the log otherwise."""
    return _core_message(exc, log_file())


def show_error(parent: Optional[QWidget], exc: BaseException | str, title: str = "Packshot") -> None:
    """Log ``exc`` and show it in a message box (on the GUI thread only)."""
    if isinstance(exc, Cancelled):
        return  # the user asked for it: nothing to report
    if isinstance(exc, BaseException):
        log_exception(exc, title)
        text = user_message(exc)
    else:
        log.error("%s: %s", title, exc)
        text = exc
    if QApplication.instance() is None:
        return
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()  # window-modal but not a nested event loop: the queue and the window go on


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
