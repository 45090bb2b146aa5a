"""The log file shared by the command line and the app: tracebacks go here, never to the user.

``<user log dir>/packshot.log`` (platformdirs), rotated at 2 MB. Created on the first record, so
``packshot --help`` writes nothing.
"""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Optional

LOG_NAME = "packshot.log"
# ``log.error(..., extra=FILE_ONLY)``: a record (a traceback, a message already printed) for the log file,
# not for the console, where the user reads one line.
FILE_ONLY = {"file_only": True}


def not_file_only(record: logging.LogRecord) -> bool:
    """Filter for console handlers: drop ``FILE_ONLY`` records."""
    return not getattr(record, "file_only", False)
_log_file: Optional[Path] = None


def default_log_dir() -> Path:
    """The same folder as the app's ``packshot.desktop.settings.log_dir()``: one log for the CLI and the app."""
    import platformdirs

    return Path(platformdirs.user_log_dir("packshot"))


def setup_file_logging(folder: Optional[Path] = None, level: int = logging.INFO) -> Optional[Path]:
    """Send every logger to the rotating log file; return its path (None when it cannot be made)."""
    global _log_file
    folder = Path(folder) if folder else default_log_dir()
    path = folder / LOG_NAME
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_packshot", False)]
    if ours and Path(ours[0].baseFilename) != path:  # type: ignore[attr-defined]
        for handler in ours:  # another folder asked for (tests, a second app start): move there
            root.removeHandler(handler)
            handler.close()
        ours = []
    if not ours:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handler = RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8", delay=True,
                                          errors="backslashreplace")  # file names need not be UTF-8
        except OSError:  # a read-only home must not stop the program; messages say to use --verbose
            _log_file = None
            return None
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s [%(process)d %(threadName)s] %(name)s: %(message)s"))
        handler.setLevel(level)
        handler._packshot = True  # type: ignore[attr-defined]  # marks our handler for idempotence
        root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    _log_file = path
    return path


def log_file() -> Optional[Path]:
    """The log file in use, or None before ``setup_file_logging`` (or when it could not be made)."""
    return _log_file


def flush() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()
