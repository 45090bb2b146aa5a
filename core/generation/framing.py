"""Fitting a photo of any aspect ratio onto the model's square canvas and back.

The paper letterboxes photos to 512 x 512 (fit, then pad). The padded band is background to be
generated; after generation it is cut off again and the background is scaled to the photo's size
(by a learned upscaler at final quality when one is present: ``packshot.core.generation.upscale``).
(Output presets frame the photo onto their own canvas before this: see ``presets.frame_photo``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np


@dataclass(frozen=True)
class Letterbox:
    """Where a ``width`` x ``height`` photo sits inside a ``canvas`` x ``canvas`` square."""

    width: int
    height: int
    canvas: int
    left: int
    top: int
    inner_w: int
    inner_h: int

    @classmethod
    def fit(cls, width: int, height: int, canvas: int) -> Letterbox:
        scale = canvas / max(width, height)
        inner_w = max(1, min(canvas, round(width * scale)))
        inner_h = max(1, min(canvas, round(height * scale)))
        return cls(width, height, canvas, (canvas - inner_w) // 2, (canvas - inner_h) // 2, inner_w, inner_h)

    def to_canvas(self, array: np.ndarray, fill: float | int, interpolation: int | None = None) -> np.ndarray:
        """Resize ``array`` (H x W or H x W x C) into the canvas, padding with ``fill``."""
        import cv2

        if interpolation is None:
            interpolation = cv2.INTER_AREA if self.inner_w < self.width else cv2.INTER_CUBIC
        inner = cv2.resize(array, (self.inner_w, self.inner_h), interpolation=interpolation)
        shape = (self.canvas, self.canvas) + array.shape[2:]
        out = np.full(shape, fill, dtype=array.dtype)
        out[self.top:self.top + self.inner_h, self.left:self.left + self.inner_w] = inner
        return out

    def from_canvas(self, array: np.ndarray, upscaler: Optional[Callable[..., np.ndarray]] = None) -> np.ndarray:
        """Cut the photo's area out of a canvas-sized result and scale it to the photo's size.

        ``upscaler`` (``packshot.core.generation.upscale.Upscaler``): enlarges an H x W x 3 image to (width, height)
        with detail; used when the photo is larger than its area on the canvas. None: bicubic."""
        import cv2

        inner = array[self.top:self.top + self.inner_h, self.left:self.left + self.inner_w]
        if upscaler is not None and array.ndim == 3 and (self.width > self.inner_w or self.height > self.inner_h):
            return upscaler(np.ascontiguousarray(inner), (self.width, self.height))
        interpolation = cv2.INTER_CUBIC if self.width > self.inner_w else cv2.INTER_AREA
        out = cv2.resize(np.ascontiguousarray(inner), (self.width, self.height), interpolation=interpolation)
        return out.reshape((self.height, self.width) + array.shape[2:])


def product_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the True pixels, exclusive end; None for an empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
