"""The product-evidence pass over a studio backdrop's flood (used by ``prior_classic``).

The backdrop's flood (core/masking/backdrop.py) takes whatever is backdrop-coloured and not fenced
off by an outline. A tone-on-tone product with a gap in its faint outline, a white box's pale face
beside its dark one, a highlight stripe on a white ball: the flood takes them too. The product's
own chroma, texture and light (core/masking/classic_evidence.py) take them back here.
"""

from __future__ import annotations

import numpy as np

from packshot.core.masking.postprocess import clean_mask, erode_disk

FAINT_BELOW = 4.0  # colour distance (border-cluster spreads) under which a product's part is faint


def is_faint(left: np.ndarray, colour_distance: np.ndarray) -> bool:
    """Whether what the backdrop's flood left of the product has a faint part: a quarter of it
    under ``FAINT_BELOW`` spreads from the border's colours (or nothing left). Then the flood may
    have taken more of it. A product that stands out clearly all over was stopped by its outline,
    and the product evidence would only add what looks like it: a glossy floor's reflection."""
    return not left.any() or float(np.percentile(colour_distance[left], 25)) < FAINT_BELOW


def with_product_evidence(small: np.ndarray, backdrop, regions, strip: np.ndarray, faint: bool = True):
    """``regions`` with the product-evidence bodies taken out of the backdrop's flood and its pockets.

    The flood reaches whatever is backdrop-coloured and not fenced off by an outline, and a pocket
    the product encloses is taken for backdrop seen through it; both go wrong on a tone-on-tone
    product whose faint outline has a gap, or whose body the outline encloses. A pocket stays a hole
    only when little of it carries product evidence (a hole shows the bare paper).
    When what the flood left stands out clearly (not ``faint``: a white box's dark side face, its
    pale front flooded), only bodies above the base are taken back and the pockets stay as they are:
    under the base a glossy floor mirrors such a product as strongly as the flood's loss would be.
    """
    import dataclasses

    import cv2

    from packshot.core.masking.classic_evidence import (
        EVIDENCE_LEVEL,
        evidence_bodies,
        evidence_cues,
        light_excess,
        spread,
    )

    # the flood's reach, clear of the outline and the frame: mostly paper, to measure its noise on
    paper = erode_disk(regions.outside, 3) & ~strip
    fit = backdrop
    cues = evidence_cues(small, fit.colour, strip, paper)
    # the backdrop model refits on every pixel its first fit explains, and a tone-on-tone product
    # is among them, bending the field towards its own colour: refit without what the cues call
    # product, and measure again against that paper
    first = evidence_bodies(np.maximum(cues["chroma"], cues["texture"]), min_area=0.0)
    if first.any():
        from packshot.core.masking.backdrop import estimate_backdrop

        refit = estimate_backdrop(small, product=cv2.dilate(first.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0,
                                  work_side=128)  # a smooth field: a small copy is enough
        if refit.is_studio:
            fit = refit
            cues = evidence_cues(small, fit.colour, strip, paper)
    evidence = np.maximum(cues["chroma"], cues["texture"])
    # each cue reaches past the outline as far as its window (and blur): take that back, and leave
    # the outline itself to the flood and GrabCut
    bodies = np.zeros(evidence.shape, bool)
    for name, cue in cues.items():
        bodies |= erode_disk(evidence_bodies(cue), spread(name))
    left = clean_mask(~regions.outside & ~regions.enclosed, hole_fraction=0.01)
    bodies &= ~strip
    light = light_excess(small, fit.colour, strip)
    if not faint:
        # only what joins the product and stays clear of the frame: a vignetting corner's misfit
        # or a wall's bend can carry chroma too
        bodies = _joining(bodies & above_bottom_of(left) & regions.outside, left, strip,
                          min_area=0.5 * float(left.sum()))
        outside = regions.outside & ~bodies
        outside &= ~lit_enclosed(light, outside | regions.enclosed, strip)
        return dataclasses.replace(regions, outside=outside)
    if left.sum() >= 0.002 * left.size:  # (when the flood took it all, there is no base to go by)
        bodies = _without_reflection(bodies, evidence, above_bottom_of(left))
    # pockets are judged on the evidence itself: a hole a few pixels wide has no eroded body, and
    # the bare paper it shows keeps most of it under the level however the window smears its rim
    lit_or_evident = np.maximum(evidence, light) > EVIDENCE_LEVEL
    enclosed = regions.enclosed & ~pockets_with_evidence(regions.enclosed, lit_or_evident)
    outside = regions.outside & ~bodies
    outside &= ~lit_enclosed(light, outside | enclosed, strip)
    return dataclasses.replace(regions, outside=outside, enclosed=enclosed)


def _joining(bodies: np.ndarray, product: np.ndarray, strip: np.ndarray, min_area: float = 0.0) -> np.ndarray:
    """The 8-connected parts of ``bodies`` of at least ``min_area`` px that touch ``product`` (within
    2 px) and come no nearer than 2 px to ``strip``: a pale face the flood took beside a dark one
    the outline kept, not a sliver of shadow along the outline."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(bodies.astype(np.uint8), connectivity=8)
    if count <= 1:
        return bodies
    near = cv2.dilate(product.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    frame = cv2.dilate(strip.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep &= np.isin(np.arange(count), labels[near & bodies])
    keep[np.unique(labels[frame & bodies])] = False
    keep[0] = False
    return keep[labels]


def lit_enclosed(light: np.ndarray, backdrop: np.ndarray, strip: np.ndarray, ring_share: float = 0.5) -> np.ndarray:
    """The lit bodies (``light`` over the evidence level: brighter than the paper) that the product
    rings: at least ``ring_share`` of the band round each is not ``backdrop``, and none reaches the
    frame. A highlight stripe on a white ball, the flood having come in at its faint ends; not a
    sweep's bend or a vignetting misfit, which reach the frame or ring the product themselves."""
    import cv2

    from packshot.core.masking.classic_evidence import evidence_bodies, spread

    lit = evidence_bodies(light)
    count, labels = cv2.connectedComponents(lit.astype(np.uint8), connectivity=8)
    if count <= 1:
        return lit
    # the band just past each body's window reach: what lies beside the lit surface
    ring = cv2.dilate(lit.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & ~lit
    # a ring pixel counts for the body nearby (the bodies are few and apart: a dilated label map will do)
    near = cv2.dilate(labels.astype(np.float32), np.ones((5, 5), np.uint8)).astype(np.int32)
    total = np.bincount(near[ring], minlength=count)
    product = np.bincount(near[ring], weights=(~backdrop[ring]).astype(np.float64), minlength=count)
    touches = np.zeros(count, bool)
    touches[np.unique(labels[strip & lit])] = True
    keep = (product >= ring_share * np.maximum(total, 1)) & ~touches
    keep[0] = False
    return erode_disk(keep[labels], spread("light"))


def _without_reflection(bodies: np.ndarray, evidence: np.ndarray, above: np.ndarray,
                        fainter: float = 0.5) -> np.ndarray:
    """``bodies`` less what lies under the product's base (``above`` is False there) when it is a
    reflection: a glossy floor mirrors the product, fainter (its evidence under ``fainter`` times
    the product's), while a part of the product itself that the flood took is as strong as the rest."""
    below = bodies & ~above
    kept = bodies & above
    if not below.any() or not kept.any():
        return bodies
    if float(np.median(evidence[below])) < fainter * float(np.median(evidence[kept])):
        return kept
    return bodies


def above_bottom_of(mask: np.ndarray, margin: int = 2) -> np.ndarray:
    """Bool: every row from the top down to ``margin`` rows under the lowest of ``mask`` (none when it is empty)."""
    rows = np.zeros_like(mask, dtype=bool)
    if mask.any():
        rows[:int(np.nonzero(mask.any(axis=1))[0].max()) + 1 + margin] = True
    return rows


def pockets_with_evidence(enclosed: np.ndarray, bodies: np.ndarray, share: float = 0.75) -> np.ndarray:
    """The connected parts of ``enclosed`` of which at least ``share`` is product evidence."""
    import cv2

    count, labels = cv2.connectedComponents(enclosed.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros_like(enclosed)
    area = np.bincount(labels.ravel(), minlength=count)
    hit = np.bincount(labels.ravel(), weights=bodies.ravel().astype(np.float64), minlength=count)
    keep = hit >= share * np.maximum(area, 1)
    keep[0] = False
    return keep[labels]
