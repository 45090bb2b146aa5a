"""A small picture of the chosen shadow on one photo: what the app's Background step shows.

The same pieces as a render (``frame_photo`` for the size preset, ``make_shadow`` with the photo and
its mask, ``composite``), on a downscaled copy, over the flat background the settings ask for (white,
the chosen colour, the gradient) or a light grey stand-in for engines that need a model.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from packshot.core.jobs.settings import JobSettings

PREVIEW_SIDE = 320
STAND_IN_BACKDROP = (236, 236, 236)  # for engines whose background needs a model


def preview_shadow(photo: Path | str, mask_path: Path | str, settings: JobSettings,
                   side: int = PREVIEW_SIDE) -> np.ndarray:
    """H x W x 3 uint8 (longest side ``side`` at most): ``photo``'s product over the settings' flat
    background with their shadow (none, drop, contact or the photo's own), framed by their size preset.

    Raises ``ImageReadError`` for an unreadable photo or mask."""
    from packshot.core.generation.composite import composite
    from packshot.core.generation.presets import frame_photo
    from packshot.core.images import load_photo
    from packshot.core.jobs.masks import load_mask_file
    from packshot.core.jobs.render import make_shadow

    full = load_photo(Path(photo))
    mask = load_mask_file(Path(mask_path), full.size)
    small, small_mask = _downscaled(full, mask, side)
    framed, framed_mask = frame_photo(small, small_mask, settings.output.preset)
    framed, framed_mask = _downscaled(framed, framed_mask, side)  # a preset's canvas may be large
    height, width = framed.pixels.shape[:2]
    shade = make_shadow(str(settings.shadow), framed, framed_mask)
    out = composite(framed, framed_mask.alpha, _backdrop(settings, height, width), shade)
    return (out >> 8).astype(np.uint8) if out.dtype == np.uint16 else out


def _downscaled(photo: Any, mask: Any, side: int) -> tuple[Any, Any]:
    """(photo, mask) with the longest side at most ``side``, as uint8 pixels."""
    import cv2

    height, width = photo.pixels.shape[:2]
    scale = min(1.0, side / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    rgb = cv2.resize(photo.rgb8, size, interpolation=cv2.INTER_AREA)
    known = None if photo.alpha is None else cv2.resize(photo.alpha.astype(np.float32), size,
                                                         interpolation=cv2.INTER_AREA)
    alpha = np.clip(cv2.resize(np.asarray(mask.alpha, np.float32), size, interpolation=cv2.INTER_AREA), 0.0, 1.0)
    return (replace(photo, pixels=np.ascontiguousarray(rgb), alpha=known),
            replace(mask, mask=alpha >= 0.5, alpha=alpha))


def _backdrop(settings: JobSettings, height: int, width: int) -> np.ndarray:
    from packshot.core.generation.engines.plain import ColorEngine, GradientEngine, WhiteEngine

    flat = {"white": WhiteEngine, "color": ColorEngine, "gradient": GradientEngine}.get(str(settings.engine))
    if flat is not None:
        return flat().background(height, width, settings.generation)
    out = np.empty((height, width, 3), np.uint8)
    out[:] = STAND_IN_BACKDROP
    return out
