"""Dark, hard cast shadows that the backdrop flood (backdrop.backdrop_regions) could not reach.

A hard shadow's edge is as sharp as a product's outline, so the flood stops at it; a thin one
(a shadow raking sideways, a few pixels wide at working size) lies entirely in the thickened
outline band and leaves no region at all. Physically it is still the backdrop times one factor:
neutral in linear light, and that factor is flat across its core (the penumbra only brightens it
towards the open backdrop). So the candidates here are the connected pieces of "backdrop colour,
clearly darker" pixels the flood left, edge band included, and a piece is shadow when

- its core (the darker half of its pixels) is dark (a hard shadow keeps 25-60 % of the light) and flat,
- open backdrop surrounds a good share of it (a shadow lies on the floor or the sweep, beside the product),
- what is left of the product after taking it is at least as large as it (a flat grey product
  that is all "shadow" stays product).

A candidate pixel must also be as neutral as this photo's own paper allows (``paper_chroma_noise``):
the fixed allowance for JPEG in the dark lets a dark, coloured product's pixels join the shadow's
piece where they touch it at the base, and the piece, half product, then fails every test.
"""

from __future__ import annotations

import numpy as np

MAX_CORE_T = 0.62  # the core keeps at most this share of the backdrop's light (dark, hard shadows)
MIN_CORE_T = 0.2  # and more than this (darker pieces are far more often a dark part of the product)
CORE_FLAT = 0.2  # log-t spread from the 10th percentile to the median: the darker half is flat,
QUIET_GRADIENT = 0.05  # or, for a thin piece that is mostly penumbra: its pixels with |d log t| under this
QUIET_SHARE = 0.1  # (at least this share of them)
QUIET_SPREAD = 0.1  # spread this little in log t (10th to 90th percentile)
MIN_OPEN = 0.3  # share of the ring around the piece that is open backdrop
MIN_AREA = 0.0005  # pieces smaller than this share of the frame are left to GrabCut
PENUMBRA = 3  # px at working size: a hard shadow's soft rim is narrower
MAX_ALONG_PRODUCT = 0.4  # share of a piece's outline that may run along the product
MAX_ALONG_WIDE = 0.75  # ... or this share, for a piece with a body (a shadow on the sweep behind it)
CHROMA_SLACK = 3.5  # a piece's pixels may deviate from neutral by this many noise sigmas (JPEG in the dark)
PAPER_NOISE_TIMES = 3.0  # ... and by at most this many times the paper's own 90th-percentile deviation
PAPER_NOISE_FLOOR = 0.04  # (never less than this: a shadow is tinted a little by the room's light)
# a long, thin shadow is mostly penumbra, so its darker half is not flat by CORE_FLAT; it may still be
# taken when everything else says shadow: lying out on open backdrop, touching the product only
# at one end, neutral to within the noise, no body, and a log-t spread under this
SANDWICH = 12  # px at working size: a candidate pixel with product this near on two opposite sides is product
LOOSE_FLAT = 0.5
LOOSE_OPEN = 0.6  # share of its ring that is open backdrop
LOOSE_ALONG = (0.02, 0.35)  # share of its outline along the product: attached (a cast shadow starts at
#                             the product), yet not running along it
LOOSE_NEUTRAL = 1.3  # median chroma deviation, in noise sigmas
LOOSE_BODY = 0.7  # share surviving a 5 x 5 erosion (a glass body is all body; a raking shadow bounded by
#                   the paper's own chroma noise, without the dark product pixels that frayed it, reads 0.65)


def thin_hard_shadows(t: np.ndarray, d: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """H x W bool: dark, flat, backdrop-coloured pieces beside the open backdrop (see module doc).

    ``t``, ``d``: backdrop.ratio_and_deviation at working size; ``outside``: what the flood reached.
    """
    import cv2

    from packshot.core.masking.backdrop import chroma_sigma

    h, w = t.shape
    sigma = chroma_sigma(t)
    # off the paper's chroma by more than its noise, in a body: a dark product's pixels (JPEG's fringe
    # along a shadow's own sharp edge is a line a pixel or two wide, and stays)
    off = cv2.morphologyEx((d >= paper_chroma_noise(t, d)).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    candidate = (d < CHROMA_SLACK * sigma) & ~off.astype(bool) & (t > 0.06) & (t < 0.88) & ~outside
    # product, as far as colour tells: not reached and not bright backdrop colour (the band the
    # flood stopped in along the shadow's own outer edge is bright backdrop colour)
    product_like = ~outside & ~((d < CHROMA_SLACK * sigma) & (t >= 0.88))
    # a shadow lies on the floor beside the product, never between two parts of it: a grey part
    # of the product (a headband's end between its ear cups, a band of shading) is not taken
    # (a highlight deep inside the product is the paper's colour, but it is product all the same;
    # the bright band the flood stopped in lies along the open backdrop)
    inner = ~outside & ~candidate & ~cv2.dilate(outside.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    between = _between((product_like & ~candidate) | inner, SANDWICH)
    logt = np.log(np.maximum(t, 1e-3))
    quiet = _log_gradient(t) < QUIET_GRADIENT
    out = _dark_flat_pieces(candidate, t, d, sigma, logt, quiet, outside, product_like) & ~between
    # the product must remain the larger part: a flat grey product is not its own shadow
    if out.any() and out.sum() > (~outside & ~out).sum():
        return np.zeros((h, w), bool)
    return out


def paper_chroma_noise(t: np.ndarray, d: np.ndarray) -> np.ndarray | float:
    """How far from neutral a shadow on this photo's paper may read: ``PAPER_NOISE_TIMES`` the paper's
    90th-percentile deviation along the frame, growing as 1 / sqrt(t) into the dark (the noise does),
    at least ``PAPER_NOISE_FLOOR``; no limit (inf) when too little of the frame is clean paper."""
    from packshot.core.masking.backdrop import border_strip

    paper = border_strip(t.shape, 0.02) & (np.abs(t - 1.0) < 0.1)
    if paper.sum() < 50:
        return np.inf
    spread = PAPER_NOISE_TIMES * float(np.percentile(d[paper], 90))
    return np.maximum(spread / np.sqrt(np.clip(t, 0.05, 1.0)), PAPER_NOISE_FLOOR)


def _dark_flat_pieces(candidate: np.ndarray, t: np.ndarray, d: np.ndarray, sigma: np.ndarray, logt: np.ndarray,
                      quiet: np.ndarray, outside: np.ndarray, product_like: np.ndarray) -> np.ndarray:
    """The connected pieces of ``candidate`` that pass the shadow tests (module doc)."""
    import cv2

    h, w = t.shape
    count, labels = cv2.connectedComponents(candidate.astype(np.uint8), connectivity=8)
    out = np.zeros((h, w), bool)
    if count <= 1:
        return out
    areas = np.bincount(labels.ravel(), minlength=count)
    near = cv2.dilate(outside.astype(np.uint8), np.ones((11, 11), np.uint8)).astype(bool)  # across the edge band
    touching = np.zeros(count, bool)
    touching[np.unique(labels[near & candidate])] = True
    for c in np.nonzero(touching & (areas >= MIN_AREA * h * w))[0]:
        if c == 0:
            continue
        region = labels == c
        p10, p25, p50 = np.percentile(logt[region], [10, 25, 50])
        if not np.log(MIN_CORE_T) < p25 < np.log(MAX_CORE_T):
            continue
        flat = _flat(logt, region, quiet)
        if not flat and not (p50 - p10 <= LOOSE_FLAT and float(np.median(d[region] / sigma[region])) <= LOOSE_NEUTRAL):
            continue
        # the core and its penumbra only: product pixels the piece runs into are brighter than
        # the core and farther from it than a hard shadow's penumbra is wide
        core = region & (logt <= p50 + CORE_FLAT / 2)
        penumbra = cv2.dilate(core.astype(np.uint8), np.ones((2 * PENUMBRA + 1,) * 2, np.uint8)).astype(bool)
        region &= penumbra
        r8 = region.astype(np.uint8)
        ring = cv2.dilate(r8, np.ones((21, 21), np.uint8)).astype(bool) & ~cv2.dilate(
            r8, np.ones((7, 7), np.uint8)).astype(bool)
        if not ring.any() or float(outside[ring].mean()) < MIN_OPEN:
            continue
        # a shadow meets its product at the base (or where the product hides it); a dark rim of
        # the product itself runs along the product for half its outline
        rim = cv2.dilate(r8, np.ones((9, 9), np.uint8)).astype(bool) & ~cv2.dilate(
            r8, np.ones((5, 5), np.uint8)).astype(bool)  # past the penumbra and the outline band
        body = cv2.erode(r8, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))).sum() / max(1, r8.sum())
        # a wide shadow on the sweep may run along the product's side; a sliver there is its rim
        along = float(product_like[rim].mean())
        if along > (MAX_ALONG_WIDE if body >= 0.4 else MAX_ALONG_PRODUCT):
            continue
        if not flat and not (float(outside[ring].mean()) >= LOOSE_OPEN and LOOSE_ALONG[0] <= along <= LOOSE_ALONG[1]
                             and body <= LOOSE_BODY):
            continue
        out |= region
    return out


def _between(solid: np.ndarray, reach: int) -> np.ndarray:
    """Bool: pixels with ``solid`` within ``reach`` px on both sides, left and right or above and below."""
    import cv2

    s8 = solid.astype(np.uint8)
    line = np.ones((1, reach + 1), np.uint8)
    # an anchor at one end of the line: the dilation looks only to that side
    left = cv2.dilate(s8, line, anchor=(reach, 0)).astype(bool)
    right = cv2.dilate(s8, line, anchor=(0, 0)).astype(bool)
    up = cv2.dilate(s8, line.T, anchor=(0, reach)).astype(bool)
    down = cv2.dilate(s8, line.T, anchor=(0, 0)).astype(bool)
    return (left & right) | (up & down)


def _log_gradient(t: np.ndarray) -> np.ndarray:
    import cv2

    logt = np.log(np.maximum(cv2.GaussianBlur(t, (0, 0), 0.8), 1e-3))
    return np.hypot(cv2.Sobel(logt, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(logt, cv2.CV_32F, 0, 1, ksize=3)) / 8.0


def _flat(logt: np.ndarray, region: np.ndarray, quiet: np.ndarray) -> bool:
    """The piece's darker half is flat, or (a thin piece, mostly penumbra) its quiet pixels are."""
    values = logt[region]
    p10, p50 = np.percentile(values, [10, 50])
    if p50 - p10 <= CORE_FLAT:
        return True
    calm = logt[region & quiet]
    if calm.size < max(5, QUIET_SHARE * values.size):
        return False
    p10, p90 = np.percentile(calm, [10, 90])
    return bool(p90 - p10 <= QUIET_SPREAD)
