"""The open project as the desktop sees it (no Qt): a folder of photos and its ``ProjectStore``.

The app opens the same SQLite store as ``packshot batch`` (``OUT_DIR/.packshot/project.sqlite``),
so a CLI run and the app see each other's masks, results and choices.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from core.images import list_photos
from core.project import STORE_DIRNAME, STORE_FILENAME, PhotoRecord, ProjectStore, ResultRecord
from desktop.gui_jobs import keeper
from desktop.thumbnails import PhotoEntry

log = logging.getLogger(__name__)

OUTPUT_SUBDIR = "packshot-output"  # default OUT_DIR for a folder opened in the app


def default_out_dir(folder: Path) -> Path:
    return Path(folder) / OUTPUT_SUBDIR


def is_project_dir(folder: Path) -> bool:
    return (Path(folder) / STORE_DIRNAME / STORE_FILENAME).is_file()


class ProjectSession:
    """A folder of photos bound to the project store in ``out_dir``."""

    def __init__(self, input_dir: Optional[Path], out_dir: Path) -> None:
        self.input_dir = Path(input_dir).resolve() if input_dir else None
        self.out_dir = Path(out_dir).resolve()
        self.store = ProjectStore(self.out_dir)
        if self.input_dir is not None:
            self.store.add_photos(list_photos(self.input_dir))

    @classmethod
    def open(cls, folder: Path) -> ProjectSession:
        """A project folder (holding .packshot/) opens as is; a photo folder gets ``packshot-output``."""
        folder = Path(folder)
        if is_project_dir(folder):
            return cls(None, folder)
        return cls(folder, default_out_dir(folder))

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

    def keeper_id(self, path: Path) -> Optional[int]:
        rec = self.store.photo(path)
        best = keeper(self.store.results(rec.id), rec.job_key) if rec else None
        return best.id if best else None

    def entry(self, rec: PhotoRecord) -> PhotoEntry:
        results = self.store.results(rec.id, rec.job_key) if rec.status == "done" else []
        best = keeper(self.store.results(rec.id), rec.job_key) if results else None
        chosen = [best] if best else results
        mask_state = rec.mask_state or "pending"
        if rec.settings.get("mask_rejected"):
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
        rec = self.store.photo(path)
        if rec is None:
            return
        settings = dict(rec.settings)
        if rejected:
            settings["mask_rejected"] = True
        else:
            settings.pop("mask_rejected", None)
        self.store.set_photo_settings(rec.id, settings)

    def choose(self, result_id: int) -> None:
        self.store.choose(result_id)
