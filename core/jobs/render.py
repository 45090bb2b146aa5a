"""Rendering one image: shared by ``PhotoJob`` and recipe replay so both do exactly the same."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from packshot.core.errors import ImageReadError, PackshotError, SettingError
from packshot.core.generation.settings import GenerationSettings
from packshot.core.images import Photo, load_photo, to_bit_depth
from packshot.core.jobs.masks import load_mask_file
from packshot.core.jobs.settings import ENGINES, Shadow, file_sha256
from packshot.core.progress import CancelToken, ProgressCallback, check, no_progress
from packshot.core.recipe import Recipe, field_error
from packshot.core.settings_bounds import shown

if TYPE_CHECKING:
    from packshot.core.jobs.replay import ReadScope
    from packshot.core.runtime import Runtime

RECIPE_ENGINES = tuple(e for e in ENGINES if e != "auto")  # a recipe records the engine that ran

log = logging.getLogger(__name__)


def make_shadow(shadow: Optional[str], photo: Optional[Photo] = None, mask: Any = None,
                notes: Optional[list[str]] = None) -> Any:
    """The shadow a job's ``shadow`` setting asks for: None, a synthetic Shadow, or the photo's own.

    "keep" needs the (framed) photo and its mask; when the photo has no studio backdrop or no
    shadow, a synthetic drop shadow is used and the reason is appended to ``notes``.
    """
    if not shadow or shadow == "none":
        return None
    from packshot.core.generation.shadow import Shadow, keep_shadow

    if shadow != "keep":
        return Shadow(kind=shadow)
    if photo is None or mask is None:
        raise ValueError("--shadow keep needs the photo and its mask")
    shade, note = keep_shadow(photo, mask)
    if note:
        log.info("%s", note)
        if notes is not None:
            notes.append(note)
    return shade


def render_images(engine: Any, photo: Photo, mask: Any, gen_settings: Any, shadow: Optional[str] = None,
                  progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None,
                  notes: Optional[list[str]] = None) -> list[np.ndarray]:
    """Backgrounds from the engine, composited under the untouched product (photo resolution).

    ``notes`` collects what the photo's outcome should say (a kept shadow that fell back).
    """
    from packshot.core.generation.composite import composite

    backgrounds = engine.render(photo, mask, gen_settings, progress, cancel)
    check(cancel)
    shade = make_shadow(shadow, photo, mask, notes)
    return [composite(photo, mask.alpha, bg, shade) for bg in backgrounds]


def check_recipe(recipe: Recipe, quality: Optional[str] = None) -> GenerationSettings:
    """The recipe's values checked as strictly as the command line's, before any file is read: a known
    engine, preset and shadow, and generation settings inside their declared bounds (``RecipeError``
    naming the field). Returns the settings that render its one image (``quality``: another quality)."""
    from packshot.core.generation.presets import PRESETS

    if recipe.engine not in RECIPE_ENGINES:
        raise field_error("engine", f"unknown value {shown(recipe.engine)} (one of {', '.join(RECIPE_ENGINES)})")
    if recipe.preset not in PRESETS:
        raise field_error("preset", f"unknown value {shown(recipe.preset)} (one of {', '.join(PRESETS)})")
    kind = (recipe.shadow or {}).get("kind")
    if kind is not None and kind not in Shadow.values():
        raise field_error("shadow", f"unknown kind {shown(kind)} (one of {', '.join(Shadow.values())})")
    known = {k: v for k, v in recipe.settings.items() if k in GenerationSettings.__dataclass_fields__}
    ignored = sorted(set(recipe.settings) - set(known))
    if ignored:
        log.info("recipe: ignoring unknown settings %s", ", ".join(shown(k) for k in ignored[:10]))
    # One image: its own seed, whatever the recorded variant count said.
    known.update(seed=recipe.seed, variants=1, seeds=(recipe.seed,))
    if quality is not None:
        known["quality"] = quality
    try:
        return GenerationSettings(**known)
    except SettingError as exc:
        raise field_error(f"settings.{getattr(exc, 'field', exc.name)}", exc.problem) from None


def render_from_recipe(recipe: Recipe, output_path: Path, *, runtime: Runtime, device: str = "auto",
                       check_input: bool = True, progress: ProgressCallback = no_progress,
                       cancel: Optional[CancelToken] = None, quality: Optional[str] = None,
                       scope: Optional[ReadScope] = None) -> np.ndarray:
    """The pixels ``recipe`` makes, framed before rendering exactly like the batch (``PhotoJob``), at the
    recipe's bit depth when it records one (exports do). ``output_path`` locates the recipe's mask.

    ``quality``: render at another quality than recorded (a preview's recipe as ``final``): same seed,
    same models, same everything else. Models come from ``runtime``. ``scope``:
    the folders the recipe's paths must lie in (``packshot.core.jobs.replay.read_scope``; None: the caller
    trusts the recipe, as an export of the project's own outputs does). Every value is checked
    (``check_recipe``) before any file is read."""
    gs = check_recipe(recipe, quality)
    source = Path(recipe.input_path)
    mask_file = recipe.mask_file(output_path)
    if scope is not None:
        source = scope.check("input_path", source)
        mask_file = scope.check("mask.path", recipe.mask["path"]) if mask_file is not None else None
        if gs.background_image:
            gs.background_image = str(scope.check("settings.background_image", Path(gs.background_image)))
        if gs.reference:  # flux2-klein's style reference: read only where the recipe may read
            gs.reference = str(scope.check("settings.reference", Path(gs.reference)))
    if not source.is_file():
        raise ImageReadError(f"The original {source} is gone; cannot replay.")
    if check_input and file_sha256(source) != recipe.input_sha256:
        raise PackshotError(f"{source.name} changed since {Path(output_path).name} was made (sha256 differs).")
    photo = load_photo(source)
    if mask_file is None or not mask_file.is_file():
        raise ImageReadError(f"The mask used for {Path(output_path).name} ({mask_file}) is gone; cannot replay.")
    if check_input and recipe.mask.get("sha256") and file_sha256(mask_file) != recipe.mask["sha256"]:
        raise PackshotError(f"The mask {mask_file.name} was edited after {Path(output_path).name} was made; "
                            "replaying would not give the same image.")
    mask = load_mask_file(mask_file, photo.size, source=recipe.mask.get("source", "file"))
    from packshot.core.generation import upscale

    # The upscaler the output was made with, byte for byte, or none when it was made without one.
    gs = upscale.replay_settings(gs, recipe.settings, recipe.models)
    upscale.check_replay_weights(runtime.store, recipe.models, Path(output_path).name)
    from packshot.core.devices import pick_device  # the recorded pass, not "auto" chosen again on this device

    upscale.check_replay_device(gs, recipe.models, pick_device(device).type, Path(output_path).name)
    # si2-controlnet records the one model it used: the paper's or the user's fine-tuned one; sd2-controlnet
    # the user's trained one.
    model = next(iter(upscale.engine_models(recipe.models)), None) if recipe.engine in ("si2-controlnet", "sd2-controlnet", "flux2-klein") \
        else None
    from packshot.core.generation.engines import engine_for

    engine = engine_for(runtime, recipe.engine, device, model=model)
    shadow = recipe.shadow.get("kind") if recipe.shadow else None
    from packshot.core.generation.presets import frame_photo

    photo, mask = frame_photo(photo, mask, recipe.preset)
    return to_bit_depth(render_images(engine, photo, mask, gs, shadow, progress, cancel)[0], recipe.bit_depth)

