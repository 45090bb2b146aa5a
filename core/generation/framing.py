"""Fitting a photo of any aspect ratio onto the model's square canvas and back.

The paper letterboxes photos to 512 x 512 (fit, then pad). The padded band is background to be
generated; after generation it is cut off again and the background is scaled to the photo's size.
``crop_to_product`` is the other way to deal with aspect ratio: cut a window around the product
before generating (pure slicing, so product pixels stay bit-exact).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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

    def from_canvas(self, array: np.ndarray) -> np.ndarray:
        """Cut the photo's area out of a canvas-sized result and scale it to the photo's size."""
        import cv2

        inner = array[self.top:self.top + self.inner_h, self.left:self.left + self.inner_w]
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


def crop_window(mask: np.ndarray, aspect: float = 1.0, margin: float = 0.1) -> tuple[int, int, int, int]:
    """The largest-needed window of ``aspect`` (w/h) around the product, kept inside the photo.

    The window holds the product's box plus ``margin`` of its size on each side; where that cannot
    have the requested aspect inside the photo, the window is clipped (the letterbox then pads).
    """
    h, w = mask.shape
    box = product_box(mask)
    if box is None:
        x0, y0, x1, y1 = 0, 0, w, h
    else:
        x0, y0, x1, y1 = box
    bw, bh = (x1 - x0) * (1 + 2 * margin), (y1 - y0) * (1 + 2 * margin)
    if bw / max(bh, 1) < aspect:
        bw = bh * aspect
    else:
        bh = bw / aspect
    cw, ch = min(w, round(bw)), min(h, round(bh))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left = int(min(max(round(cx - cw / 2), 0), w - cw))
    top = int(min(max(round(cy - ch / 2), 0), h - ch))
    return left, top, left + cw, top + ch


def crop_to_product(photo, mask_result, aspect: float = 1.0, margin: float = 0.1):
    """A (photo, mask result) pair cut to a window around the product (slices: pixels unchanged)."""
    x0, y0, x1, y1 = crop_window(np.asarray(mask_result.mask, bool), aspect, margin)
    cut = (slice(y0, y1), slice(x0, x1))
    new_photo = replace(photo, pixels=np.ascontiguousarray(photo.pixels[cut]),
                        alpha=None if photo.alpha is None else np.ascontiguousarray(photo.alpha[cut]))
    fields = {"mask": np.ascontiguousarray(mask_result.mask[cut]),
              "alpha": np.ascontiguousarray(mask_result.alpha[cut])}
    try:
        new_mask = replace(mask_result, **fields)
    except TypeError:  # not a dataclass: any object with .mask and .alpha
        import copy

        new_mask = copy.copy(mask_result)
        for key, value in fields.items():
            setattr(new_mask, key, value)
    return new_photo, new_mask
