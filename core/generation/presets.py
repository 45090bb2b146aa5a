"""Output presets: canvas size and how much of it the product fills, applied after compositing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from core.generation.framing import product_box


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


def apply_preset(image: np.ndarray, mask: np.ndarray, preset: OutputPreset | str) -> np.ndarray:
    """Scale and place ``image`` so the product (``mask`` > 0.5) fills the preset's canvas as asked.

    Where the canvas reaches past the image, the image's border is extended (edge pixels repeat:
    white stays white). The product is resampled here, unavoidably, when the scale is not 1.
    """
    import cv2

    preset = get_preset(preset) if isinstance(preset, str) else preset
    if preset.width is None or preset.height is None:
        return image
    if not 0 < preset.fill <= 1:
        raise ValueError(f"Preset fill must be in (0, 1] (got {preset.fill}).")
    height, width = image.shape[:2]
    box = product_box(np.asarray(mask) > 0.5) or (0, 0, width, height)
    x0, y0, x1, y1 = box
    scale = preset.fill * min(preset.width / (x1 - x0), preset.height / (y1 - y0))
    if scale < 1:  # shrink with area averaging first; warpAffine has no anti-aliasing
        small = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
        sx, sy = small.shape[1] / width, small.shape[0] / height
        image, x0, x1, y0, y1, rest = small, x0 * sx, x1 * sx, y0 * sy, y1 * sy, 1.0
    else:
        rest = scale
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    matrix = np.float32([[rest, 0, preset.width / 2 - cx * rest], [0, rest, preset.height / 2 - cy * rest]])
    flags = cv2.INTER_CUBIC if rest > 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(image, matrix, (preset.width, preset.height), flags=flags,
                          borderMode=cv2.BORDER_REPLICATE)
