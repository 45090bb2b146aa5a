"""Holes in a mask that the photo does not back: gate evidence (core/quality/mask_evidence.py).

Mistakes that leave a mask's outline where the photo has none, or no outline where it has one:

- a **hole with no outline**: a hole through a real product (a mug's handle) has the product's
  edge all round it. A hole whose rim runs over smooth pixels is a patch of the product (a white
  highlight, a label the colour of the backdrop) that the masker left out.
- a **filled hole**: a region enclosed by the mask that is the backdrop itself (its colour and its
  brightness, smooth) is the backdrop seen through the product, kept as product. A shadow or
  glass darkens what it shows; this one is the backdrop unchanged. It has the paper's own
  statistics (brightness within 2 %, no more tint or grain than the paper); a white product's face
  within 5 % of the paper has its own (on the development seeds, before this test, such faces were
  the only filled holes named: 3 correct white-on-white masks flagged, no wrong mask caught).

- a **hole that is not the backdrop**: a hole through a product shows the backdrop (or its
  shadow: the same colour, darker). A hole whose pixels do not fit the backdrop model at all (the
  inside of a glass, a face of the product) is product left out.

All work on the gate's work copy (a few hundred px long) and cost a few milliseconds.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

HOLE_MIN = 0.002  # a hole is judged from this share of the mask's area (smaller: specks)
HOLE_RIM_OFF = 0.5  # share of a hole's rim over smooth pixels above which it is no real hole
HOLE_DOUBT = 0.002  # share of the product in holes with no outline that is suspect
FILLED_MIN = 0.02  # an enclosed backdrop region is reported from this share of the mask
BACKDROP_EXACT = 0.05  # within this share of the backdrop's brightness it is the backdrop unchanged
NOT_BACKDROP_MIN = 0.005  # a hole that is not the backdrop is reported from this share of the mask
FILLED_BRIGHTNESS = 0.02  # the paper seen through a hole: its median brightness within this share of the paper's
FILLED_CHROMA = 0.5  # ... its median colour deviation (in noise units) at most this
FILLED_GRAIN = 1.5  # ... and its grain at most this times the paper's
NOISE_FACTOR = 2.0  # times the backdrop's own 99th-percentile colour deviation that is not the backdrop


def holes_without_outline(m: np.ndarray, support: np.ndarray) -> tuple[float, Optional[np.ndarray]]:
    """(share of the mask's area, the holes): holes in ``m`` whose rim mostly has no photo edge
    (``support``: pixels within reach of an edge)."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats((~m).astype(np.uint8), connectivity=4)
    outer = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    area = float(m.sum())
    found = np.zeros(m.shape, bool)
    total = 0
    for c in range(1, count):
        size = int(stats[c, cv2.CC_STAT_AREA])
        if c in outer or size < HOLE_MIN * area:
            continue
        x, y, w, h = (int(v) for v in stats[c, :4])
        y0, x0 = max(0, y - 2), max(0, x - 2)
        hole = labels[y0:y + h + 2, x0:x + w + 2] == c
        rim = cv2.dilate(hole.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~hole
        off = float((rim & ~support[y0:y + h + 2, x0:x + w + 2]).sum() / max(1, rim.sum()))
        if off > HOLE_RIM_OFF:
            found[y0:y + h + 2, x0:x + w + 2] |= hole
            total += size
    return total / max(1.0, area), (found if total else None)


def filled_holes(m: np.ndarray, edges: np.ndarray, t: np.ndarray, d: np.ndarray, sigma: np.ndarray,
                 reaches_out) -> tuple[float, Optional[np.ndarray]]:
    """(share of the mask, the regions): smooth regions inside ``m``, enclosed by it, that are the
    backdrop unchanged (``t`` within ``BACKDROP_EXACT`` of 1, neutral colour ratio ``d``)."""
    import cv2

    area = float(m.sum())
    inside = cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    smooth = ~cv2.dilate(edges.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    exact = inside & smooth & (d < 1.5 * sigma) & (np.abs(t - 1.0) < BACKDROP_EXACT)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(exact.astype(np.uint8), connectivity=8)
    paper = ~cv2.dilate(m.astype(np.uint8), np.ones((17, 17), np.uint8)).astype(bool)
    if paper.sum() < 100:
        paper = ~m
    z = d / sigma
    found = np.zeros(m.shape, bool)
    total = 0
    for c in range(1, count):
        size = int(stats[c, cv2.CC_STAT_AREA])
        if size < FILLED_MIN * area:
            continue
        region = labels == c
        # one that reaches the outline is a kept corner or shadow; one with its own tint or grain
        # is a face of a white product, not the paper seen through a hole
        if not reaches_out(region, m) and _paper_unchanged(region, t, z, paper):
            found |= region
            total += size
    return total / max(1.0, area), (found if total else None)


def _paper_unchanged(region: np.ndarray, t: np.ndarray, z: np.ndarray, paper: np.ndarray) -> bool:
    """Whether ``region`` has the paper's own statistics: its brightness, no more colour deviation
    than the paper shows, and no more grain (a white face of the product has its own grain or tint)."""
    def spread(v: np.ndarray) -> float:
        return 1.4826 * float(np.median(np.abs(v - np.median(v))))

    tr = t[region]
    return (abs(float(np.median(tr)) - 1.0) <= FILLED_BRIGHTNESS
            and float(np.median(z[region])) <= FILLED_CHROMA
            and spread(tr) <= FILLED_GRAIN * max(1e-3, spread(t[paper])))


def holes_not_backdrop(m: np.ndarray, t: np.ndarray, d: np.ndarray,
                       sigma: np.ndarray) -> tuple[float, Optional[np.ndarray]]:
    """(share of the mask's area, the holes): holes in ``m`` (from ``NOT_BACKDROP_MIN`` of its area)
    whose pixels mostly do not fit the backdrop model: colour ratio not neutral beyond the backdrop's
    own noise (its 99th percentile away from the mask), or brighter than the backdrop."""
    import cv2

    far = ~cv2.dilate(m.astype(np.uint8), np.ones((17, 17), np.uint8)).astype(bool)
    if far.sum() < 100:
        return 0.0, None
    z = d / sigma
    unlike = (z > max(1.0, NOISE_FACTOR * float(np.percentile(z[far], 99)))) | (t > 1.1)
    count, labels, stats, _ = cv2.connectedComponentsWithStats((~m).astype(np.uint8), connectivity=4)
    outer = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    area = float(m.sum())
    found = np.zeros(m.shape, bool)
    for c in range(1, count):
        if c in outer or stats[c, cv2.CC_STAT_AREA] < NOT_BACKDROP_MIN * area:
            continue
        hole = labels == c
        core = cv2.erode(hole.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)  # not its mixed rim
        if core.sum() >= 10 and unlike[core].mean() > 0.5:
            found |= hole
    total = int(found.sum())
    return total / max(1.0, area), (found if total else None)
