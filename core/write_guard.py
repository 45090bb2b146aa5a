"""The one gate every file Packshot writes goes through: never an original, never a stranger's file.

``WriteGuard(out_root, inputs=[...]).check(target, made_by=..., overwrite=...)`` returns the target,
or raises ``UnsafeWriteError`` (one line, naming the file) when the target

- is, or would replace, an input photo, or lies in an input folder: compared by identity (device and
  inode, as ``shutil.copyfile`` refuses ``samefile``), so a link, a bind mount or another spelling of the
  same folder is caught; on a case-insensitive disk, case-folded names are compared too;
- lies outside the output root once links are resolved (a name template ``../x`` or ``in/{stem}``);
- exists and was not made by Packshot (no recipe inside or beside it), whatever ``overwrite`` says;
- exists and was made by another job (its embedded recipe's job key is not in ``made_by``), unless
  ``overwrite`` (``--redo``, ``--overwrite``) says to replace it.

Files under ``OUT/.packshot/`` are the project's own bookkeeping: replaced freely once the identity
and root checks pass. The inputs are indexed once (one ``stat`` each); each output directory is
resolved and probed once and cached, so a batch pays one ``lstat`` per output.

Temporary files (``write_atomic``) are named ``.packshot-tmp-<host>-<pid>-<random>``: ``sweep_temp_files``
removes only those, and only when their process is gone, so a user's ``.tmp-foo`` and another
process's export being written at that moment are never touched.
"""

from __future__ import annotations

import os
import re
import socket
import stat
import tempfile
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from packshot.core.errors import UnsafeWriteError

STORE_DIRNAME = ".packshot"  # the project's own folder (packshot.core.project.STORE_DIRNAME; not imported: no cycle)
TMP_PREFIX = ".packshot-tmp-"
STALE_FOREIGN_TEMP_S = 24 * 3600  # a temp file of another machine (shared disk) is swept only when this old
_TMP_NAME = re.compile(r"^\.packshot-tmp-(?P<host>[A-Za-z0-9]{1,32})-(?P<pid>\d{1,10})-[a-z0-9_]{6,}")
FileId = tuple[int, int]


class NotOursError(UnsafeWriteError):
    """The destination exists and carries no Packshot recipe: it is the user's, never replaced."""


class OtherJobError(UnsafeWriteError):
    """The destination is an output of another job (other settings); replaced only with redo/overwrite."""

    def __init__(self, message: str, path: Path, key: str) -> None:
        super().__init__(message)
        self.path, self.key = path, key


# -- temporary files ---------------------------------------------------------------------------

def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"


def temp_prefix() -> str:
    """The start of this process's temp names: ``.packshot-tmp-<host>-<pid>-`` (then random, then suffix)."""
    return f"{TMP_PREFIX}{_host()}-{os.getpid()}-"


def make_temp(folder: Path, suffix: str = "") -> tuple[int, Path]:
    """Create (``mkstemp``: exclusive, mode 0600) a temp file in ``folder``, the destination's own folder
    so the rename stays on one filesystem. Returns an open descriptor and its path."""
    fd, name = tempfile.mkstemp(prefix=temp_prefix(), suffix=suffix, dir=folder)
    return fd, Path(name)


def is_our_temp(name: str) -> bool:
    return _TMP_NAME.match(name) is not None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, someone else's: leave its files alone
    return True


def is_abandoned(path: Path, now: Optional[float] = None) -> bool:
    """A Packshot temp file whose writer is gone (same machine: its pid no longer runs; another machine:
    older than a day). A temp of a live process (an export in progress) is never abandoned."""
    found = _TMP_NAME.match(path.name)
    if found is None:
        return False
    if found["host"] == _host():
        return int(found["pid"]) != os.getpid() and not _pid_alive(int(found["pid"]))
    try:
        age = (now or time.time()) - path.lstat().st_mtime
    except OSError:
        return False
    return age > STALE_FOREIGN_TEMP_S


def sweep_temp_files(folder: Path, *, recursive: bool = True) -> int:
    """Remove the temp files killed Packshot processes left in ``folder``; nothing else. Returns how many."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    found = folder.rglob(f"{TMP_PREFIX}*") if recursive else folder.glob(f"{TMP_PREFIX}*")
    for path in found:
        try:
            if path.is_file() and not path.is_symlink() and is_abandoned(path):
                path.unlink()
                removed += 1
        except OSError:
            pass
    return removed


# -- who made an existing file -----------------------------------------------------------------

def embedded_job_key(path: Path) -> Optional[str]:
    """The job key in an existing output's recipe (inside the file or its sidecar); "" for a recipe
    without one (an output of an older Packshot); None when the file carries no Packshot recipe."""
    from packshot.core.errors import PackshotError
    from packshot.core.recipe import read_recipe

    try:
        recipe = read_recipe(path)
    except (PackshotError, OSError, ValueError, SyntaxError):
        return None
    return recipe.job_key or ""


# -- the guard ---------------------------------------------------------------------------------

def _file_id(st: os.stat_result) -> FileId:
    return st.st_dev, st.st_ino


def probe_case_insensitive(folder: Path) -> bool:
    """Whether ``folder``'s filesystem treats names case-insensitively (macOS's default, FAT, SMB): the
    nearest component with letters, spelled with swapped case, opens, yet its folder lists no such name.
    (Not by inode: a FUSE FAT driver gives each spelling its own inode number.)"""
    for path in (folder, *folder.parents):
        swapped = path.name.swapcase()
        if swapped == path.name:
            continue
        try:
            os.stat(path.with_name(swapped))
        except OSError:
            return False
        try:
            return swapped not in os.listdir(path.parent)
        except OSError:
            return True
    return False


@dataclass(frozen=True)
class _Folder:
    """What the guard knows about one destination folder (resolved once per batch)."""

    resolved: Path
    refusal: Optional[str]  # why nothing may be written here, None when fine
    folded: bool  # case-insensitive filesystem
    bookkeeping: bool  # under OUT/.packshot/


class WriteGuard:
    """The write rules for one job: outputs under ``out_root``, ``inputs`` (photos and folders) never written.

    ``case_insensitive``: how a folder's filesystem is judged (default: probed); tests inject it."""

    def __init__(self, out_root: Path | str, inputs: Iterable[Path | str] = (), *,
                 case_insensitive: Optional[Callable[[Path], bool]] = None) -> None:
        self.out_root = Path(out_root).resolve()
        self._case_insensitive = case_insensitive or probe_case_insensitive
        self._file_ids: dict[FileId, Path] = {}
        self._dir_ids: dict[FileId, Path] = {}
        self._folded_files: dict[str, Path] = {}
        self._folded_dirs: dict[str, Path] = {}
        self._folders: dict[str, _Folder] = {}
        for item in inputs:
            self.add_input(item)

    def add_input(self, path: Path | str) -> None:
        """Protect ``path`` too: a file is never replaced; nothing is written into a folder."""
        path = Path(path)
        try:
            st = os.stat(path)
        except OSError:
            return  # not there: nothing to replace (a name in it is still refused by its folder)
        resolved = path.resolve()
        if stat.S_ISDIR(st.st_mode):
            self._dir_ids[_file_id(st)] = path
            self._folded_dirs[str(resolved).casefold()] = path
        else:
            self._file_ids[_file_id(st)] = path
            self._folded_files[str(resolved).casefold()] = path
            return
        self._folders.clear()  # a new input folder: the verdicts on destination folders may change

    def add_inputs(self, paths: Iterable[Path | str]) -> None:
        for path in paths:
            self.add_input(path)

    # -- folders -------------------------------------------------------------------------
    def _folder(self, folder: Path) -> _Folder:
        key = str(folder)
        known = self._folders.get(key)
        if known is None:
            known = self._folders[key] = self._judge_folder(folder)
        return known

    def _judge_folder(self, folder: Path) -> _Folder:
        resolved = folder.resolve()
        try:
            inside = resolved.relative_to(self.out_root)
        except ValueError:
            return _Folder(resolved, f"it is outside the output folder {self.out_root}", False, False)
        existing = next((p for p in (resolved, *resolved.parents) if p.exists()), resolved)
        folded = self._case_insensitive(existing)
        # Every folder from the destination's up to the output root itself: none may be an input folder.
        chain = [resolved, *resolved.parents][:len(inside.parts) + 1]
        for step in chain:
            try:
                hit = self._dir_ids.get(_file_id(os.stat(step)))
            except OSError:
                hit = None
            if hit is None and folded:
                hit = self._folded_dirs.get(str(step).casefold())
            if hit is not None:
                same = "" if str(step) == str(Path(hit).resolve()) else f" ({step} is the same folder)"
                return _Folder(resolved, f"it is inside the input folder {hit}{same}; originals are never "
                                         "written", folded, False)
        bookkeeping = bool(inside.parts) and inside.parts[0] == STORE_DIRNAME
        return _Folder(resolved, None, folded, bookkeeping)

    def check_folder(self, folder: Path | str) -> Path:
        """Raise ``UnsafeWriteError`` when nothing may be written into ``folder``; return it resolved."""
        judged = self._folder(Path(folder))
        if judged.refusal:
            raise UnsafeWriteError(f"Refusing to write into {folder}: {judged.refusal}. Choose an output "
                                   "folder (--out) apart from the photos.")
        return judged.resolved

    # -- files ---------------------------------------------------------------------------
    def check(self, target: Path | str, *, made_by: Optional[str | Collection[str]] = None,
              overwrite: bool = False, key_of: Callable[[Path], Optional[str]] = embedded_job_key) -> Path:
        """``target`` when it may be written; else ``UnsafeWriteError`` saying why, naming it.

        ``made_by``: the job key(s) whose existing outputs this write may replace; ``overwrite``: replace
        another job's output too (never an input, never a file without a recipe); ``key_of``: how an
        existing file names its maker (default: its recipe's job key)."""
        target = Path(target)
        folder = self._folder(target.parent)
        if folder.refusal:
            raise UnsafeWriteError(f"Refusing to write {target}: {folder.refusal}. Choose an output folder (--out) "
                                   "apart from the photos, and a --name that stays inside it.")
        resolved = folder.resolved / target.name
        if folder.folded and (hit := self._folded_files.get(str(resolved).casefold())) is not None:
            raise UnsafeWriteError(f"Refusing to write {target}: on this case-insensitive disk it is the input "
                                   f"photo {hit}; originals are never written.")
        try:
            st = os.lstat(resolved)
        except FileNotFoundError:
            return target
        except OSError as exc:
            raise UnsafeWriteError(f"Refusing to write {target}: cannot check what is there ({exc.strerror}).") from exc
        hit = self._file_ids.get(_file_id(st))
        if hit is None and stat.S_ISLNK(st.st_mode):
            try:
                hit = self._file_ids.get(_file_id(os.stat(resolved)))
            except OSError:
                hit = None
        if hit is not None:
            raise UnsafeWriteError(f"Refusing to write {target}: it is the input photo {hit} (the same file by "
                                   "another path); originals are never written.")
        if stat.S_ISDIR(st.st_mode):
            raise UnsafeWriteError(f"Refusing to write {target}: a folder of that name is there.")
        if not stat.S_ISREG(st.st_mode):
            raise NotOursError(f"Refusing to write {target}: something that is not a plain file (a link, a pipe) "
                               "is there; move it away or choose another output name.")
        if folder.bookkeeping:
            return target
        key = key_of(resolved)
        if key is None:
            raise NotOursError(f"Refusing to replace {target}: it was not made by Packshot (it carries no "
                               "recipe). Move it away, or choose another output folder or --name.")
        wanted = {made_by} if isinstance(made_by, str) else set(made_by or ())
        if key in wanted or overwrite:
            return target
        raise OtherJobError(f"Refusing to replace {target}: another job made it (settings id "
                            f"{key[:8] or 'unknown'}). Add --redo (or --overwrite) to replace it, or choose another "
                            "output folder or --name.", target, key)


def check_write(target: Path | str, out_root: Path | str, inputs: Iterable[Path | str] = (), *,
                made_by: Optional[str | Collection[str]] = None, overwrite: bool = False) -> Path:
    """One write, one guard: for one-off writers (replay, a single export)."""
    return WriteGuard(out_root, inputs).check(target, made_by=made_by, overwrite=overwrite)
