"""The user's own background picture, scaled to cover the photo and centre-cropped."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from packshot.core.generation.engines.base import BackgroundEngine
from packshot.core.generation.settings import GenerationSettings
from packshot.core.progress import CancelToken, Progress, ProgressCallback, check


def cover_fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale ``image`` to cover ``width`` x ``height`` (no bands), then crop the centre."""
    import cv2

    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    new_w, new_h = max(width, round(w * scale)), max(height, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    left, top = (new_w - width) // 2, (new_h - height) // 2
    return np.ascontiguousarray(resized[top:top + height, left:left + width])


class ImageEngine(BackgroundEngine):
    name = "image"

    def render(self, photo: Any, mask: Any, settings: GenerationSettings,
               progress: Optional[ProgressCallback] = None,
               cancel: Optional[CancelToken] = None) -> list[np.ndarray]:
        from packshot.core.images import load_photo

        settings.validate()
        check(cancel)
        if not settings.background_image:
            raise ValueError("The 'image' engine needs a background image (settings.background_image).")
        height, width = photo.pixels.shape[:2]
        background = load_photo(settings.background_image).rgb8  # ImageReadError says why if unusable
        image = cover_fit(background, width, height)
        if progress:
            progress(Progress("generate", 1, 1, self.name))
        return [image] + [image.copy() for _ in range(settings.variants - 1)]
