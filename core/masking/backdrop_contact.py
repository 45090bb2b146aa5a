"""A tight contact shadow kept under a pale product's base (used by ``prior_classic``).

Where a product stands on the floor, the floor darkens towards the base over a few pixels. The
shadow's lower rim is narrow enough at working size to read as an outline, so the backdrop's flood
(``backdrop.backdrop_regions``) stops at it; under a product of the paper's own colour (white on
white, tone on tone) the texture cue then reads the ramp's curvature as material, and the band
stays product. On the development seeds that was 4 of the 16 masks the gate let through.

Read column by column, from the open backdrop below it upwards, such a band is a ramp:

- neutral: the paper's colour times one factor, to within this photo's own paper noise;
- darker at every step towards the base, darkest at the base itself, and no single step takes
  most of the darkening;
- ending where the light steps back up: a pale product is brighter than its shadow's darkest.

Past the ends of the base the shadow is smeared sideways: there a column's run is darker, then
lighter again, with backdrop above it, and the whole run is shadow.

A grey part at the product's foot has a sharp lower edge instead (one step takes most of the
darkening), and a glass's foot is a flat run above the ramp: both are left alone. So is a dark
product, whose column never steps back up within the band's reach: a band under it stays, as before.
"""

from __future__ import annotations

import numpy as np

RAMP_SLACK = 0.02  # a step up the ramp may brighten by this much (the pixel noise), and still be ramp
STEP_UP = 0.08  # the product starts where the light steps back up by at least this (share of the paper's)
MAX_STEP_SHARE = 0.85  # no single step takes more than this share of the ramp's darkening (a sharp edge)
MIN_DARKENING = 0.05  # the ramp darkens by at least this (share of the paper's light)
SHADED = 0.95  # a ramp pixel keeps less than this share of the paper's light
MAX_HEIGHT = 0.1  # the band is at most this share of the mask's height (and at least 3 px)
MIN_WIDTH = 0.1  # a band piece spans at least this share of the mask's width: a band, not a nick


def contact_band(mask: np.ndarray, t: np.ndarray, d: np.ndarray) -> np.ndarray:
    """H x W bool: the pixels of ``mask`` that are a contact shadow's band under its base (module doc).

    ``t``, ``d``: ``backdrop.ratio_and_deviation`` (noise-weighted) at the mask's size, as
    ``BackdropRegions`` holds them.
    """
    import cv2

    from packshot.core.masking.backdrop import chroma_sigma
    from packshot.core.masking.backdrop_hard import CHROMA_SLACK, paper_chroma_noise

    mask = mask.astype(bool)
    out = np.zeros_like(mask)
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return out
    h = mask.shape[0]
    reach = max(3, int(MAX_HEIGHT * (ys.max() - ys.min() + 1)))
    neutral = (d < CHROMA_SLACK * chroma_sigma(t)) & (d < paper_chroma_noise(t, d)) & (t < SHADED)
    for x in range(int(xs.min()), int(xs.max()) + 1):
        column = np.nonzero(mask[:, x])[0]
        if column.size == 0 or column[-1] >= h - 1:
            continue
        ramp = _ramp(mask[:, x], t[:, x], neutral[:, x], int(column[-1]), reach)
        if ramp is not None:
            out[ramp, x] = True
    # the pieces that run along the base, not a column or two
    count, labels, stats, _ = cv2.connectedComponentsWithStats(out.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_WIDTH] >= MIN_WIDTH * (xs.max() - xs.min() + 1)
    keep[0] = False
    return keep[labels]


def _ramp(in_mask: np.ndarray, t: np.ndarray, neutral: np.ndarray, bottom: int, reach: int) -> np.ndarray | None:
    """The rows from ``bottom`` up that are a contact shadow in one column, or None."""
    below = float(t[bottom + 1])
    rows: list[int] = []
    last = below
    y = bottom
    while y >= 0 and in_mask[y] and len(rows) < reach and neutral[y] and t[y] <= last + RAMP_SLACK:
        rows.append(y)
        last = float(t[y])
        y -= 1
    if not rows or len(rows) >= reach or y < 0:
        return None  # no ramp, or one that goes on as far as a product would (a dark product)
    # the shadow is darkest at the base: a flat run above its darkest pixel is a grey foot (a glass's)
    rows = rows[:int(np.argmin(t[rows])) + 1]
    y = rows[-1] - 1
    top = float(t[rows[-1]])
    darkening = below - top
    drops = -np.diff(np.r_[below, t[rows]])  # how much each step up the column darkened
    if darkening < MIN_DARKENING or drops.max() > MAX_STEP_SHARE * darkening:
        return None  # hardly darker, or a sharp edge: a grey part of the product
    if not in_mask[y]:
        return np.asarray(rows)  # all of the run is ramp, with backdrop above it
    # the product steps back up into the light (within two pixels: the outline's own pixel is part shadow)
    if max(float(t[y]), float(t[y - 1]) if y >= 1 and in_mask[y - 1] else 0.0) >= top + STEP_UP:
        return np.asarray(rows)
    return _shadow_end(in_mask, t, neutral, rows, y, reach)


def _shadow_end(in_mask: np.ndarray, t: np.ndarray, neutral: np.ndarray, rows: list[int], y: int,
                reach: int) -> np.ndarray | None:
    """The column's run when it is the contact shadow's end beside the base, smeared past it: darker
    up to ``rows[-1]``, then lighter again from ``y`` up to the backdrop above, all of it shadow."""
    top = float(t[rows[-1]])
    more: list[int] = []
    last = top
    while y >= 0 and in_mask[y] and len(rows) + len(more) < reach and neutral[y] and t[y] >= last - RAMP_SLACK:
        more.append(y)
        last = float(t[y])
        y -= 1
    if not more or y < 0 or in_mask[y] or len(rows) + len(more) >= reach:
        return None  # the run goes on into the product
    above = float(t[y])
    rises = np.diff(np.r_[top, t[more], above])
    if above - top < MIN_DARKENING or rises.max() > MAX_STEP_SHARE * (above - top):
        return None
    return np.asarray(rows + more)
