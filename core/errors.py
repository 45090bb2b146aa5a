"""Errors meant to be read by a person: each says what went wrong and what fixes it.

``PackshotError`` and its subclasses carry a message written for people; anything else that
escapes is a bug, logged with its traceback while the person reads one line (``unexpected_message``).
``Cancelled`` is not an error: a user who stops a job did nothing wrong.
"""

from __future__ import annotations

import errno
import os
import pickle
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

DISK_FULL_FIX = "the disk is full: free space and run the same command again"
_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_READ_ONLY_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}


class PackshotError(Exception):
    """Base class for every error Packshot reports to a user (CLI message or GUI dialog)."""


class SettingError(PackshotError, ValueError):
    """A setting's value is refused (out of range, wrong type, unknown choice). ``name``: the setting as
    the user wrote it (``--blur-sigma``, or the field's name); ``problem``: what is wrong with the value."""

    def __init__(self, name: str, problem: str, message: Optional[str] = None) -> None:
        super().__init__(message or f"{name} {problem}")
        self.name, self.problem = name, problem


class ModelMissingError(PackshotError):
    """A model's weights are not on this machine and cannot be downloaded now."""


class NoConnectionError(ModelMissingError):
    """A download could not reach its server (offline, DNS, proxy, firewall)."""


class ChecksumMismatchError(PackshotError):
    """A model file's size or sha256 does not match what the manifest or download recorded."""


class UnsafeWeightsError(PackshotError):
    """A weights file would run code or has an unexpected format; it was not loaded."""


class ImageReadError(PackshotError):
    """An input file is not a usable image (empty, truncated, too large, unknown format...)."""


class ImageWriteError(PackshotError):
    """An output could not be written (read-only folder, disk full...)."""


class DiskFullError(ImageWriteError):
    """No space left where outputs or the project store are written: the whole batch stops."""


class OutputNotWritableError(ImageWriteError):
    """The output folder is read-only (a read-only disk or no permission)."""


class OutputLockedError(PackshotError):
    """Another batch holds the output folder's lock."""


class UnsafeWriteError(PackshotError):
    """A write would replace an original, a file Packshot did not make, or land outside the output folder."""


class ProjectStoreError(PackshotError):
    """The project store (``.packshot/project.sqlite``) cannot be opened, read or updated."""


class TemplateError(PackshotError):
    """A prompt template is malformed or names a variable that has no value."""


class Cancelled(Exception):
    """The user cancelled a long operation; partial work was discarded cleanly. Not a ``PackshotError``:
    handlers that report errors must not report a cancel as one."""


# -- recognising known failures inside other exceptions -------------------------------------------

def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or during, without looping."""
    seen: set[int] = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is "no space left on device" or SQLite's "disk is full"."""
    for item in _chain(exc):
        if isinstance(item, DiskFullError):
            return True
        if isinstance(item, OSError) and item.errno in _FULL_ERRNOS:
            return True
        if isinstance(item, sqlite3.Error) and ("disk is full" in str(item)
                                                or getattr(item, "sqlite_errorcode", None) == 13):  # SQLITE_FULL
            return True
    return False


def disk_full_error(where: Optional[Path | str] = None) -> DiskFullError:
    detail = f" (could not write {where})" if where else ""
    return DiskFullError(f"{DISK_FULL_FIX}{detail}. Finished photos are kept and are not redone.")


def _filename(exc: BaseException) -> Optional[str]:
    return next((str(i.filename) for i in _chain(exc) if isinstance(i, OSError) and i.filename), None)


def known_error(exc: BaseException) -> Optional[PackshotError]:
    """A ``PackshotError`` saying what ``exc`` means to a person, for failures we recognise; else None."""
    if isinstance(exc, PackshotError) and not is_disk_full(exc) and "weights_only" not in str(exc):
        return exc
    if is_disk_full(exc):
        return exc if isinstance(exc, DiskFullError) else disk_full_error(_filename(exc))
    refused = _pickle_refusal(exc)
    if refused is not None:
        return refused
    os_error = next((i for i in _chain(exc) if isinstance(i, OSError)), None)
    if os_error is not None and os_error.errno in (errno.EACCES, errno.EPERM) and _unreadable(os_error.filename):
        return ImageReadError(f"Cannot read {_shown(os_error.filename)}: permission denied.")
    if os_error is not None and os_error.errno in _READ_ONLY_ERRNOS:
        return read_only_error(Path(os_error.filename or "."), os_error)
    if os_error is not None and os_error.strerror and os_error is exc:
        where = f" ({os_error.filename})" if os_error.filename else ""
        return PackshotError(f"A file operation failed: {os_error.strerror}{where}.")
    if isinstance(exc, MemoryError):
        return PackshotError("Packshot ran out of memory. Try fewer variants, a smaller resolution, or the CPU device.")
    return None


def pickle_refused(path: Optional[Path | str]) -> UnsafeWeightsError:
    """The one line for a pickled weights file: never torch's advice to load it with ``weights_only=False``,
    which would run whatever code the file holds."""
    name = _shown(Path(path).name) if path else "A weights file"
    return UnsafeWeightsError(f"{name} is a pickle, which Packshot does not load (it can run code); "
                              "use the .safetensors file.")


_PICKLE_FILE = re.compile(r"([^\s'\"]+\.(?:bin|pth|pt|ckpt|pkl|pickle))\b")


def _pickle_refusal(exc: BaseException) -> Optional[UnsafeWeightsError]:
    """``pickle_refused`` when ``exc`` is torch (or diffusers, transformers relaying it) refusing a pickle."""
    chain = list(_chain(exc))
    if not any(isinstance(i, pickle.UnpicklingError) or "weights_only" in str(i) for i in chain):
        return None
    named = next((m.group(1) for i in chain for m in [_PICKLE_FILE.search(str(i))] if m), None)
    return pickle_refused(named or next((i.filename for i in chain if isinstance(i, OSError) and i.filename), None))


def _unreadable(filename: object) -> bool:
    """True when ``filename`` is an existing file this process may not read (so a failure was a read)."""
    if not isinstance(filename, (str, bytes, os.PathLike)):
        return False
    try:
        return os.path.isfile(filename) and not os.access(filename, os.R_OK)
    except (OSError, ValueError):
        return False


def _shown(name: object) -> str:
    """A file name as text any terminal takes (bytes that are not UTF-8 escaped)."""
    from packshot.core.naming import display_name  # here: packshot.core.naming imports this module

    return display_name(os.fsdecode(name) if isinstance(name, (bytes, os.PathLike)) else str(name))


def read_only_error(path: Path, exc: OSError) -> OutputNotWritableError:
    """The message for a folder we may not write into, saying which of the usual reasons it is."""
    if exc.errno == errno.EROFS:
        why = "it is on a read-only disk (a mounted image, a locked card or a read-only share)"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        why = "you have no permission to write there"
    else:
        why = "it is read-only (no permission, or a read-only disk)"
    said = f" ({exc.strerror})" if exc.strerror else ""
    return OutputNotWritableError(f"The output folder {path} is not writable: {why}{said}. Choose another "
                                  "output folder (--out), or make this one writable.")


@contextmanager
def stop_when_disk_full(where: Optional[Path | str] = None) -> Iterator[None]:
    """Turn any failure caused by a full disk into ``DiskFullError`` (which stops a batch, unlike the
    per-photo errors a batch records and steps over)."""
    try:
        yield
    except DiskFullError:
        raise
    except Exception as exc:
        if is_disk_full(exc):
            raise disk_full_error(_filename(exc) or where) from exc
        raise


def first_line(text: str, limit: int = 300) -> str:
    line = (text.strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[:limit - 3] + "..."


def unexpected_message(exc: BaseException, log_file: Optional[Path]) -> str:
    """One line for a bug: what it was, and where its traceback went."""
    what = f"{type(exc).__name__}: {first_line(str(exc))}" if str(exc) else type(exc).__name__
    where = (f"the details are in the log file {log_file}" if log_file
             else "run it again with --verbose for details")
    return f"Something unexpected went wrong ({what}); {where}. Please include that file when you report it."


def user_message(exc: BaseException, log_file: Optional[Path] = None) -> str:
    """The one line a person reads for ``exc`` (CLI and app alike)."""
    known = known_error(exc)
    if known is not None:
        return str(known) or type(known).__name__
    return unexpected_message(exc, log_file)


class OutputsTakenError(PackshotError):
    """A run would replace outputs an earlier run made with other settings (``paths``: those files)."""

    def __init__(self, message: str, paths: tuple = ()) -> None:
        super().__init__(message)
        self.paths = tuple(paths)
