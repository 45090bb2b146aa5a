"""Where models live: the user's folder, our download folder, or the Hugging Face cache.

Resolution order for a model id:
1. ``<models_dir>/<id>/``: a folder the user points to (settings, ``--models-dir``, ``PACKSHOT_MODELS_DIR``);
2. ``<data dir>/models/<id>/``: where Packshot downloads to (platformdirs user data dir);
3. the Hugging Face cache (models fetched earlier by any tool, ``HF_HOME``);
4. a download with progress, verified by checksum, unless offline.

Downloads go to ``<data dir>/models/.partial/<id>/`` and move to ``<data dir>/models/<id>/`` once
complete: a failed or cancelled download never leaves a half-made model folder (which every later
command would warn about), while the bytes that did arrive stay in the partials folder to resume.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import urllib.parse
from pathlib import Path
from typing import Optional

from packshot.core.errors import (
    ChecksumMismatchError,
    ModelMissingError,
    NoConnectionError,
    disk_full_error,
    is_disk_full,
)
from packshot.core.models.download import download_hub_model, download_url_model
from packshot.core.models.integrity import VerifyReport, check_recorded, missing_parts, verify_folder
from packshot.core.models.manifest import ModelSpec, human_bytes, load_manifest, user_model_spec
from packshot.core.progress import CancelToken, ProgressCallback, no_progress

log = logging.getLogger(__name__)
PARTIAL_DIRNAME = ".partial"
# huggingface_hub's bookkeeping beside a download: worth nothing without the bytes it describes.
_BOOKKEEPING_SUFFIXES = (".lock", ".metadata")


def default_download_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path("packshot", appauthor=False) / "models"


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


class ModelStore:
    """Resolves model ids to local folders; downloads and verifies them."""

    def __init__(self, models_dir: Optional[Path | str] = None, *, offline: Optional[bool] = None,
                 download_dir: Optional[Path | str] = None, use_hf_cache: bool = True) -> None:
        env_dir = os.environ.get("PACKSHOT_MODELS_DIR")
        # Absolute: recipes and settings record these paths, and the working directory may change.
        self.models_dir = Path(models_dir or env_dir).expanduser().resolve() if (models_dir or env_dir) else None
        self.download_dir = Path(download_dir).resolve() if download_dir else default_download_dir()
        self.offline = _env_flag("HF_HUB_OFFLINE") if offline is None else offline
        self.use_hf_cache = use_hf_cache

    def allowing_downloads(self) -> ModelStore:
        """The same folders, allowed to download (a download the user asks for, even when offline is the default)."""
        return ModelStore(self.models_dir, offline=False, download_dir=self.download_dir, use_hf_cache=self.use_hf_cache)

    # -- catalogue ---------------------------------------------------------------------------
    def list_models(self) -> list[ModelSpec]:
        """Manifest models, then the user's own model folders found in ``models_dir``."""
        specs = list(load_manifest().values())
        known = {s.id for s in specs}
        if self.models_dir and self.models_dir.is_dir():
            for folder in sorted(p for p in self.models_dir.iterdir() if p.is_dir() and p.name not in known):
                if (spec := user_model_spec(folder)) is not None:
                    specs.append(spec)
        return specs

    def spec(self, model_id: str) -> ModelSpec:
        manifest = load_manifest()
        if model_id in manifest:
            return manifest[model_id]
        if self.models_dir and (spec := user_model_spec(self.models_dir / model_id)) is not None:
            return spec
        names = ", ".join(manifest)
        raise ModelMissingError(f"Unknown model '{model_id}'. Known models: {names} (or a folder in your models folder).")

    # -- resolution --------------------------------------------------------------------------
    def candidates(self, model_id: str) -> list[Path]:
        """Folders that may hold ``model_id``, in resolution order (existence not checked)."""
        folders = []
        if self.models_dir:
            folders.append(self.models_dir / model_id)
        folders.append(self.download_dir / model_id)
        return folders

    def locate(self, model_id: str) -> Optional[Path]:
        """The first complete local copy of ``model_id``, or None. Never downloads."""
        spec = self.spec(model_id)
        for folder in self.candidates(model_id):
            if folder.is_dir():
                lacking = missing_parts(spec, folder)
                if not lacking:
                    return folder
                if not _holds_data(folder):  # e.g. left by an older version's failed download
                    log.debug("%s: ignoring the empty folder %s", model_id, folder)
                    continue
                log.warning("%s in %s is incomplete (missing %s); ignoring it.", model_id, folder, ", ".join(lacking))
        return self._from_hf_cache(spec)

    def _from_hf_cache(self, spec: ModelSpec) -> Optional[Path]:
        if not (self.use_hf_cache and spec.repo_id):
            return None
        from huggingface_hub import snapshot_download

        try:
            folder = Path(snapshot_download(spec.repo_id, revision=spec.revision, local_files_only=True,
                                            allow_patterns=list(spec.allow_patterns) or None))
        except Exception:  # not cached (huggingface_hub raises several error types for this)
            return None
        return folder if not missing_parts(spec, folder) else None

    def available(self, model_id: str) -> bool:
        return self.locate(model_id) is not None

    def path(self, model_id: str) -> Path:
        """The local folder of ``model_id``; raises ``ModelMissingError`` saying how to get it."""
        folder = self.locate(model_id)
        if folder is None:
            raise ModelMissingError(self.missing_message(model_id))
        return folder

    def revision(self, model_id: str) -> str:
        """The exact revision of the local copy: the hub commit recorded at download or named by the
        Hugging Face cache, "local" for a folder placed by hand or made by the trainer."""
        from packshot.core.models.integrity import read_lock

        folder = self.locate(model_id)
        if folder is None:
            return self.spec(model_id).revision
        commit = read_lock(folder).get("commit")
        if not commit and "snapshots" in folder.parts:
            commit = folder.name  # Hugging Face cache: snapshots/<commit>
        return commit or "local"

    def missing_message(self, model_id: str) -> str:
        spec = self.spec(model_id)
        where = self.models_dir / model_id if self.models_dir else self.download_dir / model_id
        source = spec.repo_id or spec.source.get("url", "")
        offline = " You are offline (HF_HUB_OFFLINE is set), so it cannot be downloaded now." if self.offline else ""
        return (
            f"Model '{model_id}' ({spec.title}, {spec.size_text}) is not on this machine.{offline} "
            f"Fix: run `packshot models download {model_id}` with internet access, or put a copy of "
            f"{source} in {where}."
        )

    # -- download and verification -------------------------------------------------------------
    def ensure(self, model_id: str, progress: ProgressCallback = no_progress,
               cancel: Optional[CancelToken] = None) -> Path:
        """The local folder of ``model_id``, downloading it first if needed and allowed."""
        folder = self.locate(model_id)
        if folder is not None:
            return folder
        if self.offline:
            raise ModelMissingError(self.missing_message(model_id))
        spec = self.spec(model_id)
        kind = spec.source.get("type")
        if kind not in ("hub", "url"):
            raise ModelMissingError(self.missing_message(model_id))
        target = self.download_dir / model_id
        staging = self.partial_dir(model_id)
        self._adopt_old_partial(target, staging)
        log.info("Downloading %s (%s) into %s", model_id, spec.size_text, staging)
        try:
            (download_hub_model if kind == "hub" else download_url_model)(spec, staging, progress, cancel)
        except BaseException as exc:
            kept = _drop_if_empty(staging)
            if isinstance(exc, NoConnectionError):
                raise NoConnectionError(self.no_connection_message(model_id, str(exc), kept)) from exc
            if isinstance(exc, Exception) and is_disk_full(exc):
                raise disk_full_error(staging) from exc
            raise
        _move_into_place(staging, target)
        return self.path(model_id)

    def partial_dir(self, model_id: str) -> Path:
        """Where a download of ``model_id`` collects its files until it is complete."""
        return self.download_dir / PARTIAL_DIRNAME / model_id

    def _adopt_old_partial(self, target: Path, staging: Path) -> None:
        """Earlier versions downloaded straight into ``target``: carry an incomplete one over to resume it."""
        if not target.is_dir() or staging.exists():
            return
        if not any(p.is_file() for p in target.rglob("*")):  # an empty folder a failed download left
            shutil.rmtree(target, ignore_errors=True)
        elif any(target.glob("*.part")) or (target / ".cache" / "huggingface").is_dir():  # our own partial
            staging.parent.mkdir(parents=True, exist_ok=True)
            os.replace(target, staging)

    def no_connection_message(self, model_id: str, reason: str, kept: int = 0) -> str:
        spec = self.spec(model_id)
        where = self.models_dir / model_id if self.models_dir else self.download_dir / model_id
        source = f"https://huggingface.co/{spec.repo_id}" if spec.repo_id else spec.source.get("url", "")
        host = urllib.parse.urlsplit(source).hostname or "the server"
        resume = f" (the {human_bytes(kept)} already downloaded are kept and resume)" if kept else ""
        return (f"Cannot download {model_id} ({spec.title}, {spec.size_text}): no connection to {host} "
                f"({reason}). Connect to the internet "
                f"and run `packshot models download {model_id}` again{resume}, or download {source} on another "
                f"machine and put it in {where}.")

    def verify(self, model_id: str, progress: ProgressCallback = no_progress) -> VerifyReport:
        """Re-check every file of the local copy of ``model_id``."""
        spec = self.spec(model_id)
        folder = next((f for f in self.candidates(model_id) if f.is_dir()), None) or self._from_hf_cache(spec)
        if folder is None:
            return VerifyReport(model_id, None, problems=["not downloaded"])
        return verify_folder(spec, folder, record_to=self._record_path(model_id, folder))

    def check_recorded(self, model_id: str, folder: Path) -> None:
        """Before a load: ``folder``'s files against the sha256 its download recorded (each file hashed once per
        size and modification time; later loads only ``stat``). Raises ``ChecksumMismatchError`` naming the files."""
        key = hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:16]
        stamps = self.download_dir.parent / "verified" / f"{model_id}-{key}-loads.json"
        problems = check_recorded(Path(folder), stamps)
        if problems:
            raise ChecksumMismatchError(
                f"{model_id} in {folder} is not what was downloaded ({'; '.join(problems)}). Delete that folder "
                f"and run `packshot models download {model_id}` again.")

    def _record_path(self, model_id: str, folder: Path) -> Optional[Path]:
        """Where verify keeps first-seen hashes of a folder that is not ours (None: the folder is ours)."""
        if folder.resolve().is_relative_to(self.download_dir):
            return None
        key = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
        return self.download_dir.parent / "verified" / f"{model_id}-{key}.json"


def _data_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*")
            if p.is_file() and not p.name.endswith(_BOOKKEEPING_SUFFIXES) and p.stat().st_size > 0]


def _holds_data(folder: Path) -> bool:
    try:
        return bool(_data_files(folder))
    except OSError:
        return True  # unreadable: leave it alone


def _drop_if_empty(staging: Path) -> int:
    """Remove a partials folder that holds no downloaded bytes; return how many bytes it keeps."""
    if not staging.exists():
        return 0
    try:
        kept = sum(p.stat().st_size for p in _data_files(staging))
    except OSError:
        return 0
    if not kept:
        shutil.rmtree(staging, ignore_errors=True)
        _tidy(staging.parent)
    return kept


def _tidy(partials_root: Path) -> None:
    """Remove the partials folder itself once no download is in progress."""
    try:
        if partials_root.name == PARTIAL_DIRNAME and not any(partials_root.iterdir()):
            partials_root.rmdir()
    except OSError:
        pass


def _move_into_place(staging: Path, target: Path) -> None:
    """Move a complete download into its model folder (same file system: renames, no copies)."""
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, target)
    else:  # an earlier copy's folder: merge file by file, newest wins
        for path in sorted(p for p in staging.rglob("*") if p.is_file()):
            dest = target / path.relative_to(staging)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)
        shutil.rmtree(staging, ignore_errors=True)
    _tidy(staging.parent)
