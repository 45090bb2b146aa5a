"""The open project as the desktop sees it (no Qt): a folder of photos and its ``ProjectStore``.

The app opens the same SQLite store as ``packshot batch`` (``OUT_DIR/.packshot/project.sqlite``),
so a CLI run and the app see each other's masks, results and choices.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
from pathlib import Path
from typing import Optional

import platformdirs

from packshot.core.app_api import STORE_DIRNAME, STORE_FILENAME, PhotoRecord, ProjectStore, ResultRecord
from packshot.core.images import SkippedFile, scan_photos
from packshot.core.jobs import JobSettings, keeper
from packshot.desktop.thumbnails import PhotoEntry

log = logging.getLogger(__name__)

OUTPUT_SUFFIX = "-packshot"  # default OUT_DIR: PHOTOS-packshot/ beside the folder PHOTOS
LEGACY_SUBDIR = "packshot-output"  # where earlier versions put it (inside the photo folder): still opened


def default_out_dir(folder: Path) -> Path:
    """Beside the photo folder, never inside it (like ``packshot batch``, which refuses an output
    folder that is the input): the photos' folder stays exactly as the photographer left it. A
    project an earlier version made inside the folder is opened where it is."""
    folder = Path(folder).resolve()
    legacy = folder / LEGACY_SUBDIR
    if is_project_dir(legacy):
        return legacy
    return folder.parent / f"{folder.name}{OUTPUT_SUFFIX}"


def is_project_dir(folder: Path) -> bool:
    return (Path(folder) / STORE_DIRNAME / STORE_FILENAME).is_file()


def install_dirs() -> list[Path]:
    """Folders that belong to Packshot's installation: its packages and resources, the Python
    environment, and the folder holding the packages: the whole checkout when it runs from one (a
    project there would dirty it), else the installed ``packshot`` package folder."""
    from packshot.core.app_api import install_root

    root = install_root()  # the checkout (an editable install), or site-packages/packshot
    dirs = [root / top for top in ("core", "desktop", "trainer", "resources")]
    checkout = (root / "pyproject.toml").is_file() and (root / "core").is_dir()
    if checkout or root.name == "packshot":
        dirs.append(root)
    return [d.resolve() for d in (*dirs, Path(sys.prefix), Path(sys.base_prefix))]


def writable(folder: Path) -> bool:
    """``os.access`` also answers False on a read-only file system (EROFS), not only for permissions."""
    return os.access(folder, os.W_OK | os.X_OK)


def project_place_problem(folder: Path) -> Optional[str]:
    """Why ``default_out_dir(folder)`` is no place for the project (a sentence), or None if it is fine."""
    folder = Path(folder).resolve()
    target = default_out_dir(folder)
    if any(p == d or d in p.parents for d in install_dirs() for p in (folder, target)):
        return f"The folder {folder} is part of Packshot's installation"
    if not writable(target if target.exists() else target.parent):
        return f"The folder {target.parent} is read-only"
    return None


def user_project_dir(folder: Path) -> Path:
    """The project of a photo folder that cannot hold it: under the user data folder, one per folder
    (name plus a hash of the full path, so two folders called "photos" never share a project)."""
    folder = Path(folder).resolve()
    digest = hashlib.sha256(str(folder).encode("utf-8")).hexdigest()[:10]
    name = re.sub(r"[^\w.-]+", "_", folder.name).strip("._") or "photos"
    return Path(platformdirs.user_data_dir("packshot")) / "projects" / f"{name}-{digest}"


class ProjectSession:
    """A folder of photos bound to the project store in ``out_dir``."""

    def __init__(self, input_dir: Optional[Path], out_dir: Path) -> None:
        self.input_dir = Path(input_dir).resolve() if input_dir else None
        self.out_dir = Path(out_dir).resolve()
        self.store = ProjectStore(self.out_dir)
        # entries named like photos that are not readable files (broken links, FIFOs...): said, not dropped
        self.skipped: list[SkippedFile] = []
        if self.input_dir is not None:
            listing = scan_photos(self.input_dir)
            self.skipped = listing.skipped
            self.store.add_photos(listing.photos)

    @classmethod
    def open(cls, folder: Path, out_dir: Optional[Path] = None) -> ProjectSession:
        """A project folder (holding .packshot/) opens as is; a photo folder gets ``out_dir``, by
        default ``default_out_dir(folder)`` (beside it)."""
        folder = Path(folder)
        if is_project_dir(folder):
            return cls(None, folder)
        return cls(folder, Path(out_dir) if out_dir is not None else default_out_dir(folder))

    def close(self) -> None:
        self.store.close()

    # -- reading --------------------------------------------------------------------------------
    def photos(self) -> list[PhotoRecord]:
        return self.store.photos()

    def record(self, path: Path) -> Optional[PhotoRecord]:
        return self.store.photo(path)

    def results(self, path: Path) -> list[ResultRecord]:
        rec = self.store.photo(path)
        if rec is None:
            return []
        results = self.store.results(rec.id)
        # Show the results of the latest settings first; older job keys follow.
        latest = rec.job_key
        return sorted(results, key=lambda r: (r.job_key != latest, r.variant, r.id))

    def last_run_settings(self) -> Optional[JobSettings]:
        """The ``JobSettings`` of the project's latest run (the app's or ``packshot batch``'s), or None."""
        for run in reversed(self.store.runs()):
            try:
                return JobSettings.from_dict(run["settings"])
            except (TypeError, ValueError) as exc:  # a store written by another version
                log.info("Run %s's settings not read back: %s", run.get("id"), exc)
        return None

    def keeper_id(self, path: Path) -> Optional[int]:
        rec = self.store.photo(path)
        best = keeper(self.store.results(rec.id), rec.job_key) if rec else None
        return best.id if best else None

    def entry(self, rec: PhotoRecord) -> PhotoEntry:
        results = self.store.results(rec.id, rec.job_key) if rec.status == "done" else []
        best = keeper(self.store.results(rec.id), rec.job_key) if results else None
        chosen = [best] if best else results
        mask_state = rec.mask_state or "pending"
        if rec.rejected:
            mask_state = "rejected"
        return PhotoEntry(
            path=rec.path,
            mask_state=mask_state,
            mask_score=rec.mask_score,
            generated=bool(results),
            flagged=bool(chosen) and chosen[0].qc_flag,
            error=(rec.error if rec.status == "failed" else None)
            or (None if rec.path.exists() else "the original file is gone (moved or deleted)"),
        )

    def entries(self) -> list[PhotoEntry]:
        return [self.entry(rec) for rec in self.store.photos()]

    def review_order(self) -> list[Path]:
        """Photos for mask review: doubtful masks first (lowest score), unscored masks last."""
        recs = self.store.photos()
        return [r.path for r in sorted(recs, key=lambda r: (r.mask_score is None, r.mask_score or 0.0, r.name))]

    # -- writing --------------------------------------------------------------------------------
    def set_rejected(self, path: Path, rejected: bool) -> None:
        """Project state (``ProjectStore.set_rejected``): ``packshot batch`` skips the photo too."""
        rec = self.store.photo(path)
        if rec is not None:
            self.store.set_rejected(rec.id, rejected)

    def choose(self, result_id: int) -> None:
        self.store.choose(result_id)
