"""Downloads with progress, cancellation, resume and checksum verification.

Hub models go file by file through ``huggingface_hub.hf_hub_download`` into our own folder, each
file checked against the hub's LFS sha256; plain URLs (the SAM checkpoints) stream into a ``.part``
file that resumes with an HTTP Range request and is renamed into place only once its sha256 matches.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from core.errors import ChecksumMismatchError, ModelMissingError
from core.models.integrity import sha256_file, write_lock
from core.models.manifest import ModelSpec, human_bytes
from core.progress import CancelToken, Progress, ProgressCallback, check, no_progress

CHUNK = 1 << 20


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
    except (HfHubHTTPError, OSError, ValueError) as exc:
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
    for sibling in files:
        counter.current = sibling.rfilename
        check(cancel)
        local = Path(hf_hub_download(spec.repo_id, sibling.rfilename, revision=info.sha, local_dir=target,
                                     tqdm_class=_tqdm_class(counter)))
        digest = sha256_file(local)
        expected = sibling.lfs.sha256 if sibling.lfs else None
        if expected and digest != expected:
            local.unlink()
            raise ChecksumMismatchError(
                f"{spec.id}: {sibling.rfilename} arrived corrupted (sha256 {digest[:12]}..., hub says "
                f"{expected[:12]}...). It was deleted; run the download again."
            )
        record[sibling.rfilename] = {"bytes": local.stat().st_size, "sha256": digest}
    write_lock(target, spec.id, record, repo_id=spec.repo_id or "", revision=spec.revision, commit=info.sha or "")
    shutil.rmtree(target / ".cache", ignore_errors=True)
    return target


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
    except (urllib.error.URLError, OSError) as exc:
        raise ModelMissingError(f"Could not download {spec.id} from {url}: {exc}.") from exc
    with response:
        if have and response.status != 206:  # server ignored Range: start over
            have = 0
        total = entry.bytes or (have + int(response.headers.get("Content-Length", 0)))
        counter = _ByteCounter(spec.id, total, progress, cancel)
        counter.current = entry.path
        counter.add(have)
        with open(part, "ab" if have else "wb") as handle:
            while block := response.read(CHUNK):
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
