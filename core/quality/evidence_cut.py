"""Product cut off where the mask's edge follows no outline: gate evidence (core/quality/mask_evidence.py).

A second opinion on the mask from the backdrop model alone (fitted on the pixels outside the
mask): a pixel that does not fit it (its colour ratio to the backdrop is not neutral beyond the
photo's own noise, or it is brighter than the backdrop) is not backdrop and not its shadow. Such
pixels just outside the mask are the mixed pixels of a real outline, so they count only beside
stretches of the outline that run over smooth pixels: there the mask cut through the product and
the product goes on outside it (a bite, a sliver along a highlight, a face left out).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from packshot.core.masking.postprocess import disk

NOISE_FACTOR = 2.0  # times the backdrop's own 99th-percentile deviation that a pixel must exceed
CUT_DOUBT = 0.005  # share of the mask's area cut off that is suspect (clean allows 1 % lost)
CUT_MAX = 0.6  # an unfitting region larger than this share of the mask is backdrop the model misses


def cut_off_beside_open_outline(m: np.ndarray, support: np.ndarray, t: np.ndarray, d: np.ndarray,
                                sigma: np.ndarray) -> tuple[float, Optional[np.ndarray]]:
    """(share of the mask's area, the region): pixels outside ``m`` that do not fit the backdrop
    model, in regions that start beside outline pixels with no photo edge (``support`` False)."""
    import cv2

    m8 = m.astype(np.uint8)
    outline = m & ~cv2.erode(m8, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE).astype(bool)
    outline[:2, :] = outline[-2:, :] = outline[:, :2] = outline[:, -2:] = False
    far = ~cv2.dilate(m8, disk(8)).astype(bool)
    if far.sum() < 100 or not outline.any():
        return 0.0, None
    z = d / sigma
    threshold = max(1.0, NOISE_FACTOR * float(np.percentile(z[far], 99)))
    unlike = ((z > threshold) | (t > 1.1)) & ~m
    unlike[:2, :] = unlike[-2:, :] = unlike[:, :2] = unlike[:, -2:] = False
    near_edge = cv2.dilate((outline & support).astype(np.uint8), disk(3)).astype(bool)
    start = cv2.dilate((outline & ~support).astype(np.uint8), disk(3)).astype(bool) & ~near_edge & unlike
    unlike = cv2.morphologyEx(unlike.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(unlike.astype(np.uint8), connectivity=8)
    area = float(m.sum())
    keep = np.zeros(count, bool)
    for c in np.unique(labels[start & unlike]):
        if c and stats[c, cv2.CC_STAT_AREA] <= CUT_MAX * area:
            keep[c] = True
    if not keep.any():
        return 0.0, None
    region = keep[labels]
    return float(region.sum() / area), region


def in_holes(m: np.ndarray, region: np.ndarray) -> bool:
    """Whether most of ``region`` (outside ``m``) lies in holes of the mask, not around it."""
    import cv2

    count, labels = cv2.connectedComponents((~m).astype(np.uint8), connectivity=4)
    outer = np.zeros(count, bool)
    outer[np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))] = True
    return float(outer[labels[region]].mean()) < 0.5

