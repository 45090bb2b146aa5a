"""Product faces the backdrop's flood took, told apart as whole regions (used by ``prior_classic``).

A pale product on paper of nearly its colour (a pale pink box on white) can lose a whole face to
the flood: each pixel reads as paper, because the backdrop's fit, refitted on every pixel it
explains, bends its colour towards the face's (9 % towards pink at a box's centre). Pixel by pixel
that cannot be undone: the face's chroma is within the paper's noise. As a region it is plain:

- the photo's outlines wall it off from the paper the frame reaches (a face's outline is an edge,
  however faint; gaps of a few pixels are closed);
- it keeps the paper's light (a shadow walled off by its own sharp edge is darker);
- its mean chroma (colour over light) is off by ``BODY_CHROMA`` (5 %), and by ``BODY_NOISE`` times
  the paper's own spread, from the paper around it beyond the wall (which must lie on most sides
  of it), and from the backdrop fitted on the paper the frame reaches alone (a face does not bend
  that fit). A region's mean averages the noise away, so a few percent is a clear difference.

The backdrop seen through a hole or between legs is walled off too; it keeps the paper's colour.
A gap between a stool's legs, with the floor's green below it and the white wall above, differs
from the paper beside it by 19 % (a sweep's hue drifts): that paper lies on 3 sides of 8, and the
fitted backdrop says the gap is paper (each check alone keeps it out).
Measured on the corpus (800 x 600, seeds 0, 5, 7, 13 and 21): see the README, round 17.
"""

from __future__ import annotations

import numpy as np

from packshot.core.masking.postprocess import disk

WALL_RADIUS = 3  # px (work size) the outlines are grown by: gaps up to ~6 px are closed
BODY_MIN = 0.02  # share of the mask's area from which a walled-off region is judged
BODY_LIGHT = (0.85, 1.15)  # its median light as a share of the paper's: unshaded
BODY_CHROMA = 0.05  # its mean chroma off the paper's around it (ratio units) ...
BODY_NOISE = 4.0  # ... and this many times the paper's own spread there
RING_SIDES = 4  # of 8 directions round a region in which that paper must lie (a face: 5; a gap between legs: 2)
LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec. 709 luminance of linear RGB
RING = 8  # px past the wall: the paper around a region its chroma is compared with


def walled_off_bodies(small: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pixels (H x W bool) of regions outside ``mask`` that the photo's outlines wall off from the
    frame's paper and whose colour is not the paper's: faces of the product the flood took.
    ``small``: the photo at work size (H x W x 3 uint8) on a studio backdrop; ``mask``: the product so far."""
    import cv2

    from packshot.core.masking.backdrop import narrow_edges, srgb8_to_linear

    h, w = mask.shape
    found = np.zeros((h, w), bool)
    if not mask.any():
        return found
    edges, _ = narrow_edges(small)
    wall = cv2.dilate(edges.astype(np.uint8), disk(WALL_RADIUS)).astype(bool) | mask
    free = ~wall
    count, labels, stats, _ = cv2.connectedComponentsWithStats(free.astype(np.uint8), connectivity=4)
    frame = np.zeros((h, w), bool)
    frame[0, :] = frame[-1, :] = frame[:, 0] = frame[:, -1] = True
    reached = np.zeros(count, bool)
    reached[np.unique(labels[frame & free])] = True
    reached[0] = False
    area = float(mask.sum())
    candidates = [c for c in range(1, count)
                  if not reached[c] and stats[c, cv2.CC_STAT_AREA] >= BODY_MIN * area]
    if not candidates:
        return found
    paper = reached[labels]
    lin = srgb8_to_linear(np.ascontiguousarray(small[:, :, :3]))
    luma = lin @ LUMA
    # chromaticity: the colour with its light divided out, compared with the paper's around the region
    chroma = lin / np.maximum(luma, 1e-4)[..., None]
    passed = []
    for c in candidates:
        region = labels == c
        ring = cv2.dilate(region.astype(np.uint8), disk(2 * WALL_RADIUS + 1 + RING)).astype(bool) & paper
        if ring.sum() < 30 or _sides(region, ring) < RING_SIDES:
            continue  # enclosed by product (a hole), or paper on one side only: no fair comparison
        light = float(np.median(luma[region]) / max(float(np.median(luma[ring])), 1e-4))
        if not BODY_LIGHT[0] <= light <= BODY_LIGHT[1]:
            continue  # a shadow walled off by its own edge, or a highlight
        paper_chroma = chroma[ring].mean(0)
        off = float(np.linalg.norm(chroma[region].mean(0) / paper_chroma - 1.0))
        spread = float((chroma[ring] / paper_chroma - 1.0).std(0).mean())
        if off >= BODY_CHROMA and off >= BODY_NOISE * spread:
            passed.append(region)
    if passed:
        # a sweep's hue drifts across the frame, so the paper beside a region need not be its
        # paper: the region must be off the paper's own model too, fitted on what the frame reaches
        fitted = _off_the_fitted_paper(small, lin, paper)
        for region in passed:
            if fitted(region) >= BODY_CHROMA:
                # back out to the outline the wall was grown from (the outline is unmixed afterwards)
                found |= cv2.dilate(region.astype(np.uint8), disk(WALL_RADIUS)).astype(bool) & ~paper
    return found & ~mask


def _sides(region: np.ndarray, ring: np.ndarray) -> int:
    """In how many of eight directions from the region's centre its paper ring lies (3 % of it or more)."""
    ys, xs = np.nonzero(region)
    ry, rx = np.nonzero(ring)
    sector = ((np.arctan2(ry - ys.mean(), rx - xs.mean()) + np.pi) / (2 * np.pi) * 8).astype(int) % 8
    return int((np.bincount(sector, minlength=8) >= 0.03 * len(ry)).sum())


def _off_the_fitted_paper(small: np.ndarray, lin: np.ndarray, paper: np.ndarray):
    """A function of a region: how far its mean chroma lies off the backdrop fitted on ``paper``
    (a face the flood took does not bend that fit towards its own colour). ``lin``: ``small`` in linear RGB."""
    from packshot.core.masking.backdrop import estimate_backdrop, ratio_and_deviation

    h, w = paper.shape
    backdrop = estimate_backdrop(small, product=~paper, work_side=max(h, w))
    if not backdrop.is_studio:
        return lambda region: 0.0
    light, _ = ratio_and_deviation(small, backdrop)
    ratio = lin / np.maximum(backdrop.colour, 1e-4)
    residual = ratio / np.maximum(light, 1e-3)[..., None] - 1.0  # signed: a region's mean keeps its tint
    return lambda region: float(np.linalg.norm(residual[region].mean(0)))

