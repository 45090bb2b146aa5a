"""The queue jobs of the desktop app (no Qt): the app submits core's own jobs.

"Run on all" and "Run on the selection" run ``packshot.core.jobs.BatchJob`` (folder lock, name-clash and
template-variable checks, resume, skip-done), "Try on this photo" and "Regenerate" one
``packshot.core.jobs.PhotoJob`` of such a batch. Their ``JobSettings`` come from
``packshot.desktop.job_settings.for_run`` only. ``run`` executes on the queue's worker thread,
where models load (once, by the main window's ``Runtime``, which every job is handed); the GUI
thread only builds these objects.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from packshot.core.errors import Cancelled, PackshotError
from packshot.core.jobs import BatchJob, PhotoJob
from packshot.core.progress import CancelToken, Progress, ProgressCallback, no_progress

if TYPE_CHECKING:
    from packshot.core.runtime import Runtime
    from packshot.desktop.workspace import Workspace

log = logging.getLogger(__name__)

def photo_stem(store: Any, photo: Path) -> str:
    """The stem the batch job would use (``unique_stems`` over the project's photos)."""
    from packshot.core.app_api import unique_stems

    photos = [r.path for r in store.photos()]
    return unique_stems(photos).get(Path(photo).resolve(), Path(photo).stem)


def input_folder(store: Any, input_dir: Optional[Path]) -> Path:
    """The photo folder of a project: the one opened, else the one folder its photos are in."""
    if input_dir is not None:
        return Path(input_dir)
    parents = {r.path.parent for r in store.photos()}
    if len(parents) != 1:
        raise PackshotError("This project's photos are not in one folder; open the photo folder itself "
                            "to run the batch.")
    return parents.pop()


class _AppBatch(BatchJob):
    """``BatchJob`` limited to the photos the user chose (core leaves out the photos rejected in
    review, as ``packshot batch`` does). Stems, clash check, lock: the whole folder's."""

    def __init__(self, *args: Any, only: Optional[Sequence[Path]] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.only = {Path(p).resolve() for p in only} if only is not None else None

    def my_photos(self) -> list[Path]:
        return [p for p in super().my_photos() if self.only is None or p.resolve() in self.only]

    def rejected_photos(self) -> list[Path]:
        return [p for p in super().rejected_photos() if self.only is None or p.resolve() in self.only]


KEEP_BOTH_NAME = "{stem}-{key}"  # the app's names when new settings meet earlier results


class BatchRunJob:
    """Run core's ``BatchJob`` on the folder, for every photo or a selection."""

    def __init__(self, input_dir: Path, out_dir: Path, settings: Any, *, runtime: Runtime,
                 photos: Optional[Sequence[Path]] = None, templates_path: Optional[Path] = None) -> None:
        self.input_dir, self.out_dir, self.settings = Path(input_dir), Path(out_dir), settings
        self.runtime = runtime
        self.photos = list(photos) if photos is not None else None
        self.templates_path = templates_path
        what = "all photos" if self.photos is None else f"{len(self.photos)} photo(s)"
        self.label = f"Batch · {what} · {settings.engine}"
        self.summary: Any = None
        self.kept_both = 0  # earlier results kept beside new ones of other settings

    def run(self, progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None) -> Any:
        progress(Progress("loading models", 0, 0, "preparing the batch"))
        from packshot.core.errors import OutputsTakenError

        job = _AppBatch(self.input_dir, self.out_dir, self.settings, templates_path=self.templates_path,
                        only=self.photos, argv=["packshot-studio"], runtime=self.runtime)
        try:
            try:
                job.prepare()
            except OutputsTakenError as taken:
                # New settings over results made with other ones: keep both, the new ones named by their
                # settings' id (never a silent overwrite; the results panel shows them side by side).
                job.release()
                renamed = replace(self.settings, output=replace(self.settings.output, name_template=KEEP_BOTH_NAME))
                log.info("%d earlier result(s) kept; new results named %s", len(taken.paths), KEEP_BOTH_NAME)
                job = _AppBatch(self.input_dir, self.out_dir, renamed, templates_path=self.templates_path,
                                only=self.photos, argv=["packshot-studio"], runtime=self.runtime)
                job.prepare()
                self.kept_both = len(taken.paths)
            self.summary = job.run(progress, cancel)
        finally:
            job.release()
            if job.project is not None:
                job.project.close()
        if self.summary.cancelled:
            raise Cancelled("batch cancelled")
        return self.summary


class _NewSeedPhoto(PhotoJob):
    """"Regenerate": the same photo job with a new seed, written beside the earlier result
    (``<name>-seed<N>``) instead of over it."""

    def outputs(self) -> list[Path]:
        return [out.with_name(f"{out.stem}-seed{seed}{out.suffix}")
                for out, seed in zip(super().outputs(), self.variant_seeds)]


class PhotoRunJob:
    """One photo through the batch's own ``PhotoJob`` (same folder checks and lock as a batch)."""

    def __init__(self, input_dir: Path, out_dir: Path, photo: Path, settings: Any, *, runtime: Runtime,
                 seeds: Optional[Sequence[int]] = None, templates_path: Optional[Path] = None) -> None:
        self.input_dir, self.out_dir, self.photo = Path(input_dir), Path(out_dir), Path(photo)
        self.runtime = runtime
        self.settings, self.templates_path = settings, templates_path
        self.seeds = list(seeds) if seeds is not None else None
        self.label = f"{self.photo.name} · {settings.engine}" + (f" · seed {self.seeds[0]}" if self.seeds else "")

    def run(self, progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None) -> Any:
        progress(Progress("loading models", 0, 0, self.photo.name))
        # Asked for explicitly: made again even when done (redo), and only this photo.
        batch = BatchJob(self.input_dir, self.out_dir, replace(self.settings, output=replace(self.settings.output, redo=True)),
                         templates_path=self.templates_path, argv=["packshot-studio"], runtime=self.runtime)
        try:
            batch.prepare()
            job = batch.photo_jobs([self.photo.resolve()])[0]
            if self.seeds is not None:
                job = _NewSeedPhoto(job.path, job.out_dir, job.context, project=job.project, stem=job.stem,
                                    seeds=self.seeds)
            outcome = job.run(_saved_means_done(progress), cancel)
        finally:
            batch.release()
            if batch.project is not None:
                batch.project.close()
        if outcome.status == "failed":
            # The exception itself, traceback and type kept: a missing model is handled differently from a bad photo.
            raise outcome.error if outcome.error is not None else PackshotError(outcome.message)
        return outcome


def _saved_means_done(progress: ProgressCallback) -> ProgressCallback:
    """PhotoJob reports "photo 4 of 4" after its results are saved and recorded; a cancel raised by
    that last report would call finished work cancelled, so it is not raised there."""

    def report(p: Progress) -> None:
        try:
            progress(p)
        except Cancelled:
            if not (p.stage == "photo" and p.total and p.done >= p.total):
                raise

    report.preview_every = getattr(progress, "preview_every", 0)  # type: ignore[attr-defined]  (live previews)
    return report


def mask_origin(ctx: Any, path: Path, reviewed: bool = False) -> dict:
    """What a mask of the app was made from, in the form ``PhotoJob`` compares (models + photo)."""
    from packshot.core.jobs import file_sha256

    origin = {"models": ctx.auto_mask_models(), "photo_sha256": file_sha256(Path(path))}
    if reviewed:
        origin["reviewed"] = "desktop"
    return origin


def save_mask(store: Any, path: Path, result: Any, state: str, origin: Optional[dict] = None) -> Path:
    """Write ``result`` as the project's 8-bit mask PNG for ``path`` (where the batch looks for it)
    and record it with its origin, so the batch reuses it instead of masking again."""
    from packshot.core.jobs import quantize_mask, save_mask_atomic

    record = store.photo(path)
    photo_id = record.id if record else store.add_photo(path)
    target = store.masks_dir / f"{photo_stem(store, path)}.png"
    save_mask_atomic(target, quantize_mask(result).alpha, photo=path)  # the write guard: never the photo
    store.set_mask(photo_id, state, target, source=result.source, score=result.score, origin=origin)
    return target


class AutoMaskJob:
    """Core's ``MaskJob`` over the project's photos (the batch's and ``packshot masks``' loop): a mask
    and its score for every photo that needs one, so the review queue can put the doubtful ones first;
    reviewed masks are kept, rejected photos left out, and the batch later reuses these."""

    def __init__(self, out_dir: Path, mask_settings: Any, workspace: Workspace) -> None:
        self.out_dir = Path(out_dir)
        self.mask_settings = mask_settings
        self.workspace = workspace  # its project store and mask context (the review's masker)
        self.label = f"Automatic masks ({mask_settings.masks.masker})"
        self.mask_summary: Any = None  # core's MaskSummary once run (not ``summary``: the window reads that as a batch's)

    def run(self, progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None) -> int:
        from packshot.core.jobs import MaskJob

        store = self.workspace.project_store(self.out_dir)
        ctx = self.workspace.mask_context(self.mask_settings)
        job = MaskJob([r.path for r in store.photos()], ctx, project=store, keep_empty=True)
        self.mask_summary = summary = job.run(progress, cancel)
        for _name, reason in summary.failed:  # each named; the rest went on
            log.info("Mask not computed: %s", reason)
        if summary.cancelled:
            raise Cancelled("masks cancelled")
        return len(summary.computed)
