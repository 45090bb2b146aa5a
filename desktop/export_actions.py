"""The app's export, in ONE function (``export_chosen``) so it can move onto core's ``ExportJob``.

Each photo's chosen result goes to the export folder with its recipe. When the size preset is the
one the result was made with, its pixels are written as they are; for another preset the recipe is
rendered again framed for that preset (``core.jobs.render_from_recipe`` frames before rendering,
exactly like the batch), never stretched or padded after the fact. So every exported file replays
to itself with ``packshot replay``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any, Optional

from core.errors import PackshotError
from core.progress import CancelToken, Progress, ProgressCallback, check, no_progress
from desktop.gui_jobs import keeper, photo_stem, project_store

log = logging.getLogger(__name__)


def export_presets() -> tuple[str, ...]:
    from core.generation.presets import PRESETS

    return tuple(PRESETS)


class ExportJob:
    """The queue job around ``export_chosen``."""

    def __init__(self, out_dir: Path, dest: Path, preset: str, output_format: str = "png", quality: int = 95,
                 photos: Optional[list[Path]] = None, models_dir: Optional[Path] = None,
                 device: str = "auto") -> None:
        self.out_dir, self.dest, self.preset = Path(out_dir), Path(dest), preset
        self.output_format, self.quality, self.photos = output_format, quality, photos
        self.models_dir, self.device = models_dir, device
        self.label = f"Export chosen · {preset} → {self.dest}"

    def run(self, progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None) -> list[Path]:
        return export_chosen(self.out_dir, self.dest, self.preset, progress, cancel,
                             output_format=self.output_format, quality=self.quality, photos=self.photos,
                             models_dir=self.models_dir, device=self.device)


def export_chosen(out_dir: Path, dest: Path, preset: str, progress: ProgressCallback = no_progress,
                  cancel: Optional[CancelToken] = None, *, output_format: str = "png", quality: int = 95,
                  photos: Optional[list[Path]] = None, models_dir: Optional[Path] = None,
                  device: str = "auto") -> list[Path]:
    """Write the keeper of each photo (of ``photos``, default all) to ``dest``; returns the files."""
    from core.generation.presets import get_preset
    from core.naming import output_suffix

    try:
        get_preset(preset)  # unknown preset: fail before writing anything
    except ValueError as exc:
        raise PackshotError(str(exc)) from exc
    suffix = output_suffix(output_format)
    store = project_store(out_dir)
    dest = Path(dest)
    if dest.resolve() == Path(out_dir).resolve() or dest.resolve() in {r.path.parent for r in store.photos()}:
        raise PackshotError(f"Export into {dest} would mix exports with originals or project files; "
                            "choose another folder.")
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {Path(p).resolve() for p in photos} if photos is not None else None
    records = [r for r in store.photos() if wanted is None or r.path.resolve() in wanted]
    chosen = [(rec, best) for rec in records if (best := keeper(store.results(rec.id), rec.job_key))]
    from core.models.store import ModelStore

    models = ModelStore(models_dir)  # only another size preset re-renders, and only then loads models
    written = []
    for i, (record, result) in enumerate(chosen):
        check(cancel)
        progress(Progress("export", i, len(chosen), record.name))
        stem = photo_stem(store, record.path)
        name = f"{stem}{suffix}" if preset == "original" else f"{stem}_{preset}{suffix}"
        written.append(_export_one(result, dest / name, preset, output_format, quality, models, device))
    progress(Progress("export", len(chosen), len(chosen), f"{len(written)} exported"))
    log.info("Exported %d results to %s (%s)", len(written), dest, preset)
    return written


def _export_one(result: Any, target: Path, preset: str, output_format: str, quality: int, store: Any,
                device: str) -> Path:
    import numpy as np

    from core.images import load_photo, save_image
    from core.jobs import render_from_recipe
    from core.recipe import Recipe, embeds_in_file, sidecar_path, text_chunks, write_sidecar

    recipe = Recipe.from_dict(result.recipe)
    output = Path(result.output_path)
    mask_file = recipe.mask_file(output)  # the mask snapshot this result was made with
    if mask_file is None or not mask_file.is_file():
        raise PackshotError(f"{output.name}: the mask it was made with ({mask_file}) is gone; "
                            "regenerate this photo before exporting it.")
    made = load_photo(output)
    if recipe.preset == preset:
        pixels = made.pixels
    else:  # another size: render the recipe again, framed for that size like the batch does
        pixels = render_from_recipe(dataclasses.replace(recipe, preset=preset), output, store=store, device=device)
    exported = dataclasses.replace(recipe, preset=preset, output_format=output_format,
                                   mask={**recipe.mask, "path": os.path.relpath(mask_file, target.parent)})
    embedded = embeds_in_file(target) and pixels.dtype == np.uint8
    if not embedded:
        write_sidecar(target, exported)
    save_image(target, pixels, icc_profile=made.icc_profile, text=text_chunks(exported) if embedded else None,
               quality=quality)
    if embedded:
        sidecar_path(target).unlink(missing_ok=True)
    return target
