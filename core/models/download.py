"""Downloads with progress, cancellation, resume and checksum verification.

Hub models go file by file through ``huggingface_hub.hf_hub_download`` into our own folder, each
file checked against the hub's LFS sha256; plain URLs (the SAM checkpoints) stream into a ``.part``
file that resumes with an HTTP Range request and is renamed into place only once its sha256 matches.
The store downloads into a partials folder and moves the result into place once complete (see
``ModelStore.ensure``), so a model folder never exists half-made. A server that cannot be reached
raises ``NoConnectionError`` with the reason in a few words; the store adds what to do.
"""

from __future__ import annotations

import fnmatch
import http.client
import os
import shutil
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from packshot.core.errors import (
    ChecksumMismatchError,
    ModelMissingError,
    NoConnectionError,
    disk_full_error,
    is_disk_full,
)
from packshot.core.models.integrity import sha256_file, write_lock
from packshot.core.models.manifest import ModelSpec, human_bytes
from packshot.core.progress import CancelToken, Progress, ProgressCallback, check, no_progress

CHUNK = 1 << 20
# Transport errors of httpx / httpx2 (huggingface_hub's client) and requests, named rather than imported:
# which HTTP library huggingface_hub uses changes between its versions.
_CONNECTION_CLASS_NAMES = {"ConnectError", "ConnectTimeout", "ReadTimeout", "ReadError", "TimeoutException",
                           "NetworkError", "TransportError", "ProxyError", "RemoteProtocolError", "ConnectionError",
                           "OfflineModeIsEnabled"}


def connection_problem(exc: BaseException) -> Optional[str]:
    """A few words on why a server could not be reached, when ``exc`` (or its cause) says so; else None."""
    chain: list[BaseException] = []
    current: Optional[BaseException] = exc
    while current is not None and all(current is not c for c in chain):
        chain.append(current)
        if isinstance(current, urllib.error.URLError) and isinstance(current.reason, BaseException):
            chain.append(current.reason)
        current = current.__cause__ or current.__context__
    if any(isinstance(c, urllib.error.HTTPError) for c in chain):
        return None  # the server answered: not a connection problem
    if any(isinstance(c, socket.gaierror) for c in chain):
        return "its name could not be resolved"
    for item in chain:
        names = {k.__name__ for k in type(item).__mro__}
        if isinstance(item, (ConnectionError, TimeoutError, http.client.IncompleteRead)) \
                or names & _CONNECTION_CLASS_NAMES:
            return str(item).strip() or type(item).__name__
    plain = next((c for c in chain if type(c) is urllib.error.URLError), None)
    return str(plain.reason) if plain is not None else None


def _reraise_as_known(exc: BaseException, what: str) -> None:
    """Raise the ``PackshotError`` that ``exc`` means for a download, if it is one we recognise."""
    if is_disk_full(exc):
        raise disk_full_error(what) from exc
    reason = connection_problem(exc)
    if reason is not None:
        raise NoConnectionError(reason) from exc


class _ByteCounter:
    """Shared byte count across files, so the user sees one bar for the whole model."""

    def __init__(self, model_id: str, total: int, progress: ProgressCallback, cancel: Optional[CancelToken]):
        self.model_id, self.total, self.done = model_id, total, 0
        self.progress, self.cancel = progress, cancel
        self.current = ""

    def add(self, n: int) -> None:
        self.done += n
        self.progress(Progress("download", self.done, self.total, f"{self.model_id}: {self.current}"))
        check(self.cancel)  # raising here aborts the transfer; the partial file stays for resume


def _tqdm_class(counter: _ByteCounter) -> type:
    """A tqdm stand-in for huggingface_hub that forwards byte counts to our progress callback."""

    class ForwardingBar:
        def __init__(self, *args, **kwargs):
            self.n = kwargs.get("initial", 0) or 0
            if self.n:
                counter.add(self.n)

        def update(self, n: float | None = 1) -> None:
            counter.add(int(n or 0))

        def update_transfer(self, n: float | None = 1) -> None:
            pass  # xet reports transfer and reconstruction separately; count reconstruction only

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def close(self) -> None:
            pass

        def set_postfix_str(self, *args, **kwargs) -> None:
            pass

        set_transfer_postfix_str = set_description = set_description_str = refresh = set_postfix_str

    return ForwardingBar


def download_hub_model(spec: ModelSpec, target: Path, progress: ProgressCallback = no_progress,
                       cancel: Optional[CancelToken] = None) -> Path:
    """Download the files of a hub model that match its allow patterns into ``target``."""
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        info = HfApi().model_info(spec.repo_id, revision=spec.revision, files_metadata=True)
    except Exception as exc:  # httpx2 errors are not OSErrors: classify, then say what the hub answered
        _reraise_as_known(exc, str(target))
        if not isinstance(exc, (HfHubHTTPError, OSError, ValueError)):
            raise
        raise ModelMissingError(
            f"Could not reach the Hugging Face hub for {spec.repo_id} ({exc.__class__.__name__}: {exc}). "
            f"Check the connection, or download it elsewhere and point Packshot to the folder."
        ) from exc
    files = _prefer_safetensors(
        [s for s in info.siblings if any(fnmatch.fnmatch(s.rfilename, p) for p in spec.allow_patterns)])
    total = sum(s.size or 0 for s in files)
    counter = _ByteCounter(spec.id, total, progress, cancel)
    target.mkdir(parents=True, exist_ok=True)
    record: dict[str, dict] = {}
    refused: list[str] = []
    for sibling in files:
        counter.current = sibling.rfilename
        check(cancel)
        try:
            local = Path(hf_hub_download(spec.repo_id, sibling.rfilename, revision=info.sha, local_dir=target,
                                         tqdm_class=_tqdm_class(counter)))
        except Exception as exc:  # a connection lost mid-way: what arrived stays in target/.cache to resume
            _reraise_as_known(exc, str(target / sibling.rfilename))
            raise
        digest = sha256_file(local)
        why = hub_mismatch(local, sibling, digest)
        if why:  # refused and deleted; the other files still come (and stay in the partials folder)
            local.unlink()
            refused.append(f"{sibling.rfilename} arrived corrupted ({why})")
            continue
        record[sibling.rfilename] = {"bytes": local.stat().st_size, "sha256": digest, "checked": _checked_by(sibling)}
    if refused:
        kept = f"; the {len(record)} file(s) that matched are kept and resume" if record else ""
        raise ChecksumMismatchError(
            f"{spec.id}: {'; '.join(refused)}. Refused and deleted{kept}; run the download again.")
    write_lock(target, spec.id, record, repo_id=spec.repo_id or "", revision=spec.revision, commit=info.sha or "")
    shutil.rmtree(target / ".cache", ignore_errors=True)
    return target


def _lfs_sha256(sibling) -> Optional[str]:
    lfs = getattr(sibling, "lfs", None)
    if lfs is None:
        return None
    return getattr(lfs, "sha256", None) or (lfs.get("sha256") if isinstance(lfs, dict) else None)


def _checked_by(sibling) -> str:
    """What the lock file says a file was checked against at download."""
    if _lfs_sha256(sibling):
        return "hub sha256"
    return "hub git blob" if getattr(sibling, "blob_id", None) else "hub size"


def git_blob_sha1(path: Path) -> str:
    """Git's object id of a file's bytes (what the hub lists as ``blob_id`` for a file not stored in LFS)."""
    import hashlib

    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def hub_mismatch(local: Path, sibling, digest: str) -> Optional[str]:
    """Why a downloaded file is not the one the hub lists (size, then LFS sha256 or git blob id); None if it is.

    The hub gives every file's size; an LFS file's sha256, any other file's git object id (``blob_id``)."""
    size = local.stat().st_size
    expected_size = getattr(sibling, "size", None)
    if expected_size is not None and size != expected_size:
        return f"{size} bytes, hub says {expected_size}"
    sha256 = _lfs_sha256(sibling)
    if sha256:
        return None if digest == sha256 else f"sha256 {digest[:12]}..., hub says {sha256[:12]}..."
    blob = getattr(sibling, "blob_id", None)
    if blob:
        actual = git_blob_sha1(local)
        return None if actual == blob else f"git blob {actual[:12]}..., hub says {blob[:12]}..."
    return None  # the hub listed neither (metadata not requested): the size is all there is to check


def _read(response, part: Path) -> bytes:
    """The next chunk; a connection lost mid-way becomes ``NoConnectionError`` (the ``.part`` resumes)."""
    try:
        return response.read(CHUNK)
    except (OSError, http.client.HTTPException) as exc:
        _reraise_as_known(exc, str(part))
        raise NoConnectionError(f"the connection was lost: {exc}") from exc


def _prefer_safetensors(siblings: list) -> list:
    """Drop pickle weights (.bin) from any folder that also offers safetensors."""
    safe_dirs = {s.rfilename.rpartition("/")[0] for s in siblings if s.rfilename.endswith(".safetensors")}
    return [s for s in siblings if not (s.rfilename.endswith(".bin") and s.rfilename.rpartition("/")[0] in safe_dirs)]


def download_url_model(spec: ModelSpec, target: Path, progress: ProgressCallback = no_progress,
                       cancel: Optional[CancelToken] = None, timeout: float = 30.0) -> Path:
    """Download a single-file model (SAM checkpoint) from its URL, resuming a previous ``.part``."""
    url = spec.source["url"]
    entry = spec.files[0]
    target.mkdir(parents=True, exist_ok=True)
    final = target / entry.path
    part = target / (entry.path + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise ModelMissingError(f"Could not download {spec.id}: {url} answered HTTP {exc.code} ({exc.reason}).") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        _reraise_as_known(exc, str(part))
        raise NoConnectionError(str(exc)) from exc
    with response:
        if have and response.status != 206:  # server ignored Range: start over
            have = 0
        total = entry.bytes or (have + int(response.headers.get("Content-Length", 0)))
        counter = _ByteCounter(spec.id, total, progress, cancel)
        counter.current = entry.path
        counter.add(have)
        with open(part, "ab" if have else "wb") as handle:
            while block := _read(response, part):
                handle.write(block)
                counter.add(len(block))
    size = part.stat().st_size
    if entry.bytes is not None and size != entry.bytes:
        raise ChecksumMismatchError(
            f"{spec.id}: download stopped at {human_bytes(size)} of {human_bytes(entry.bytes)}; run it again to resume."
        )
    digest = sha256_file(part)
    if entry.sha256 and digest != entry.sha256:
        part.unlink()
        raise ChecksumMismatchError(
            f"{spec.id}: {entry.path} failed its checksum (sha256 {digest[:12]}..., expected {entry.sha256[:12]}...). "
            "The file was deleted; run the download again."
        )
    os.replace(part, final)
    write_lock(target, spec.id, {entry.path: {"bytes": size, "sha256": digest}}, url=url)
    return target
