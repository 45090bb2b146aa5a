"""The one masking loop: ``packshot masks``, each photo of a batch and the app's masks all go through it.

``MaskJob.mask_photo`` is the one rule for a photo's mask: a given mask file (``--masks``) is used as
reviewed; a mask reviewed or edited in the app is kept (never recomputed, even with ``--redo``); an
automatic mask made from the same photo by the same mask models is reused; otherwise the masker
computes one, which the gate judges. ``MaskJob.run`` does that for a list of photos with progress,
cancellation and per-photo errors (named; the rest goes on), skipping photos rejected in review.

Masks land in the project store (``OUT_DIR/.packshot/masks``, recorded with their state, score,
origin and doubt), or, for ``packshot masks --out DIR``, in a folder for review, named like the photos.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from packshot.core.errors import Cancelled, DiskFullError, PackshotError, stop_when_disk_full
from packshot.core.jobs.context import JobContext
from packshot.core.jobs.masks import load_mask_file, quantize_mask, save_mask_atomic
from packshot.core.jobs.settings import file_sha256
from packshot.core.logfile import FILE_ONLY
from packshot.core.naming import display_name, unique_stems
from packshot.core.progress import CancelToken, Progress, ProgressCallback, check, no_progress
from packshot.core.project import ProjectStore
from packshot.core.write_guard import WriteGuard

log = logging.getLogger(__name__)

MASK_MAKER = "packshot masks"  # what a mask PNG Packshot wrote answers to the write guard


def mask_maker(path: Path) -> Optional[str]:
    """``MASK_MAKER`` for a mask PNG Packshot wrote (it carries the polarity chunk), else None."""
    from PIL import Image

    from packshot.core.masking.maskio import POLARITY_KEY

    try:
        with Image.open(path) as im:
            return MASK_MAKER if POLARITY_KEY in im.info else None
    except (OSError, ValueError, SyntaxError):
        return None


# What happened to one photo's mask. Kept as is: given, reviewed, reused, kept; made: computed.
KEPT_STATUSES = ("given", "reviewed", "reused", "kept")


@dataclass
class MaskOutcome:
    path: Path
    status: str  # computed | reused | reviewed | given | kept | rejected | failed
    mask: Any = None  # the MaskResult as stored (8-bit); None when kept without being read
    mask_path: Optional[Path] = None
    state: str = ""  # auto | reviewed | edited (the project store's mask state)
    doubt: Optional[str] = None  # why the gate wants a look at a computed mask (None: it passed)
    message: str = ""
    notes: list[str] = field(default_factory=list)
    error: Optional[BaseException] = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return display_name(self.path.name)


@dataclass
class MaskSummary:
    computed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # reviewed, given, reused or already there
    rejected: list[str] = field(default_factory=list)  # rejected in review: not masked
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    doubtful: list[tuple[str, str]] = field(default_factory=list)  # (file name, why)
    cancelled: bool = False
    seconds: float = 0.0

    def record(self, outcome: MaskOutcome) -> None:
        if outcome.status == "computed":
            self.computed.append(outcome.name)
        elif outcome.status in KEPT_STATUSES:
            self.kept.append(outcome.name)
        elif outcome.status == "rejected":
            self.rejected.append(outcome.name)
        elif outcome.status == "failed":
            self.failed.append((outcome.name, outcome.message))
        if outcome.doubt:
            self.doubtful.append((outcome.name, outcome.doubt))


class MaskJob:
    """Masks for ``photos`` with ``context``'s masker and mask settings.

    ``project``: the store the masks are recorded in (their PNGs in ``project.masks_dir``); without
    one they go to ``out_dir/.packshot/masks``. ``export_to``: a folder for review instead (``packshot
    masks --out``): masks named like the photos with ``white`` meaning product or background, one
    already there kept unless ``redo`` (which replaces only masks Packshot wrote). ``redo``: compute
    again masks that could be reused; reviewed masks are kept whatever it says. ``stems``: the mask
    names (default: the project's photos' unique stems). ``keep_empty``: store an empty mask instead
    of failing the photo (the app's review paints over it). ``store``: writes a project mask
    ``(target, mask, state, origin)`` instead of ``store_mask``."""

    def __init__(self, photos: Sequence[Path], context: JobContext, *, project: Optional[ProjectStore] = None,
                 out_dir: Optional[Path] = None, export_to: Optional[Path] = None, white: str = "product",
                 redo: bool = False, stems: Optional[dict[Path, str]] = None, guard: Optional[WriteGuard] = None,
                 keep_empty: bool = False, store: Optional[Callable[[Path, Any, str, Optional[dict]], Any]] = None
                 ) -> None:
        self.photos = [Path(p).resolve() for p in photos]
        self.context = context
        self.project = project
        self.export_to = Path(export_to) if export_to is not None else None
        if project is not None:
            self.masks_dir = project.masks_dir
        elif self.export_to is not None:
            self.masks_dir = self.export_to
        elif out_dir is not None:
            self.masks_dir = Path(out_dir).resolve() / ".packshot" / "masks"
        else:
            raise PackshotError("MaskJob needs a project store, an output folder or a folder to export to.")
        self.white, self.redo, self.keep_empty = white, redo, keep_empty
        self._stems = stems
        self._guard = guard
        self._store_hook = store  # a PhotoJob's own writer (packshot.core.cluster puts masks beside remote outputs)

    @property
    def stems(self) -> dict[Path, str]:
        if self._stems is None:
            known = [r.path for r in self.project.photos()] if self.project is not None else []
            seen = set(known)
            self._stems = unique_stems(known + [p for p in self.photos if p not in seen])
        return self._stems

    @property
    def guard(self) -> WriteGuard:
        """Masks are never written onto (or among) the photos."""
        if self._guard is None:
            root = self.export_to if self.export_to is not None else self.masks_dir.parent.parent
            self._guard = WriteGuard(root, [*{p.parent for p in self.photos}, *self.photos])
        return self._guard

    def target(self, path: Path) -> Path:
        """Where ``path``'s mask goes: named like the photo (IOPaint's convention) in a review folder,
        by its unique stem in the project."""
        path = Path(path).resolve()
        if self.export_to is not None:
            return self.export_to / f"{path.stem}.png"
        return self.masks_dir / f"{self.stems.get(path, path.stem)}.png"

    # -- the loop ----------------------------------------------------------------------------------
    def run(self, progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None,
            on_photo: Optional[Callable[[MaskOutcome], None]] = None) -> MaskSummary:
        """Every photo's mask, in order. A bad photo fails alone (named, recorded); cancelling stops
        the loop with finished masks kept (``summary.cancelled``); a full disk raises."""
        self.guard.check_folder(self.masks_dir)  # masks never land on (or among) the photos
        summary = MaskSummary()
        start = time.perf_counter()
        rejected = self.project.rejected_paths() if self.project is not None else set()
        total = len(self.photos)
        try:
            for i, path in enumerate(self.photos):
                check(cancel)
                progress(Progress("masks", i, total, display_name(path.name)))
                if path in rejected:
                    outcome = MaskOutcome(path, "rejected", message="rejected in review")
                else:
                    outcome = self._guarded(path, lambda p=path: self.mask_photo(p, cancel=cancel, load=False))
                summary.record(outcome)
                if on_photo is not None:
                    on_photo(outcome)
            progress(Progress("masks", total, total, f"{len(summary.computed)} masks"))
        except Cancelled:
            summary.cancelled = True
        summary.seconds = time.perf_counter() - start
        return summary

    def _guarded(self, path: Path, work: Callable[[], MaskOutcome]) -> MaskOutcome:
        name = display_name(path.name)
        try:
            with stop_when_disk_full(self.masks_dir):
                return work()
        except (Cancelled, DiskFullError):
            raise
        except PackshotError as exc:
            return self._failed(path, type(exc).__name__, str(exc), exc)
        except MemoryError as exc:
            return self._failed(path, "MemoryError", f"{name}: not enough memory to mask this photo.", exc)
        except Exception as exc:  # the trace goes to the log; the outcome says it in one line
            log.error("Unexpected error masking %s", path, exc_info=exc, extra=FILE_ONLY)
            return self._failed(path, type(exc).__name__, f"{name}: unexpected {type(exc).__name__}: {exc}", exc)

    def _failed(self, path: Path, kind: str, message: str, error: BaseException) -> MaskOutcome:
        name = display_name(path.name)
        if not message.startswith(name):
            message = f"{name}: {message}"
        if self.project is not None:
            try:
                self.project.fail_photo(self._photo_id(path), kind, message)
            except PackshotError as exc:  # the store itself may be on a full disk
                message += f" (also: {exc})"
        return MaskOutcome(path, "failed", message=message, error=error)

    # -- one photo ---------------------------------------------------------------------------------
    def mask_photo(self, path: Path, *, photo: Any = None, sha: Optional[str] = None,
                   notes: Optional[list[str]] = None, cancel: Optional[CancelToken] = None,
                   load: bool = True) -> MaskOutcome:
        """``path``'s mask by the one rule (see the module). ``photo``/``sha``: already read by the
        caller; ``load=False``: a kept mask is not read back (the loop needs only its status).
        Raises ``PackshotError`` naming the photo when it cannot be masked."""
        from packshot.core.images import load_photo

        path = Path(path).resolve()
        notes = notes if notes is not None else []
        target = self.target(path)
        if self.export_to is not None:
            if target.exists() and not self.redo:
                return MaskOutcome(path, "kept", mask_path=target, message="already there")
            self.guard.check(target, made_by=MASK_MAKER, key_of=mask_maker)  # --redo: only masks Packshot wrote
            return self._compute(path, photo if photo is not None else load_photo(path), target, None, notes, cancel)

        s = self.context.settings.masks
        if s.masks_dir:
            given = Path(s.masks_dir) / f"{path.stem}.png"  # IOPaint's convention: same stem, .png
            if given.is_file():
                photo = photo if photo is not None else load_photo(path)
                mask = load_mask_file(given, photo.size, source="file")
                self._store(path, target, mask, "reviewed")
                return MaskOutcome(path, "given", mask, target, "reviewed", notes=notes)
            notes.append(f"no mask {given.name} in {s.masks_dir}; computed one automatically")
        record = self.project.photo(path) if self.project is not None else None
        sha = sha or file_sha256(path)
        origin = {"models": self.context.auto_mask_models(), "photo_sha256": sha}
        if not s.masks_dir and record is not None and record.mask_path is not None and record.mask_path.is_file():
            if record.mask_state in ("reviewed", "edited"):  # the user's work: never recomputed
                return self._kept(path, record, "reviewed", photo, load, notes)
            if record.mask_state == "auto" and record.mask_origin == origin and not self.redo:
                # Same photo, same mask models: only generation settings changed, so no need to mask again.
                log.debug("%s: reusing its automatic mask %s", display_name(path.name), record.mask_path)
                return self._kept(path, record, "reused", photo, load, notes)
        return self._compute(path, photo if photo is not None else load_photo(path), target, origin, notes, cancel)

    def _kept(self, path: Path, record: Any, status: str, photo: Any, load: bool, notes: list[str]) -> MaskOutcome:
        mask = None
        if load:
            from packshot.core.images import load_photo

            size = photo.size if photo is not None else load_photo(path).size
            mask = load_mask_file(record.mask_path, size, source=record.mask_source or "file")
            if record.mask_state == "auto":
                mask.score = record.mask_score if record.mask_score is not None else mask.score
                mask.doubt = record.mask_doubt  # the gate's verdict on it when it was computed
        return MaskOutcome(path, status, mask, record.mask_path, record.mask_state, notes=notes)

    def _compute(self, path: Path, photo: Any, target: Path, origin: Optional[dict], notes: list[str],
                 cancel: Optional[CancelToken]) -> MaskOutcome:
        from packshot.core.quality.mask_gate import mask_doubt

        result = self.context.masker.compute(photo, cancel=cancel)
        if not result.mask.any() and not self.keep_empty:
            raise PackshotError(f"{display_name(path.name)}: no product found in the photo (empty mask); "
                                "supply a mask with --masks or review it in the app.")
        mask = quantize_mask(result)
        mask.doubt = mask_doubt(result, self.context.settings.masks.doubtful_below)  # on the masker's own result
        if self.export_to is not None:
            from packshot.core.masking.maskio import save_mask_png

            save_mask_png(target, result.alpha, white=self.white)
        else:
            self._store(path, target, mask, "auto", origin)
        return MaskOutcome(path, "computed", mask, target, "auto", doubt=mask.doubt, notes=notes)

    def _store(self, path: Path, target: Path, mask: Any, state: str, origin: Optional[dict] = None) -> None:
        if self._store_hook is not None:
            self._store_hook(target, mask, state, origin)
        else:
            store_mask(self.guard, self.project, path, target, mask, state, origin)

    def _photo_id(self, path: Path) -> int:
        assert self.project is not None
        return photo_id(self.project, path)


def photo_id(project: ProjectStore, path: Path) -> int:
    record = project.photo(path)
    return record.id if record is not None else project.add_photo(path)


def store_mask(guard: WriteGuard, project: Optional[ProjectStore], photo: Path, target: Path, mask: Any,
               state: str, origin: Optional[dict] = None) -> Path:
    """``mask`` as the exact 8-bit PNG the jobs composite with, recorded in ``project`` (when there is
    one) with its state and what it was made from."""
    save_mask_atomic(guard.check(target), mask.alpha)
    if project is not None:
        project.set_mask(photo_id(project, photo), state, target, source=mask.source, score=mask.score,
                         origin=origin, doubt=mask.doubt if state == "auto" else None)
    return target
