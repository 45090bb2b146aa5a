"""A glossy floor's reflection of the product: not product, though it has the product's colours.

A glossy floor mirrors the product about its base line: the row ``k`` pixels below the base shows
the backdrop plus a faded copy of the row ``k`` pixels above it (in linear light,
``I(b + k) = s_k * B + rho_k * (I(b - k) - B)`` with ``rho_k`` the floor's reflectance, fading
with distance, and ``s_k`` any shading of the floor there: a contact shadow). A product's own
lower part does not fit that model: it is not a faded copy of the part above it. So, for the
region the backdrop flood left as "product", try each base line in its lower half and fit
``rho_k`` row by row to the rows' variation along the row (texture, print, the silhouette's
ends; a uniform ``s_k`` drops out), and take the rows below the best base line as reflection
when the model explains them, the copy is faint (``rho`` well below 1) and it fades downwards.
"""

from __future__ import annotations

import numpy as np

MIN_EXPLAINED = 0.7  # share of the rows' structure the mirror model explains (a product's own lower part: under 0.6)
MAX_RHO = 0.7  # a floor reflects at most this share (a product's lower half mirrors its upper half at ~1)
MIN_RHO = 0.03  # and at least this share near the base (fainter is noise, left to the flood)
MAX_SPAN = 0.5  # the reflection is at most this share of the product + reflection height
MIN_ROWS = 3  # fewer reflection rows than this are left to GrabCut and the outline


def floor_reflection(lin: np.ndarray, backdrop: np.ndarray, product: np.ndarray,
                     min_explained: float = MIN_EXPLAINED) -> np.ndarray:
    """H x W bool: the pixels of ``product`` that are the floor's mirror image of the rest of it.

    ``lin``: the photo in linear RGB; ``backdrop``: the clean backdrop colour (same size);
    ``product``: what the backdrop model left as product (working size, a few hundred px);
    ``min_explained``: the share of the rows' structure the mirror model must explain.
    """
    import cv2

    h, w = product.shape
    out = np.zeros((h, w), bool)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(product.astype(np.uint8), connectivity=8)
    for c in range(1, count):
        top, height = stats[c, cv2.CC_STAT_TOP], stats[c, cv2.CC_STAT_HEIGHT]
        if stats[c, cv2.CC_STAT_AREA] < 0.01 * h * w or height < 4 * MIN_ROWS:
            continue
        blob = labels == c
        base = _best_base(lin, backdrop, blob, top, top + height - 1, min_explained)
        if base is not None:
            below = np.zeros((h, w), bool)
            # the row just under the base line stays product: a base line found one row too
            # high would otherwise cut the product's foot (a row of reflection kept costs less)
            below[base + 2:top + height] = True
            out |= blob & below
    return out


def _best_base(lin: np.ndarray, backdrop: np.ndarray, blob: np.ndarray, top: int, bottom: int,
               min_explained: float = MIN_EXPLAINED) -> int | None:
    """The base row whose mirror model best explains the blob's rows below it, or None."""
    best, best_score = None, min_explained
    lowest = bottom - int(MAX_SPAN * (bottom - top + 1))
    for base in range(bottom - MIN_ROWS, max(lowest, top + MIN_ROWS) - 1, -1):
        score = _mirror_fit(lin, backdrop, blob, base, bottom)
        if score is not None and score > best_score:
            best, best_score = base, score
    return best


def _mirror_fit(lin: np.ndarray, backdrop: np.ndarray, blob: np.ndarray, base: int, bottom: int) -> float | None:
    """Explained share of the rows' structure (their variation along the row, so a uniform floor
    shading drops out) for rows base+1..bottom, or None when the fit is not a faint, fading mirror
    image. A uniformly coloured part of a product has no structure to explain and is not taken."""
    total = resid = raw_target = raw_mirror = 0.0
    rhos = []
    w = blob.shape[1]
    for k in range(1, bottom - base + 1):
        row, src = base + k, base - k
        if src < 0:
            return None
        span = np.nonzero(blob[row] | blob[src])[0]
        if span.size < 3:
            continue
        # a few backdrop pixels on either side: the mirrored silhouette is structure too
        cols = np.arange(max(0, span[0] - 2), min(w, span[-1] + 3))
        bd = backdrop[row, cols]
        target = lin[row, cols] - bd
        mirror = lin[src, cols] - bd
        raw_target += float((target * target).sum())
        raw_mirror += float((mirror * mirror).sum())
        target = (target - target.mean(axis=0)).ravel()
        mirror = (mirror - mirror.mean(axis=0)).ravel()
        energy = float(mirror @ mirror)
        if energy <= 1e-8:
            continue
        rho = float(target @ mirror) / energy
        if not -0.05 < rho < MAX_RHO:
            return None
        rhos.append(rho)
        total += float(target @ target)
        r = target - rho * mirror
        resid += float(r @ r)
    if len(rhos) < MIN_ROWS or total <= 0 or max(rhos[:MIN_ROWS]) < MIN_RHO:
        return None
    # a mirror image stands out from the floor less than what it mirrors (a product's own lower
    # part may well stand out more: a dark base under a pale body)
    if raw_target > raw_mirror:
        return None
    # a reflection fades away from the base
    if np.mean(rhos[-MIN_ROWS:]) > np.mean(rhos[:MIN_ROWS]) + 0.02:
        return None
    return 1.0 - resid / total
