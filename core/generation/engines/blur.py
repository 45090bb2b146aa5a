"""The photo's own background, blurred, with the product removed first so it leaves no halo."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from core.generation.engines.base import BackgroundEngine, object_mask
from core.generation.settings import GenerationSettings
from core.progress import CancelToken, Progress, ProgressCallback, check

WORK_SIDE = 512  # inpainting and blurring run at this size: the result is blurred anyway


class BlurEngine(BackgroundEngine):
    name = "blur"

    def render(self, photo: Any, mask: Any, settings: GenerationSettings,
               progress: Optional[ProgressCallback] = None,
               cancel: Optional[CancelToken] = None) -> list[np.ndarray]:
        import cv2

        settings.validate()
        check(cancel)
        height, width = photo.pixels.shape[:2]
        product = object_mask(mask, (height, width))
        scale = min(1.0, WORK_SIDE / max(height, width))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(photo.rgb8, size, interpolation=cv2.INTER_AREA)
        small_mask = cv2.resize(product.astype(np.uint8) * 255, size, interpolation=cv2.INTER_AREA) > 0
        # Grow the hole a little: the soft product edge must not bleed its colour into the fill.
        grow = max(3, round(0.01 * max(size)))
        hole = cv2.dilate(small_mask.astype(np.uint8) * 255, np.ones((2 * grow + 1,) * 2, np.uint8))
        filled = cv2.inpaint(small, hole, inpaintRadius=grow, flags=cv2.INPAINT_TELEA)
        sigma = max(0.5, settings.blur_sigma * float(np.hypot(*size)))
        blurred = cv2.GaussianBlur(filled, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
        image = cv2.resize(blurred, (width, height), interpolation=cv2.INTER_CUBIC)
        if progress:
            progress(Progress("generate", 1, 1, self.name))
        return [image] + [image.copy() for _ in range(settings.variants - 1)]
