"""Output presets: canvas size and how much of it the product fills.

Two ways to use a preset:

* ``frame_photo`` (before rendering, what jobs should do): the photo is scaled so the product fills
  the preset's fraction of the canvas and placed centred; where the canvas reaches past the photo
  there is no photo (alpha 0 in the framed ``Photo``): engines treat that padding as background to
  make, so it gets real generated background (or the engine's colour, or blurred surroundings).
* ``apply_preset`` (after rendering, for an image already made): scales the finished image; where the
  canvas reaches past it, edge pixels repeat (fine on white, visible bands on anything else).

Either way a preset resamples the product once (unavoidable when the scale is not 1); only the
"original" preset keeps the photo's product pixels bit-identical.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

import numpy as np

from packshot.core.generation.framing import product_box


@dataclass(frozen=True)
class OutputPreset:
    """``width`` x ``height`` canvas with the product's box filling ``fill`` of it (centred).

    ``None`` sizes keep the composited image as it is.
    """

    name: str
    width: Optional[int] = None
    height: Optional[int] = None
    fill: float = 0.85
    description: str = ""


PRESETS = {p.name: p for p in (
    OutputPreset("original", description="the photo's own size and framing"),
    OutputPreset("square-2000", 2000, 2000, 0.85, "2000 x 2000, product fills 85% (marketplaces)"),
    OutputPreset("square-1000", 1000, 1000, 0.85, "1000 x 1000, product fills 85%"),
    OutputPreset("portrait-1600x2000", 1600, 2000, 0.80, "4:5 portrait for social feeds"),
    OutputPreset("landscape-1920x1080", 1920, 1080, 0.70, "16:9 banner"),
)}


def get_preset(name: str) -> OutputPreset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"Unknown output preset '{name}': choose one of {', '.join(PRESETS)}.") from None


def _resolve(preset: OutputPreset | str) -> OutputPreset:
    preset = get_preset(preset) if isinstance(preset, str) else preset
    if preset.width is not None and not 0 < preset.fill <= 1:
        raise ValueError(f"Preset fill must be in (0, 1] (got {preset.fill}).")
    return preset


class _Placement:
    """The one scale-and-shift that puts a ``width`` x ``height`` image onto a preset's canvas."""

    def __init__(self, mask: np.ndarray, width: int, height: int, preset: OutputPreset) -> None:
        self.width, self.height, self.preset = width, height, preset
        x0, y0, x1, y1 = product_box(np.asarray(mask) > 0.5) or (0, 0, width, height)
        scale = preset.fill * min(preset.width / (x1 - x0), preset.height / (y1 - y0))
        # Shrinking: area-average first (warpAffine has no anti-aliasing), then shift by whole pixels
        # so the shrink is the only resampling the product goes through.
        self.small = None
        if scale < 1:
            self.small = (max(1, round(width * scale)), max(1, round(height * scale)))
            sx, sy = self.small[0] / width, self.small[1] / height
            x0, x1, y0, y1, self.rest = x0 * sx, x1 * sx, y0 * sy, y1 * sy, 1.0
        else:
            self.rest = scale
        # Box edges are in pixel-edge coordinates; warpAffine maps pixel centres (edge - 0.5).
        cx, cy = (x0 + x1) / 2 - 0.5, (y0 + y1) / 2 - 0.5
        tx, ty = (preset.width - 1) / 2 - cx * self.rest, (preset.height - 1) / 2 - cy * self.rest
        if self.rest == 1.0:
            tx, ty = round(tx), round(ty)
        self.matrix = np.float32([[self.rest, 0, tx], [0, self.rest, ty]])

    def warp(self, array: np.ndarray, *, smooth: bool, border: str) -> np.ndarray:
        """``array`` on the canvas; ``smooth`` picks cubic (pixels) over linear (masks) for enlarging."""
        import cv2

        if self.small is not None:
            # Area averaging for masks too: a shrunk pixel is fully product only if all it covers was.
            array = cv2.resize(array, self.small, interpolation=cv2.INTER_AREA)
        if self.rest == 1.0:
            flags = cv2.INTER_NEAREST  # whole-pixel shift: a copy
        else:
            flags = cv2.INTER_CUBIC if smooth else cv2.INTER_LINEAR
        mode = cv2.BORDER_REPLICATE if border == "replicate" else cv2.BORDER_CONSTANT
        return cv2.warpAffine(array, self.matrix, (self.preset.width, self.preset.height), flags=flags,
                              borderMode=mode, borderValue=0)


def _unit(array: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and snap float dust at the ends (interpolating ones can give 0.99999994)."""
    out = np.clip(array.astype(np.float32), 0.0, 1.0)
    out[out > 1 - 1e-4] = 1.0
    out[out < 1e-4] = 0.0
    return out


def frame_photo(photo: Any, mask: Any, preset: OutputPreset | str) -> tuple[Any, Any]:
    """(photo, mask result) placed on ``preset``'s canvas, ready for ``engine.render`` and ``composite``.

    The framed photo's ``alpha`` marks what is known: 1 where the photo is, 0 in the padding (and
    wherever the photo itself was transparent). Engines make background there like anywhere else.
    The product is resampled once here; ``composite`` then copies the framed product pixels exactly.
    "original" (no size) returns the inputs themselves.
    """
    preset = _resolve(preset)
    if preset.width is None or preset.height is None:
        return photo, mask
    height, width = photo.pixels.shape[:2]
    product = np.asarray(mask.mask, bool)
    place = _Placement(product, width, height, preset)
    # Padding pixels repeat the edge only so resampling at the photo's border has clean neighbours;
    # alpha 0 says they are not photo.
    pixels = place.warp(photo.pixels, smooth=True, border="replicate")
    opaque = np.ones((height, width), np.float32) if photo.alpha is None else photo.alpha.astype(np.float32)
    known = _unit(place.warp(opaque, smooth=False, border="constant"))
    framed_photo = replace(photo, pixels=np.ascontiguousarray(pixels), alpha=None if known.min() >= 1.0 else known)
    alpha = _unit(place.warp(np.asarray(mask.alpha, np.float32), smooth=False, border="constant"))
    framed_mask = place.warp(product.astype(np.float32), smooth=False, border="constant") >= 0.5
    fields = {"mask": framed_mask, "alpha": alpha}
    try:
        framed_result = replace(mask, **fields)
    except TypeError:  # not a dataclass: any object with .mask and .alpha
        import copy

        framed_result = copy.copy(mask)
        for key, value in fields.items():
            setattr(framed_result, key, value)
    return framed_photo, framed_result


def apply_preset(image: np.ndarray, mask: np.ndarray, preset: OutputPreset | str) -> np.ndarray:
    """Scale and place an already rendered ``image`` so the product (``mask`` > 0.5) fills the canvas.

    Where the canvas reaches past the image, its edge pixels repeat (white stays white; a generated
    background shows bands): to get real background there, frame before rendering (``frame_photo``).
    The product is resampled here once when the scale is not 1.
    """
    preset = _resolve(preset)
    if preset.width is None or preset.height is None:
        return image
    height, width = image.shape[:2]
    place = _Placement(np.asarray(mask), width, height, preset)
    return place.warp(image, smooth=True, border="replicate")
