"""Backgrounds that need no model: pure white, a solid colour, a vertical gradient."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from packshot.core.generation.engines.base import BackgroundEngine
from packshot.core.generation.settings import GenerationSettings
from packshot.core.progress import CancelToken, Progress, ProgressCallback, check


def _rgb(value: Any, what: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.int64).reshape(-1)
    if arr.shape != (3,) or arr.min() < 0 or arr.max() > 255:
        raise ValueError(f"{what} must be three integers in 0..255 (got {value!r}).")
    return arr.astype(np.uint8)


class _FlatEngine(BackgroundEngine):
    def background(self, height: int, width: int, settings: GenerationSettings) -> np.ndarray:
        raise NotImplementedError

    def render(self, photo: Any, mask: Any, settings: GenerationSettings,
               progress: Optional[ProgressCallback] = None,
               cancel: Optional[CancelToken] = None) -> list[np.ndarray]:
        settings.validate()
        check(cancel)
        height, width = photo.pixels.shape[:2]
        image = self.background(height, width, settings)
        if progress:
            progress(Progress("generate", 1, 1, self.name))
        # Variants of a deterministic background are identical; each gets its own array.
        return [image] + [image.copy() for _ in range(settings.variants - 1)]


class WhiteEngine(_FlatEngine):
    """(255, 255, 255) exactly, as marketplaces require."""

    name = "white"

    def background(self, height: int, width: int, settings: GenerationSettings) -> np.ndarray:
        return np.full((height, width, 3), 255, dtype=np.uint8)


class ColorEngine(_FlatEngine):
    name = "color"

    def background(self, height: int, width: int, settings: GenerationSettings) -> np.ndarray:
        out = np.empty((height, width, 3), dtype=np.uint8)
        out[:] = _rgb(settings.color, "color")
        return out


class GradientEngine(_FlatEngine):
    """Top colour to bottom colour, the studio sweep look."""

    name = "gradient"

    def background(self, height: int, width: int, settings: GenerationSettings) -> np.ndarray:
        top, bottom = (_rgb(c, "gradient colour").astype(np.float32) for c in settings.gradient)
        t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
        column = np.rint(top[None, :] * (1 - t) + bottom[None, :] * t).astype(np.uint8)
        return np.ascontiguousarray(np.broadcast_to(column[:, None, :], (height, width, 3)))
