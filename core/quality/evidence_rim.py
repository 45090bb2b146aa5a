"""Where the mask's edge sits against the photo's outline, at a finer size: gate evidence
(core/quality/mask_evidence.py).

The other cues run on a copy 400 px long, where one pixel is 1-3 % of a thin product; a mask whose
edge runs one or two pixels off the product's outline passes them all. This cue looks at the
outline only, at ``RIM_SIDE`` px: for each outline pixel, the centre of the photo's strong
edges (colour gradient above the noise, squared so the strongest edge leads) within
``BAND`` px across the outline, as a signed distance (negative: inside the mask). A mask that
sits on the outline has that centre near zero. Where the strongest edge runs inside the mask, the
mask goes on past the product's outline (a rim of backdrop kept) or stops at an inner outline (a
part beyond it left out). Summed along the outline, as a share of the mask's area, that is the
area between the two: over ``RIM_DOUBT`` the mask is doubtful.

Measured on the development seeds 5, 7 and 13 (N=300 each, classic masker; the other cues as
landed): 19 wrong masks caught that no other cue flagged (among them a chair losing 31 % of the
product, its grey legs, and dark tubes and bottles losing 56-78 %), for 12 clean masks flagged,
mostly thin parts (stools, lamps, headphones) whose stripes run close inside the outline. At 0.03:
11 for 6. Measured and dropped: the outermost strong edge instead of the centre (no clean mask
flagged, but 7 catches in all; the big losses along an inner outline are not found that way).

Round 14: an outline pixel counts only where the mask's own edge (within a pixel) holds under
``ON_MASK_EDGE`` of the edge weight across the band. A mask that keeps a rim of paper has its edge
on smooth paper; a right mask of a product with a stripe just inside its outline has its edge on
that outline, and the stripe pulled the centre in (development seeds, clean : wrong masks flagged by
this cue alone, 32 : 6). With the bar lowered from 0.025 to ``RIM_DOUBT``, development seeds 5, 7,
13 and 21 (1200 scenes, masker and gate as a batch runs them): 21 clean masks no longer flagged, 6
newly flagged (dark or glossy-floor masks keeping a rim of paper, within the clean line), 1 wrong
mask newly caught (a hard-shadow scene losing 4.3 %, silent before), none let through: false flags
15.9 -> 14.5 %, recall 92.5 -> 93.2 %. Bars of 0.009-0.015 flag 5-15 fewer clean masks and let
2-5 wrong ones through. What it no longer sees: a rim one pixel wide (the outline is then within a
pixel of the mask's edge: a stool on the tests' seed 11, IoU 0.946) and a part left out beyond an
inner outline the mask's edge is on (a chair's pale back post, 5 % of it, on the confirmation seed
0). Counting the first pixel past the mask's edge instead caught both, but flagged true masks beside
a hard shadow and dark-paper masks keeping their usual pixel of paper; asking that what lies past
the edge be off the backdrop model flagged 19 more clean masks of seed 0's 300.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

RIM_SIDE = 800  # the cue's work size (long side, px), where it was measured: a larger photo is scaled
# down to it; a smaller one is not judged (the edge's blur is a fixed number of pixels, so the same
# offset is a larger share of a smaller product: at 480 px it flagged 44 % of clean corpus masks)
BAND = 3.5  # px across the outline, each side, searched for the photo's edge
WINDOW = 7  # px: edges are pooled over this square around each outline pixel
RIM_DOUBT = 0.007  # area between the mask's edge and the photo's stronger inner edge, share of the mask
ON_MASK_EDGE = 0.2  # share of the band's edge weight on the mask's own edge (within a pixel) under which
# the mask's edge is on no outline of its own: past it, a product's inner stripe pulls the centre in


def edge_inside_mask(rgb8: np.ndarray, mask: np.ndarray) -> tuple[float, Optional[np.ndarray]]:
    """(share of the mask's area, the outline pixels concerned, at ``RIM_SIDE`` px): how far the
    photo's strongest edges run inside the mask's outline, summed; (0, None) below that size."""
    import cv2

    from packshot.core.masking.backdrop import colour_gradient

    h, w = mask.shape
    if max(h, w) < RIM_SIDE:
        return 0.0, None
    factor = RIM_SIDE / max(h, w)
    rgb = np.ascontiguousarray(rgb8[:, :, :3])
    m = mask.astype(bool)
    if factor < 1.0:
        size = (max(8, round(w * factor)), max(8, round(h * factor)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        m = cv2.resize(m.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
    area = float(m.sum())
    if area < 50:
        return 0.0, None
    grad = colour_gradient(rgb, 0.7)
    m8 = m.astype(np.uint8)
    depth_in = cv2.distanceTransform(m8, cv2.DIST_L2, 3)
    depth_out = cv2.distanceTransform(1 - m8, cv2.DIST_L2, 3)
    signed = np.where(m, -(depth_in - 0.5), depth_out - 0.5).astype(np.float32)  # < 0 inside
    band = np.abs(signed) <= BAND
    if band.all():
        return 0.0, None
    noise = float(np.median(grad[~band]))
    weight = (np.maximum(grad - 2.0 * noise, 0.0) ** 2) * band
    num = cv2.boxFilter(weight * signed, -1, (WINDOW, WINDOW), normalize=False)
    den = cv2.boxFilter(weight, -1, (WINDOW, WINDOW), normalize=False)
    on_edge = cv2.boxFilter(weight * (np.abs(signed) <= 1.0), -1, (WINDOW, WINDOW), normalize=False)
    outline = m & (depth_in <= 1.0)
    outline[:2, :] = outline[-2:, :] = outline[:, :2] = outline[:, -2:] = False
    judged = outline & (den > WINDOW * (4.0 * noise) ** 2)  # a real edge nearby, not noise
    judged &= on_edge < ON_MASK_EDGE * den  # where the mask's edge is itself on an outline, it is the product's
    if not judged.any():
        return 0.0, None
    offset = np.zeros_like(signed)
    offset[judged] = num[judged] / den[judged]
    inside = np.clip(-offset, 0.0, None) * judged
    share = float(inside.sum() / area)
    return share, (inside > 0.5)
