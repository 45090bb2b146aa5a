"""The photo's own shadow as a neutral multiplicative matte, for ``--shadow keep``.

On a studio shot the shadow is the backdrop times a factor < 1 (the same in R, G and B in linear
light). Dividing the photo's luminance by the estimated clean backdrop's (core/masking/backdrop.py)
outside the product gives that factor; multiplying it onto a new background re-applies the
photographer's shadow there. One factor for all three channels, so the new background is
darkened but never tinted with the old backdrop's hue. Kept only where the pixel looks like
shaded backdrop (neutral ratio), in regions that touch the product (a dark corner of the paper is
not the product's shadow); under the product the matte is continued from its surroundings, so
the soft edge blends onto the shadow that was there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from packshot.core.masking.backdrop import (
    Backdrop,
    estimate_backdrop,
    linear_to_srgb,
    ratio_and_deviation,
    shadow_likelihood,
    srgb8_to_linear,
)

WORK_SIDE = 640  # shadows are soft: estimate at this size and scale up
MIN_DARKENING = 0.05  # a shadow whose deepest point darkens less than this is no shadow
MIN_AREA = 0.001  # nor one that covers less than this fraction of the frame
NEAR_PRODUCT = 0.04  # a shadow region must come within this fraction of the diagonal of the product


@dataclass
class ShadowMatte:
    """``matte``: H x W float32 in (0, 1] (1 = no shadow), or None when none was found; ``note`` says which."""

    matte: Optional[np.ndarray]
    note: str
    backdrop: Optional[Backdrop] = None
    peak: float = 0.0  # the deepest darkening, 0..1
    area: float = 0.0  # the fraction of the frame the shadow covers


def _rgb8(pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels)[:, :, :3]
    if pixels.dtype == np.uint16:
        return (pixels >> 8).astype(np.uint8)
    return pixels.astype(np.uint8, copy=False)


def estimate_shadow_matte(pixels: np.ndarray, alpha: np.ndarray, known: Optional[np.ndarray] = None,
                          work_side: int = WORK_SIDE) -> ShadowMatte:
    """The shadow the photo's product casts on its backdrop, at the photo's size.

    ``alpha``: the product's soft mask; ``known``: optional H x W in [0, 1] marking real photo
    pixels (a size preset's padding is 0 there: no shadow is invented in it).
    """
    import cv2

    h, w = alpha.shape
    factor = min(1.0, work_side / max(h, w))
    size = (max(8, round(w * factor)), max(8, round(h * factor)))
    rgb = _rgb8(pixels)
    small = rgb if size == (w, h) else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    a_small = cv2.resize(alpha.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    product = cv2.dilate((a_small > 0.02).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    unknown = np.zeros(product.shape, bool)
    if known is not None:
        unknown = cv2.resize(np.asarray(known, np.float32), size, interpolation=cv2.INTER_AREA) < 0.99
    if not (a_small > 0.5).any():
        return ShadowMatte(None, "no product in the mask, so no shadow of it to keep")
    backdrop = estimate_backdrop(small, product=product | unknown)
    if not backdrop.is_studio:
        return ShadowMatte(None, f"no shadow kept: {backdrop.reason}", backdrop)
    t, _ = ratio_and_deviation(small, backdrop)
    like = shadow_likelihood(small, backdrop)
    like[product | unknown] = 0.0
    # only shadow regions that reach the product: its contact and cast shadows, not paper creases
    region = (like > 0.3).astype(np.uint8)
    count, labels = cv2.connectedComponents(region, connectivity=8)
    reach = max(1, int(NEAR_PRODUCT * np.hypot(*size)))
    near = cv2.dilate(product.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                      (2 * reach + 1, 2 * reach + 1))).astype(bool)
    touching = np.zeros(count, bool)
    touching[np.unique(labels[near & (region > 0)])] = True
    touching[0] = False
    # the shadow's soft rim (likelihood under 0.3) belongs to the region it borders
    attached = cv2.dilate(touching[labels].astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    weight = np.where(attached, like, 0.0).astype(np.float32)
    darkening = weight * np.clip(1.0 - t, 0.0, 1.0)
    darkening = cv2.GaussianBlur(darkening, (0, 0), 0.8)  # sensor and JPEG noise
    darkening = _continue_under(darkening, product)
    darkening[unknown & ~product] = 0.0
    peak = float(darkening[~product].max()) if (~product).any() else 0.0
    area = float((darkening[~product] > 0.02).mean()) if (~product).any() else 0.0
    if peak < MIN_DARKENING or area < MIN_AREA:
        return ShadowMatte(None, f"no shadow found around the product (deepest darkening {peak:.0%})",
                           backdrop, peak, area)
    matte = 1.0 - np.clip(darkening, 0.0, 0.98)
    if size != (w, h):
        matte = cv2.resize(matte, (w, h), interpolation=cv2.INTER_LINEAR)
    matte = np.clip(matte, 0.02, 1.0).astype(np.float32)
    # the product is never shadowed: the matte only reaches under its soft edge, where the new
    # background shows through (the compositor copies solid product pixels from the photo anyway)
    matte[alpha >= 1.0] = 1.0
    note = f"kept the photo's own shadow (up to {peak:.0%} darker, over {area:.0%} of the frame)"
    return ShadowMatte(matte, note, backdrop, peak, area)


def _continue_under(darkening: np.ndarray, product: np.ndarray) -> np.ndarray:
    """Fill the matte under the product from its surroundings (normalised convolution, coarse to fine)."""
    import cv2

    if not product.any():
        return darkening
    out = darkening.copy()
    valid = (~product).astype(np.float32)
    for sigma in (16.0, 6.0, 2.0):
        num = cv2.GaussianBlur(darkening * valid, (0, 0), sigma)
        den = cv2.GaussianBlur(valid, (0, 0), sigma)
        fill = num / np.maximum(den, 1e-4)
        reached = product & (den > 1e-3)
        out[reached] = fill[reached]
    return out


def apply_matte(background: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """``background`` (uint8 or uint16, H x W x 3) darkened by ``matte`` in linear light, same dtype."""
    if matte.shape != background.shape[:2]:
        raise ValueError(f"shadow matte {matte.shape[::-1]} does not match the background "
                         f"{background.shape[1::-1]}")
    top = 65535 if background.dtype == np.uint16 else 255
    result = background[:, :, :3].copy()  # exactly the engine's pixels where there is no shadow
    shaded = matte < 1.0
    if not shaded.any():
        return result
    pixels = result[shaded]
    if background.dtype == np.uint8:
        lin = srgb8_to_linear(pixels)
    else:
        v = pixels.astype(np.float32) / top
        lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    out = linear_to_srgb(lin * matte[shaded][:, None]) * top
    result[shaded] = np.clip(np.rint(out), 0, top).astype(background.dtype)
    return result
