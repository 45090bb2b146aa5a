"""Putting the product back at full resolution: its pixels are copied, never resampled.

Where the soft mask is 1 the output is the photo's own pixel values (bit-identical, in the photo's
bit depth); where it is 0 it is the background; in between, the two are blended. At those soft-edge
pixels the photo's colour is partly the backdrop it was shot on, so by default the blend uses the
product's estimated own colour instead (``packshot.core.generation.matting``): no beige rim on white.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from packshot.core.generation.matting import edge_pixels, foreground_tiles
from packshot.core.generation.shadow import Shadow, apply_shadow

ROWS_PER_CHUNK = 512  # blend in bands: a 50 MP photo would need GBs of float32 at once


def _to_dtype(background: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if background.dtype == dtype:
        return background
    if background.dtype == np.uint8 and dtype == np.uint16:
        return background.astype(np.uint16) * 257  # 255 -> 65535 exactly
    if background.dtype == np.uint16 and dtype == np.uint8:
        return (background >> 8).astype(np.uint8)
    raise ValueError(f"Cannot composite a {background.dtype} background onto a {dtype} photo.")


def composite(photo: Any, mask_alpha: np.ndarray, background: np.ndarray,
              shadow: Optional[Shadow] = None, *, decontaminate: bool = True) -> np.ndarray:
    """H x W x 3 in the photo's dtype: product from ``photo`` over ``background`` through ``mask_alpha``.

    ``decontaminate`` (default on) blends the estimated foreground colour, not the raw photo, where
    0 < alpha < 1; off, the edge is the plain ``photo * alpha + background * (1 - alpha)``.
    """
    pixels = photo.pixels if hasattr(photo, "pixels") else np.asarray(photo)
    alpha = np.asarray(mask_alpha)
    alpha = alpha.astype(np.float32) if alpha.dtype == bool else np.clip(alpha.astype(np.float32), 0.0, 1.0)
    height, width = pixels.shape[:2]
    if alpha.shape != (height, width) or background.shape[:2] != (height, width):
        raise ValueError(f"Photo is {width} x {height}; mask {alpha.shape[::-1]} and background "
                         f"{background.shape[1::-1]} must match it.")
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError("composite expects an H x W x 3 photo (Photo.pixels).")
    bg = _to_dtype(np.asarray(background)[:, :, :3], pixels.dtype)
    if shadow is not None:
        bg = apply_shadow(bg, alpha, shadow)
    top = 65535 if pixels.dtype == np.uint16 else 255
    out = np.empty_like(pixels)
    for start in range(0, height, ROWS_PER_CHUNK):
        rows = slice(start, start + ROWS_PER_CHUNK)
        a = alpha[rows, :, None]
        mixed = pixels[rows].astype(np.float32) * a + bg[rows].astype(np.float32) * (1.0 - a)
        out[rows] = np.clip(np.rint(mixed), 0, top).astype(pixels.dtype)
    if decontaminate:
        _blend_foreground(out, pixels, alpha, bg, top)
    # Exact copies at the ends of the range: no float round trip can touch product pixels.
    solid = alpha >= 1.0
    out[solid] = pixels[solid]
    clear = alpha <= 0.0
    out[clear] = bg[clear]
    return out


def _blend_foreground(out: np.ndarray, pixels: np.ndarray, alpha: np.ndarray, bg: np.ndarray, top: int) -> None:
    """Re-blend the soft-edge pixels of ``out`` from the estimated foreground, tile by tile, in place."""
    for rows, cols, fg in foreground_tiles(pixels, alpha):
        a = alpha[rows, cols]
        edge = edge_pixels(a)
        a = a[edge][:, None]
        mixed = fg[edge] * a + bg[rows, cols][edge].astype(np.float32) * (1.0 - a)
        out[rows, cols][edge] = np.clip(np.rint(mixed), 0, top).astype(out.dtype)
