"""The photo's own background, blurred, with the product removed first so it leaves no halo.

What is blurred is the photo's *known* background: pixels that are neither product nor transparent
(``photo.alpha`` < 0.5). Transparent gaps inside the photo are filled from their surroundings like
the product's hole; a framed photo's padding (see ``presets.frame_photo``) lies outside the photo's
rectangle and is filled by mirroring the photo outwards before blurring, so it continues the blurred
scene instead of repeating edge pixels. A cut-out (no known background at all) cannot be blurred:
``NoBackgroundError`` says so and names the engines that work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from packshot.core.errors import PackshotError
from packshot.core.generation.engines.base import BackgroundEngine, object_mask
from packshot.core.generation.framing import product_box
from packshot.core.generation.settings import GenerationSettings
from packshot.core.progress import CancelToken, Progress, ProgressCallback, check

WORK_SIDE = 512  # inpainting and blurring run at this size: the result is blurred anyway
# Below this share of the photo's visible area, what is left is a fringe, not a background.
MIN_BACKGROUND_FRACTION = 0.01


class NoBackgroundError(PackshotError):
    """The blur engine was given a photo with no background of its own (a transparent cut-out)."""


def _name(photo: Any) -> str:
    source = getattr(photo, "source", None)
    return Path(source).name if source else "This photo"


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
        alpha = getattr(photo, "alpha", None)
        known = np.ones((height, width), bool) if alpha is None else np.asarray(alpha) >= 0.5
        visible = int(known.sum())
        if int((known & ~product).sum()) < max(1, MIN_BACKGROUND_FRACTION * visible):
            raise NoBackgroundError(
                f"{_name(photo)} is a cut-out with no background to blur; choose another engine "
                "(white, color, gradient, image, si2 or si2-controlnet).")
        scale = min(1.0, WORK_SIDE / max(height, width))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(photo.rgb8, size, interpolation=cv2.INTER_AREA)
        small_mask = cv2.resize(product.astype(np.uint8) * 255, size, interpolation=cv2.INTER_AREA) > 0
        small_known = cv2.resize(known.astype(np.uint8) * 255, size, interpolation=cv2.INTER_AREA) >= 255
        # Only the photo's own rectangle is inpainted; the padding around it is mirrored below.
        x0, y0, x1, y1 = product_box(small_known) or (0, 0, size[0], size[1])
        inner = np.ascontiguousarray(small[y0:y1, x0:x1])
        # Grow the hole a little: the soft product edge must not bleed its colour into the fill.
        grow = max(3, round(0.01 * max(size)))
        hole = cv2.dilate(small_mask[y0:y1, x0:x1].astype(np.uint8) * 255, np.ones((2 * grow + 1,) * 2, np.uint8))
        hole[~small_known[y0:y1, x0:x1]] = 255  # transparent pixels hold no colour worth keeping
        filled = cv2.inpaint(inner, hole, inpaintRadius=grow, flags=cv2.INPAINT_TELEA)
        pad = ((y0, size[1] - y1), (x0, size[0] - x1), (0, 0))
        extended = np.pad(filled, pad, mode="symmetric")  # no-op without padding
        sigma = max(0.5, settings.blur_sigma * float(np.hypot(*size)))
        blurred = cv2.GaussianBlur(np.ascontiguousarray(extended), (0, 0), sigmaX=sigma, sigmaY=sigma,
                                   borderType=cv2.BORDER_REFLECT)
        image = cv2.resize(blurred, (width, height), interpolation=cv2.INTER_CUBIC)
        if progress:
            progress(Progress("generate", 1, 1, self.name))
        return [image] + [image.copy() for _ in range(settings.variants - 1)]
