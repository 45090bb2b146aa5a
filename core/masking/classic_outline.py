"""The full-size outline of a product whose colour is a few ΔE from its backdrop's.

``backdrop.unmix_outline`` puts each edge pixel on the product side when it is more than half
product colour, but only where the product and backdrop colours nearby differ by a fixed amount
(a tone-on-tone product falls under it, and its outline stays where the work-size mask put it,
a pixel or two inside). Here the same unmixing runs on lightly averaged pixels and is trusted
wherever the two colours are more than a few noise spreads apart, the noise measured on the
photo's own backdrop.
"""

from __future__ import annotations

import numpy as np

SEPARATION = 4.0  # product and backdrop colours at least this many noise spreads apart
PIXEL_SIGMA = 0.8  # px: the averaging each edge pixel gets before it is unmixed
CLEAR_EDGE = 0.003  # squared colour difference above which backdrop.unmix_outline has decided


def colour_noise(rgb8: np.ndarray, width: float = 0.04) -> float:
    """Per-channel noise spread (linear RGB) along the frame's border (``width`` of the short side):
    the RMS of its fine detail, after the same light averaging an edge pixel gets. The border is
    mostly backdrop; the median of the four sides keeps a product touching one of them out."""
    import cv2

    from packshot.core.masking.backdrop import srgb8_to_linear

    h, w = rgb8.shape[:2]
    b = max(8, int(round(width * min(h, w))))
    sides = (rgb8[:b], rgb8[h - b:], rgb8[:, :b], rgb8[:, w - b:])
    spreads = []
    for side in sides:
        lin = srgb8_to_linear(np.ascontiguousarray(side[:, :, :3]))
        fine = cv2.GaussianBlur(lin, (0, 0), PIXEL_SIGMA) - cv2.GaussianBlur(lin, (0, 0), 3.0)
        spreads.append(float(np.sqrt(np.mean(fine ** 2))))
    return float(np.median(spreads))


def unmix_faint_outline(rgb8: np.ndarray, mask: np.ndarray, noise: float, band: int = 3,
                        sigma: float = 3.0) -> np.ndarray:
    """``mask`` with each pixel within ``band`` px of its outline set by unmixing (more than half
    product colour = product), where the product and backdrop colours nearby are at least
    ``SEPARATION`` noise spreads apart and no more than ``CLEAR_EDGE`` (``backdrop.unmix_outline``
    settles clearer edges); elsewhere the label stays."""
    mask = mask.astype(bool)
    if not mask.any() or mask.all():
        return mask.copy()
    from packshot.core.masking.backdrop import unmix_on_outline_tiles

    return unmix_on_outline_tiles(lambda rgb, m: _unmix_box(rgb, m, noise, band, sigma), rgb8, mask, band, sigma)


def _unmix_box(rgb8: np.ndarray, mask: np.ndarray, noise: float, band: int, sigma: float) -> np.ndarray:
    import cv2

    from packshot.core.masking.backdrop import outline_sides

    sides = outline_sides(rgb8, mask, band, sigma)
    zone, lin, fg, fw, bg, bw = sides.zone, sides.lin, sides.fg, sides.fw, sides.bg, sides.bw
    pixel = cv2.GaussianBlur(lin, (0, 0), PIXEL_SIGMA)
    diff = fg - bg
    norm2 = (diff * diff).sum(-1)
    a = ((pixel - bg) * diff).sum(-1) / np.maximum(norm2, 1e-9)
    # the projection's noise is the pixel's noise over the colour difference's length
    # only where ``unmix_outline`` (its fixed bar, norm2 > 0.003) did not decide: on a clear edge the
    # averaged pixel would lean towards the backdrop and eat into the product
    usable = zone & (norm2 > 3 * (SEPARATION * noise) ** 2) & (norm2 <= CLEAR_EDGE) & (fw > 0.02) & (bw > 0.02)
    out = mask.copy()
    out[usable] = a[usable] >= 0.5
    return out
