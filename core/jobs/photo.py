"""One photo's job: read -> mask -> render -> QC -> save -> record."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from packshot.core.errors import Cancelled, DiskFullError, PackshotError, stop_when_disk_full
from packshot.core.images import Photo, load_photo, output_format_for, write_atomic
from packshot.core.jobs.context import JobContext
from packshot.core.jobs.outcomes import PhotoOutcome, PhotoPlan
from packshot.core.jobs.render import render_images
from packshot.core.jobs.settings import DoubtfulMasks, file_sha256
from packshot.core.logfile import FILE_ONLY
from packshot.core.naming import display_name, output_path, output_suffix
from packshot.core.progress import CancelToken, Progress, ProgressCallback, check, no_progress, preview_every
from packshot.core.project import NewResult, ProjectStore
from packshot.core.quality.mask_gate import mask_doubt
from packshot.core.recipe import Recipe, save_output
from packshot.core.templates import photo_variables
from packshot.core.write_guard import WriteGuard

log = logging.getLogger(__name__)


@dataclass
class PhotoWork:
    """One photo between the stages of its job: plain data, so it can travel between workers."""

    photo: Photo
    sha: str
    prompt: str
    negative: str
    outputs: list[Path]
    notes: list[str] = field(default_factory=list)
    mask: Any = None
    mask_state: str = ""
    mask_sha: str = ""
    used_mask: Optional[Path] = None
    doubt: Optional[str] = None
    rendered: list[tuple[np.ndarray, int, Optional[dict]]] = field(default_factory=list)  # image, seed, QC


class PhotoJob:
    """One photo's job. Usable alone (the GUI queue) or from ``BatchJob``."""

    def __init__(self, photo_path: Path, out_dir: Path, context: JobContext, *,
                 project: Optional[ProjectStore] = None, stem: Optional[str] = None,
                 run_id: Optional[int] = None, seeds: Optional[Sequence[int]] = None,
                 guard: Optional[WriteGuard] = None, replaceable: Collection[str] = ()) -> None:
        self.path = Path(photo_path).resolve()
        self.out_dir = Path(out_dir).resolve()
        self.context = context
        self.project = project
        self.stem = stem or self.path.stem
        self.run_id = run_id
        self.seeds = list(seeds) if seeds is not None else None  # GUI: "regenerate with a new seed"
        self.photo_id: Optional[int] = None
        self._guard = guard
        self.replaceable = set(replaceable)  # job keys (besides this job's) whose outputs it may replace

    @property
    def guard(self) -> WriteGuard:
        """Every file this job writes goes through it; alone (no batch's guard), the photo and its folder
        are the inputs."""
        if self._guard is None:
            self._guard = WriteGuard(self.out_dir, [self.path.parent, self.path])
        return self._guard

    def check_writes(self, outputs: Sequence[Path]) -> None:
        """``UnsafeWriteError`` (this photo fails, the batch goes on) before any output is written."""
        s = self.context.settings
        for out in outputs:
            self.guard.check(out, made_by=self.replaceable | {self.context.job_key},
                             overwrite=s.output.redo or self.seeds is not None)

    @property
    def name(self) -> str:
        return display_name(self.path.name)  # for messages: a name that is not UTF-8 shows escaped

    @property
    def variant_seeds(self) -> list[int]:
        if self.seeds is not None:  # a plain engine paints one background whatever the seeds (see the note)
            return self.seeds if self.context.generative else self.seeds[:1]
        g = self.context.settings.generation
        return [g.seed + i for i in range(self.context.variants)]

    def prompt(self) -> tuple[str, str]:
        return self.context.template.fill(photo_variables(self.path, self.context.variables))

    def outputs(self) -> list[Path]:
        s = self.context.settings
        seeds = self.variant_seeds
        fields = {"stem": self.stem, "name": photo_variables(self.path)["name"], "engine": self.context.engine_name,
                  "template": self.context.template.name, "ext": self.path.suffix.lstrip(".").lower(),
                  "key": self.context.job_key[:8]}
        return [output_path(self.out_dir, s.output.name_template, {**fields, "variant": i + 1, "seed": seed},
                            output_suffix(output_format_for(self.path, s.output.output_format)), variants=len(seeds))
                for i, seed in enumerate(seeds)]

    def _photo_id(self) -> Optional[int]:
        if self.project is None:
            return None
        if self.photo_id is None:
            record = self.project.photo(self.path)
            self.photo_id = record.id if record else self.project.add_photo(self.path)
        return self.photo_id

    def is_done(self) -> bool:
        if self.project is None or self.context.settings.output.redo or self.seeds is not None:
            return False
        record = self.project.photo(self.path)
        if record is None or not self.project.is_done(record.id, self.context.job_key, len(self.variant_seeds)):
            return False
        try:  # a photo replaced under the same name is new work
            return record.sha256 is None or record.sha256 == file_sha256(self.path)
        except OSError:
            return False

    def plan(self) -> PhotoPlan:
        prompt, negative = self.prompt()
        return PhotoPlan(self.path, self.outputs(), prompt, negative, self.is_done())

    # -- the work ------------------------------------------------------------------------
    def run(self, progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None) -> PhotoOutcome:
        """Do the photo. Never raises for a bad photo (the outcome says why); raises ``Cancelled``."""
        start = time.perf_counter()

        def work() -> PhotoOutcome:
            check(cancel)
            if self.is_done():
                return PhotoOutcome(self.path, "skipped", self.outputs(), "already done")
            return self._run(progress, cancel)

        outcome = self.guarded(work)
        outcome.seconds = time.perf_counter() - start if outcome.status != "skipped" else 0.0
        return outcome

    def guarded(self, work: Callable[[], Any]) -> Any:
        """``work()``, or the failed outcome of this photo when it raises: one bad photo never stops a
        batch. Cancelling and a full disk do stop it (they raise)."""
        try:
            with stop_when_disk_full(self.out_dir):  # a full disk stops the batch; it is no bad photo
                return work()
        except (Cancelled, DiskFullError):
            raise
        except PackshotError as exc:
            return self._failed(type(exc).__name__, str(exc), exc)
        except MemoryError as exc:
            return self._failed("MemoryError", f"{self.name}: not enough memory to process this photo.", exc)
        except Exception as exc:  # keep the trace for the log; the outcome says it in one line
            log.error("Unexpected error on %s", self.path, exc_info=exc, extra=FILE_ONLY)
            return self._failed(type(exc).__name__, f"{self.name}: unexpected {type(exc).__name__}: {exc}", exc)

    def _failed(self, kind: str, message: str, error: Optional[BaseException] = None) -> PhotoOutcome:
        if not message.startswith(self.name):
            message = f"{self.name}: {message}"
        if self.project is not None:
            try:
                self.project.fail_photo(self._photo_id(), kind, message, self.run_id)
            except PackshotError as exc:  # the store itself may be on the full disk
                message += f" (also: {exc})"
        return PhotoOutcome(self.path, "failed", message=message, error_kind=kind, error=error)

    def _run(self, progress: ProgressCallback, cancel: Optional[CancelToken]) -> PhotoOutcome:
        self.check_writes(self.outputs())  # refused before the work, not after it
        work = self.read(progress, cancel)
        held = self.mask_stage(work, progress, cancel)
        if held is not None:
            return held
        self.render_stage(work, progress, cancel)
        return self.save_stage(work, progress, cancel)

    # -- the stages: run in turn here, on separate workers by packshot.core.cluster --------------------
    def read(self, progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None) -> PhotoWork:
        progress(Progress("photo", 0, 4, f"{self.name}: reading"))
        photo, sha = self.load_input()
        photo_id = self._photo_id()
        if self.project is not None and photo_id is not None:
            self.project.set_photo_info(photo_id, sha256=sha, width=photo.size[0], height=photo.size[1])
        prompt, negative = self.prompt()
        check(cancel)
        return PhotoWork(photo=photo, sha=sha, prompt=prompt, negative=negative, outputs=self.outputs(),
                         notes=list(photo.notes))  # what reading changed (first frame, dropped ICC...)

    def load_input(self) -> tuple[Photo, str]:
        """The photo and its sha256 (packshot.core.cluster reads them from an object store instead)."""
        return load_photo(self.path), self.input_sha()

    @property
    def source(self) -> str:
        """Where the original lives, as its recipe names it."""
        return str(self.path)

    def mask_stage(self, work: PhotoWork, progress: ProgressCallback = no_progress,
                   cancel: Optional[CancelToken] = None) -> Optional[PhotoOutcome]:
        """The mask (computed, reused or given) and the gate's verdict; an outcome when the photo is held."""
        s = self.context.settings
        progress(Progress("photo", 1, 4, f"{self.name}: mask"))
        mask, mask_file, mask_state = self._mask(work.photo, work.sha, work.notes, cancel)
        doubt = mask_doubt(mask, s.masks.doubtful_below) if mask_state == "auto" else None
        if doubt is not None and s.masks.doubtful_masks != DoubtfulMasks.CONTINUE:
            # Held for review: nothing rendered, nothing recorded as done; the next run tries again.
            return PhotoOutcome(self.path, "doubtful", [], f"mask doubtful: {doubt}", notes=work.notes,
                                mask_doubt=doubt)
        work.mask, work.mask_state, work.doubt = mask, mask_state, doubt
        work.mask_sha = file_sha256(mask_file)
        work.used_mask = self._snapshot_mask(mask_file, work.mask_sha)
        check(cancel)
        return None

    def render_stage(self, work: PhotoWork, progress: ProgressCallback = no_progress,
                     cancel: Optional[CancelToken] = None) -> None:
        """Backgrounds under the product, then QC (which may render again with new seeds)."""
        ctx, s = self.context, self.context.settings
        progress(Progress("photo", 2, 4, f"{self.name}: background ({ctx.engine_name})"))
        seeds = self.variant_seeds
        gs = ctx.generation_settings(work.prompt, work.negative, seeds)
        # A size preset frames the photo first, so the engine makes background for the padding too.
        # The photo-resolution mask stays what is stored and recorded: replay frames again from it.
        from packshot.core.generation.presets import frame_photo

        framed, framed_mask = frame_photo(work.photo, work.mask, s.output.preset)
        images = render_images(ctx.engine, framed, framed_mask, gs, ctx.shadow_kind, _sub(progress, self.name),
                               cancel, notes=work.notes)
        progress(Progress("photo", 3, 4, f"{self.name}: checking"))
        work.rendered = []
        for image, seed in zip(images, seeds):
            check(cancel)
            qc_record, seed_used, final = self._qc(framed, framed_mask, image, seed, work.prompt, work.negative,
                                                   cancel)
            work.rendered.append((final, seed_used, qc_record))

    def save_stage(self, work: PhotoWork, progress: ProgressCallback = no_progress,
                   cancel: Optional[CancelToken] = None) -> PhotoOutcome:
        """Each image written atomically with its recipe, then the photo recorded as done."""
        ctx, s = self.context, self.context.settings
        progress(Progress("photo", 3, 4, f"{self.name}: saving"))
        results: list[NewResult] = []
        models = ctx.model_info()
        self.check_writes(work.outputs)
        for i, ((final, seed_used, qc_record), out) in enumerate(zip(work.rendered, work.outputs)):
            check(cancel)
            single = ctx.generation_settings(work.prompt, work.negative, [seed_used])
            recipe = Recipe(input_path=self.source, input_sha256=work.sha, engine=ctx.engine_name,
                            seed=seed_used, variant=i + 1, prompt=work.prompt, negative_prompt=work.negative,
                            template=ctx.template.name, settings=single.to_dict(), models=models,
                            mask={"path": os.path.relpath(work.used_mask, out.parent), "source": work.mask.source,
                                  "state": work.mask_state, "sha256": work.mask_sha},
                            preset=s.output.preset, shadow={"kind": ctx.shadow_kind} if ctx.shadow_kind else None,
                            qc=qc_record, output_format=output_format_for(self.path, s.output.output_format),
                            job_key=ctx.job_key)
            self._save(out, final, work.photo, recipe)
            results.append(NewResult(variant=i + 1, seed=seed_used, engine=ctx.engine_name, output_path=out,
                                     recipe=json.loads(recipe.to_json()),
                                     expansion=qc_record.get("expansion") if qc_record else None,
                                     qc_flag=bool(qc_record.get("flagged")) if qc_record else False,
                                     qc=qc_record or {}, attempts=qc_record.get("attempts", 1) if qc_record else 1))
        photo_id = self._photo_id()
        if self.project is not None and photo_id is not None:
            self.project.complete_photo(photo_id, ctx.job_key, results, self.run_id)
        progress(Progress("photo", 4, 4, f"{self.name}: done"))
        flagged = sum(r.qc_flag for r in results)
        said = [f"{flagged} of {len(results)} flagged by QC"] if flagged else []
        said += [f"mask doubtful: {work.doubt}"] if work.doubt else []
        return PhotoOutcome(self.path, "done", work.outputs, "; ".join(said), notes=work.notes, results=results,
                            mask_doubt=work.doubt)

    def done_by_recipe(self) -> bool:
        """Done without a project store: every output exists and its recipe is this job's, on this photo.

        How a run on many machines (no shared database) resumes: the outputs themselves are the record.
        """
        if self.context.settings.output.redo or self.seeds is not None:
            return False
        try:
            sha = self.input_sha()
            for out in self.outputs():
                recipe = self.recipe_of(out)
                if recipe is None or recipe.job_key != self.context.job_key or recipe.input_sha256 != sha:
                    return False
        except (OSError, PackshotError):
            return False
        return True

    def input_sha(self) -> str:
        return file_sha256(self.path)

    def recipe_of(self, out: Path) -> Optional[Recipe]:
        """The recipe of an existing output, None when there is no output (raises for one without)."""
        from packshot.core.recipe import read_recipe

        return read_recipe(out) if out.is_file() else None

    def _mask(self, photo: Photo, sha: str, notes: list[str], cancel: Optional[CancelToken]
              ) -> tuple[Any, Path, str]:
        """The mask to use, by ``MaskJob``'s one rule (given, reviewed, reused or computed), saved into
        the project as the exact 8-bit PNG the job composites with."""
        from packshot.core.jobs.mask_job import MaskJob

        job = MaskJob([self.path], self.context, project=self.project, out_dir=self.out_dir,
                      stems={self.path: self.stem}, guard=self.guard, store=self._store_mask)
        outcome = job.mask_photo(self.path, photo=photo, sha=sha, notes=notes, cancel=cancel)
        return outcome.mask, outcome.mask_path, outcome.state

    def _store_mask(self, path: Path, mask: Any, state: str, origin: Optional[dict] = None
                    ) -> tuple[Any, Path, str]:
        """Where ``MaskJob`` writes this photo's project mask (packshot.core.cluster adds its upload here)."""
        from packshot.core.jobs.mask_job import store_mask

        store_mask(self.guard, self.project, self.path, path, mask, state, origin)
        return mask, path, state

    def _snapshot_mask(self, mask_file: Path, sha: str) -> Path:
        """A content-addressed copy of the mask for recipes: editing the photo's mask later (in the app)
        must not change what an existing output's recipe replays."""
        target = self.out_dir / ".packshot" / "masks" / "used" / f"{sha[:20]}.png"
        if not target.is_file():
            write_atomic(self.guard.check(target), Path(mask_file).read_bytes())
        return target

    def _qc(self, photo: Photo, mask: Any, image: np.ndarray, seed: int, prompt: str, negative: str,
            cancel: Optional[CancelToken]) -> tuple[Optional[dict], int, np.ndarray]:
        gate = self.context.gate
        if gate is None:
            return None, seed, image

        def generate(new_seed: int) -> np.ndarray:
            gs = self.context.generation_settings(prompt, negative, [new_seed])
            return render_images(self.context.engine, photo, mask, gs, self.context.shadow_kind, cancel=cancel)[0]

        result = gate.run(generate, mask.mask, seed, first_image=image, cancel=cancel)
        return result.record(), int(result.seed), result.image

    def _save(self, out: Path, pixels: np.ndarray, photo: Photo, recipe: Recipe) -> None:
        # Recipe inside the file (or a sidecar when it cannot be), the original's ICC and EXIF carried.
        save_output(out, pixels, recipe, icc_profile=photo.icc_profile, exif=photo.exif)


def _sub(progress: ProgressCallback, name: str) -> ProgressCallback:
    """Forward engine progress (steps, live previews) tagged with the photo's name."""
    def forward(p: Progress) -> None:
        progress(Progress(p.stage, p.done, p.total, f"{name}: {p.message}" if p.message else name, image=p.image))
    forward.preview_every = preview_every(progress)  # type: ignore[attr-defined]
    return forward

