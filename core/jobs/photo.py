"""One photo's job: read -> mask -> render -> QC -> save -> record."""

from __future__ import annotations

import json
import logging
import os
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from core.errors import Cancelled, PackshotError
from core.images import Photo, load_photo, save_image, write_atomic
from core.jobs.context import JobContext
from core.jobs.masks import load_mask_file, quantize_mask, save_mask_atomic
from core.jobs.render import render_images
from core.jobs.settings import PhotoOutcome, PhotoPlan, file_sha256
from core.naming import output_path
from core.progress import CancelToken, Progress, ProgressCallback, check, no_progress
from core.project import NewResult, ProjectStore
from core.recipe import Recipe, embeds_in_file, sidecar_path, text_chunks, write_sidecar
from core.templates import photo_variables

log = logging.getLogger(__name__)


class PhotoJob:
    """One photo's job. Usable alone (the GUI queue) or from ``BatchJob``."""

    def __init__(self, photo_path: Path, out_dir: Path, context: JobContext, *,
                 project: Optional[ProjectStore] = None, stem: Optional[str] = None,
                 run_id: Optional[int] = None, seeds: Optional[Sequence[int]] = None) -> None:
        self.path = Path(photo_path).resolve()
        self.out_dir = Path(out_dir).resolve()
        self.context = context
        self.project = project
        self.stem = stem or self.path.stem
        self.run_id = run_id
        self.seeds = list(seeds) if seeds is not None else None  # GUI: "regenerate with a new seed"
        self.photo_id: Optional[int] = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def variant_seeds(self) -> list[int]:
        s = self.context.settings
        return self.seeds if self.seeds is not None else [s.seed + i for i in range(s.variants)]

    def prompt(self) -> tuple[str, str]:
        return self.context.template.fill(photo_variables(self.path, self.context.variables))

    def outputs(self) -> list[Path]:
        s = self.context.settings
        seeds = self.variant_seeds
        fields = {"stem": self.stem, "name": photo_variables(self.path)["name"], "engine": self.context.engine_name,
                  "template": self.context.template.name, "ext": self.path.suffix.lstrip(".").lower()}
        return [output_path(self.out_dir, s.name_template, {**fields, "variant": i + 1, "seed": seed},
                            self.context.suffix, variants=len(seeds))
                for i, seed in enumerate(seeds)]

    def _photo_id(self) -> Optional[int]:
        if self.project is None:
            return None
        if self.photo_id is None:
            record = self.project.photo(self.path)
            self.photo_id = record.id if record else self.project.add_photo(self.path)
        return self.photo_id

    def is_done(self) -> bool:
        if self.project is None or self.context.settings.redo or self.seeds is not None:
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
        try:
            check(cancel)
            if self.is_done():
                return PhotoOutcome(self.path, "skipped", self.outputs(), "already done", seconds=0.0)
            outcome = self._run(progress, cancel)
        except Cancelled:
            raise
        except PackshotError as exc:
            outcome = self._failed(type(exc).__name__, str(exc))
        except MemoryError:
            outcome = self._failed("MemoryError", f"{self.name}: not enough memory to process this photo.")
        except Exception as exc:  # one bad photo never stops a batch; keep the trace for the log
            log.debug("Unexpected error on %s:\n%s", self.path, traceback.format_exc())
            outcome = self._failed(type(exc).__name__, f"{self.name}: unexpected {type(exc).__name__}: {exc}")
        outcome.seconds = time.perf_counter() - start
        return outcome

    def _failed(self, kind: str, message: str) -> PhotoOutcome:
        if not message.startswith(self.name):
            message = f"{self.name}: {message}"
        if self.project is not None:
            try:
                self.project.fail_photo(self._photo_id(), kind, message, self.run_id)
            except PackshotError as exc:  # the store itself may be on the full disk
                message += f" (also: {exc})"
        return PhotoOutcome(self.path, "failed", message=message, error_kind=kind)

    def _run(self, progress: ProgressCallback, cancel: Optional[CancelToken]) -> PhotoOutcome:
        ctx, s = self.context, self.context.settings
        notes: list[str] = []
        progress(Progress("photo", 0, 4, f"{self.name}: reading"))
        photo = load_photo(self.path)
        sha = file_sha256(self.path)
        photo_id = self._photo_id()
        if self.project is not None and photo_id is not None:
            self.project.set_photo_info(photo_id, sha256=sha, width=photo.size[0], height=photo.size[1])
        prompt, negative = self.prompt()
        outputs = self.outputs()
        check(cancel)

        progress(Progress("photo", 1, 4, f"{self.name}: mask"))
        mask, mask_file, mask_state = self._mask(photo, sha, notes, cancel)
        mask_sha = file_sha256(mask_file)
        used_mask = self._snapshot_mask(mask_file, mask_sha)
        check(cancel)

        progress(Progress("photo", 2, 4, f"{self.name}: background ({ctx.engine_name})"))
        seeds = self.variant_seeds
        gs = ctx.generation_settings(prompt, negative, seeds)
        # A size preset frames the photo first, so the engine makes background for the padding too.
        # The photo-resolution mask stays what is stored and recorded: replay frames again from it.
        from core.generation.presets import frame_photo

        framed, framed_mask = frame_photo(photo, mask, s.preset)
        images = render_images(ctx.engine, framed, framed_mask, gs, s.shadow, _sub(progress, self.name), cancel,
                               notes=notes)

        progress(Progress("photo", 3, 4, f"{self.name}: checking and saving"))
        results: list[NewResult] = []
        models = ctx.model_info()
        for i, (image, seed, out) in enumerate(zip(images, seeds, outputs)):
            check(cancel)
            qc_record, seed_used, final = self._qc(framed, framed_mask, image, seed, prompt, negative, cancel)
            single = ctx.generation_settings(prompt, negative, [seed_used])
            recipe = Recipe(input_path=str(self.path), input_sha256=sha, engine=ctx.engine_name, seed=seed_used,
                            variant=i + 1, prompt=prompt, negative_prompt=negative, template=ctx.template.name,
                            settings=single.to_dict(), models=models,
                            mask={"path": os.path.relpath(used_mask, out.parent), "source": mask.source,
                                  "state": mask_state, "sha256": mask_sha},
                            preset=s.preset, shadow={"kind": s.shadow} if s.shadow else None, qc=qc_record,
                            output_format=s.output_format)
            self._save(out, final, photo, recipe)
            results.append(NewResult(variant=i + 1, seed=seed_used, engine=ctx.engine_name, output_path=out,
                                     recipe=json.loads(recipe.to_json()),
                                     expansion=qc_record.get("expansion") if qc_record else None,
                                     qc_flag=bool(qc_record.get("flagged")) if qc_record else False,
                                     qc=qc_record or {}, attempts=qc_record.get("attempts", 1) if qc_record else 1))
        if self.project is not None and photo_id is not None:
            self.project.complete_photo(photo_id, ctx.job_key, results, self.run_id)
        progress(Progress("photo", 4, 4, f"{self.name}: done"))
        flagged = sum(r.qc_flag for r in results)
        message = f"{flagged} of {len(results)} flagged by QC" if flagged else ""
        return PhotoOutcome(self.path, "done", outputs, message, notes=notes, results=results)

    def _mask(self, photo: Photo, sha: str, notes: list[str], cancel: Optional[CancelToken]
              ) -> tuple[Any, Path, str]:
        """The mask to use, saved into the project as the exact 8-bit PNG the job composites with."""
        s = self.context.settings
        origin = {"models": self.context.auto_mask_models(), "photo_sha256": sha}
        project_mask = (self.project.masks_dir if self.project else self.out_dir / ".packshot" / "masks") / \
            f"{self.stem}.png"
        if s.masks_dir:
            given = Path(s.masks_dir) / f"{self.path.stem}.png"  # IOPaint's convention: same stem, .png
            if given.is_file():
                mask = load_mask_file(given, photo.size, source="file")
                return self._store_mask(project_mask, mask, "reviewed")
            notes.append(f"no mask {given.name} in {s.masks_dir}; computed one automatically")
        elif self.project is not None and self._photo_id() is not None:
            record = self.project.photo(self._photo_id())
            if record and record.mask_state in ("reviewed", "edited") and record.mask_path \
                    and record.mask_path.is_file():
                mask = load_mask_file(record.mask_path, photo.size, source=record.mask_source or "file")
                return mask, record.mask_path, record.mask_state
            if record and record.mask_state == "auto" and record.mask_origin == origin and record.mask_path \
                    and record.mask_path.is_file():
                # Same photo, same mask models: only generation settings changed, so SAM need not run again.
                mask = load_mask_file(record.mask_path, photo.size, source=record.mask_source or "file")
                mask.score = record.mask_score if record.mask_score is not None else mask.score
                log.debug("%s: reusing its automatic mask %s", self.name, record.mask_path)
                return mask, record.mask_path, "auto"
        result = self.context.masker.compute(photo, cancel=cancel)
        if not result.mask.any():
            raise PackshotError(f"{self.name}: no product found in the photo (empty mask); "
                                "supply a mask with --masks or review it in the app.")
        return self._store_mask(project_mask, quantize_mask(result), "auto", origin)

    def _snapshot_mask(self, mask_file: Path, sha: str) -> Path:
        """A content-addressed copy of the mask for recipes: editing the photo's mask later (in the app)
        must not change what an existing output's recipe replays."""
        target = self.out_dir / ".packshot" / "masks" / "used" / f"{sha[:20]}.png"
        if not target.is_file():
            write_atomic(target, Path(mask_file).read_bytes())
        return target

    def _store_mask(self, path: Path, mask: Any, state: str, origin: Optional[dict] = None
                    ) -> tuple[Any, Path, str]:
        save_mask_atomic(path, mask.alpha)
        if self.project is not None and self._photo_id() is not None:
            self.project.set_mask(self._photo_id(), state, path, source=mask.source, score=mask.score,
                                  origin=origin)
        return mask, path, state

    def _qc(self, photo: Photo, mask: Any, image: np.ndarray, seed: int, prompt: str, negative: str,
            cancel: Optional[CancelToken]) -> tuple[Optional[dict], int, np.ndarray]:
        gate = self.context.gate
        if gate is None:
            return None, seed, image

        def generate(new_seed: int) -> np.ndarray:
            gs = self.context.generation_settings(prompt, negative, [new_seed])
            return render_images(self.context.engine, photo, mask, gs, self.context.settings.shadow,
                                 cancel=cancel)[0]

        result = gate.run(generate, mask.mask, seed, first_image=image, cancel=cancel)
        return result.record(), int(result.seed), result.image

    def _save(self, out: Path, pixels: np.ndarray, photo: Photo, recipe: Recipe) -> None:
        # 16-bit images go through OpenCV, which writes no text chunks: their recipe goes beside them.
        embedded = embeds_in_file(out) and pixels.dtype == np.uint8
        if not embedded:
            write_sidecar(out, recipe)
        save_image(out, pixels, icc_profile=photo.icc_profile, text=text_chunks(recipe) if embedded else None)
        if embedded:
            sidecar_path(out).unlink(missing_ok=True)  # an old sidecar from a 16-bit run would be stale


def _sub(progress: ProgressCallback, name: str) -> ProgressCallback:
    """Forward engine progress (steps) tagged with the photo's name."""
    def forward(p: Progress) -> None:
        progress(Progress(p.stage, p.done, p.total, f"{name}: {p.message}" if p.message else name))
    return forward

