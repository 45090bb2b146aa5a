"""The queue jobs of the desktop app (no Qt): they wrap ``core.jobs.PhotoJob`` like the CLI does.

``GenerateJob.run`` executes on the queue's worker thread, so the ``JobContext`` (masker, engine,
QC gate: the models) is built and cached there, once per distinct settings, and reused for every
photo of a "run on all". The GUI thread only builds these small descriptions.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Optional

from core.errors import Cancelled, PackshotError
from core.progress import CancelToken, Progress, ProgressCallback, check, no_progress
from desktop.settings import AppSettings

log = logging.getLogger(__name__)

_CONTEXTS: dict[str, Any] = {}  # settings fingerprint -> core.jobs.JobContext (worker thread only)
_CONTEXT_LIMIT = 4
_STORES: dict[str, Any] = {}  # out_dir -> ProjectStore (its connections are per thread)


def export_presets() -> tuple[str, ...]:
    from core.generation.presets import PRESETS

    return tuple(PRESETS)


def project_store(out_dir: Path) -> Any:
    from core.project import ProjectStore

    key = str(Path(out_dir).resolve())
    if key not in _STORES:
        _STORES[key] = ProjectStore(key)
    return _STORES[key]


def photo_stem(store: Any, photo: Path) -> str:
    """The stem the batch job would use (``unique_stems`` over the project's photos)."""
    from core.naming import unique_stems

    photos = [r.path for r in store.photos()]
    return unique_stems(photos).get(Path(photo).resolve(), Path(photo).stem)


def job_context(job_settings: Any, store_models_dir: Optional[str]) -> Any:
    """A cached ``JobContext`` for these settings (models load once per process)."""
    from core.jobs import JobContext
    from core.models.store import ModelStore

    key = json.dumps(job_settings.to_dict(), sort_keys=True, default=str)
    ctx = _CONTEXTS.get(key)
    if ctx is None:
        if len(_CONTEXTS) >= _CONTEXT_LIMIT:
            _CONTEXTS.pop(next(iter(_CONTEXTS)))
        ctx = JobContext(job_settings, model_store=ModelStore(store_models_dir or None))
        _CONTEXTS[key] = ctx
    return ctx


def keeper(results: list, current_key: Optional[str]) -> Optional[Any]:
    """The one result that counts as chosen: the store marks one keeper per settings (job key), so
    after "regenerate" two may be marked; the one of the photo's latest settings wins, else the
    newest marked one."""
    chosen = [r for r in results if r.chosen]
    if not chosen:
        return None
    current = [r for r in chosen if r.job_key == current_key]
    return (current or sorted(chosen, key=lambda r: r.id))[-1]


class GenerateJob:
    """Generate one photo's variants with the panel's template and settings (the queue runs it)."""

    def __init__(self, out_dir: Path, photo: Path, engine: str, gen_settings: Any, app: AppSettings, *,
                 template_prompt: str, template_negative: str, template_name: str,
                 variables: dict[str, str], seeds: Optional[list[int]] = None, qc_retries: int = 0,
                 model: Optional[str] = None) -> None:
        self.out_dir = Path(out_dir)
        self.photo = Path(photo)
        self.engine = engine
        self.gen = gen_settings
        self.seeds = seeds
        self.variables = dict(variables)
        self.template_name = template_name
        from core.jobs import (
            JobSettings,
            MachineSettings,
            MaskSettings,
            OutputSettings,
            PromptSettings,
            QualitySettings,
        )

        self.job_settings = JobSettings(
            engine=engine, model=model, generation=gen_settings,
            prompt=PromptSettings(prompt=template_prompt, negative=template_negative),
            masks=MaskSettings(masker=app.masker),
            qc=QualitySettings(qc_threshold=app.qc_threshold, qc_retries=qc_retries),
            output=OutputSettings(redo=True),  # the user asked for this photo explicitly: always generate
            machine=MachineSettings(device=app.device, models_dir=app.models_dir or None),
        )
        self.label = f"{self.photo.name} · {engine} · {gen_settings.variants} variant(s)" + \
            (f" · seed {seeds[0]}" if seeds else "")

    def run(self, progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None) -> Any:
        from core.jobs import PhotoJob

        progress(Progress("loading models", 0, 0, self.photo.name))
        ctx = job_context(self.job_settings, self.job_settings.machine.models_dir)
        ctx.variables[self.photo.name] = self.variables  # this photo's values, CSV and panel merged
        store = project_store(self.out_dir)
        job = PhotoJob(self.photo, self.out_dir, ctx, project=store, stem=photo_stem(store, self.photo),
                       seeds=self.seeds or self.gen.variant_seeds())
        outcome = job.run(_saved_means_done(progress), cancel)
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

    return report


_MASKERS: dict[tuple, Any] = {}  # (kind, models dir, device) -> masker
_MASKERS_LOCK = threading.Lock()


def shared_masker(kind: str, models_dir: Optional[str], device: str) -> Any:
    """One masker (one SAM in memory, one embedding cache) for mask review and automatic masks.

    Built on first use by whichever worker thread asks first; SAM maskers are safe to share (the
    embedding cache is thread-safe and encodes each photo once)."""
    key = (kind, models_dir or None, device)
    with _MASKERS_LOCK:
        if key not in _MASKERS:
            from core.masking import build_masker
            from core.models.store import ModelStore

            _MASKERS[key] = build_masker(kind, ModelStore(models_dir or None), device=device)
        return _MASKERS[key]


def save_mask(store: Any, path: Path, result: Any, state: str) -> Path:
    """Write ``result`` as the project's 8-bit mask PNG for ``path`` and record it in the store."""
    from core.jobs import quantize_mask, save_mask_atomic

    record = store.photo(path)
    photo_id = record.id if record else store.add_photo(path)
    target = store.masks_dir / f"{photo_stem(store, path)}.png"
    save_mask_atomic(target, quantize_mask(result).alpha)
    store.set_mask(photo_id, state, target, source=result.source, score=result.score)
    return target


class AutoMaskJob:
    """Compute the automatic mask (and its score) of every photo that has none, so the review queue
    can put the doubtful ones first."""

    def __init__(self, out_dir: Path, app: AppSettings) -> None:
        self.out_dir = Path(out_dir)
        self.key = (app.masker, app.models_dir or None, app.device)
        self.label = f"Automatic masks ({app.masker})"

    def run(self, progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None) -> int:
        from core.errors import ImageReadError
        from core.images import load_photo

        store = project_store(self.out_dir)
        todo = [r for r in store.photos() if r.mask_path is None or not r.mask_path.is_file()]
        masker = shared_masker(*self.key)
        done = 0
        for i, record in enumerate(todo):
            check(cancel)
            progress(Progress("masks", i, len(todo), record.name))
            try:
                photo = load_photo(record.path)
            except ImageReadError as exc:
                store.fail_photo(record.id, "ImageReadError", str(exc))
                continue
            save_mask(store, record.path, masker.compute(photo, cancel=cancel), "auto")
            done += 1
        progress(Progress("masks", len(todo), len(todo), f"{done} masks"))
        return done


class ExportJob:
    """Write each photo's chosen result to ``dest`` with a size preset, recipe included."""

    def __init__(self, out_dir: Path, dest: Path, preset: str) -> None:
        self.out_dir, self.dest, self.preset = Path(out_dir), Path(dest), preset
        self.label = f"Export chosen · {preset} → {self.dest}"

    def run(self, progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None) -> list[Path]:
        return export_chosen(self.out_dir, self.dest, self.preset, progress, cancel)


def export_chosen(out_dir: Path, dest: Path, preset: str, progress: ProgressCallback = no_progress,
                  cancel: Optional[CancelToken] = None) -> list[Path]:
    from core.generation.presets import apply_preset, get_preset
    from core.images import load_photo, save_image
    from core.jobs import load_mask_file
    from core.recipe import Recipe, text_chunks

    get_preset(preset)  # unknown preset: fail before writing anything
    store = project_store(out_dir)
    dest = Path(dest)
    if dest.resolve() == Path(out_dir).resolve() or dest.resolve() in {r.path.parent for r in store.photos()}:
        raise PackshotError(f"Export into {dest} would mix exports with originals or project files; "
                            "choose another folder.")
    dest.mkdir(parents=True, exist_ok=True)
    stems = {r.id: photo_stem(store, r.path) for r in store.photos()}
    chosen = [best for rec in store.photos() if (best := keeper(store.results(rec.id), rec.job_key))]
    written = []
    for i, result in enumerate(chosen):
        check(cancel)
        record = store.photo(result.photo_id)
        progress(Progress("export", i, len(chosen), record.name))
        image = load_photo(result.output_path)
        mask_path = record.mask_path
        if mask_path is None or not mask_path.is_file():
            raise PackshotError(f"{record.name}: its mask file is gone; open it in mask review and accept it.")
        mask = load_mask_file(mask_path, image.size)
        pixels = apply_preset(image.pixels, mask.mask, preset)
        name = f"{stems[record.id]}.png" if preset == "original" else f"{stems[record.id]}_{preset}.png"
        target = dest / name
        recipe = Recipe.from_dict(result.recipe)
        recipe.preset = preset
        recipe.mask = {**recipe.mask, "path": os.path.relpath(mask_path, dest)}
        text = text_chunks(recipe) if pixels.dtype.itemsize == 1 else None
        save_image(target, pixels, icc_profile=image.icc_profile, text=text)
        written.append(target)
    progress(Progress("export", len(chosen), len(chosen), f"{len(written)} exported"))
    log.info("Exported %d results to %s (%s)", len(written), dest, preset)
    return written


