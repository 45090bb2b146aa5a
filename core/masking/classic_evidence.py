"""What tells a product from its studio backdrop when their colours are a few ΔE apart.

The backdrop model (core/masking/backdrop.py) gives the clean backdrop's colour at every pixel.
A shadow on it is that colour times one neutral factor, and the paper itself carries nothing but
sensor noise. A product, even one of nearly the backdrop's colour, differs in ways that survive
averaging over a small window, where the noise does not:

- chroma: its colour divided by the backdrop's is not neutral (a beige box on beige paper has a
  slightly different hue or saturation); measured on the neutral-normalised ratio, so a shadow,
  which only darkens, scores zero;
- texture: its material has fine structure; the paper has only noise.

(Being brighter than the backdrop would be a third cue, as a shadow never is; but neither is a
sweep's bend, which the quadratic field does not follow, so it is left out.)

Each cue is expressed in units of what it reads on the frame's border strip (mostly paper), so
one threshold holds on white, beige, coloured and near-black backdrops and at any noise level.
"""

from __future__ import annotations

import numpy as np

WINDOW = 7  # px at work size: averaging over 49 pixels cuts the noise seven-fold
WIDE_WINDOW = 15  # and over 225 for the wide chroma cue: a large body tinted under the 7 px noise
NOISE_PERCENTILE = 95  # the border's spread: this percentile of each cue along the strip
MIN_CHROMA = 0.006  # neutral-ratio deviation below which no photo calls a pixel coloured (JPEG, rounding)
# ... on paper this light (its sRGB level, 0-1) or lighter. 8-bit JPEG rounds a smooth patch's colour
# by about a level per channel, the same way across the patch, and a level is a larger share of a
# darker colour: in linear light 2.4 / level of it. So on darker paper the floor rises as 1 / level
# (a shadow on paper at level 0.16 read 2 % off neutral against the fitted paper: over four units)
CHROMA_FLOOR_LEVEL = 0.78
MIN_TEXTURE = 0.004  # and a texture energy (log-light units)
EVIDENCE_LEVEL = 1.5  # product_evidence above this: more than the border's 95th percentile by half
PAPER_PERCENTILE = 80  # of a cue over the flood's reach (some of it may be product the flood took)
MIN_LIGHT = 0.01  # share of light above the fitted backdrop below which no window counts as lit (fit error)


def chroma_offset(lin: np.ndarray, backdrop_lin: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Window mean of how far each pixel's colour ratio to the backdrop is from neutral (0 = backdrop or its shadow).

    ``lin`` and ``backdrop_lin`` are H x W x 3 linear RGB. The ratio is divided by its luminance-
    weighted mean so a uniform darkening (a shadow) gives exactly (1, 1, 1).
    """
    import cv2

    bd = np.maximum(backdrop_lin, 1e-4)
    ratio = lin / bd
    weights = np.array([0.2126, 0.7152, 0.0722], np.float32)
    t = (ratio * (bd * weights)).sum(-1) / (bd * weights).sum(-1)
    dev = (ratio / np.maximum(t, 2e-2)[..., None] - 1.0).astype(np.float32)
    dev = cv2.blur(dev, (window, window))
    return np.linalg.norm(dev, axis=-1).astype(np.float32)


def texture_energy(lin: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Window RMS of the fine detail (log light minus its 1.5 px blur): material structure, or noise."""
    import cv2

    y = lin @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    logy = np.log(np.maximum(y, 2e-3)).astype(np.float32)
    fine = logy - cv2.GaussianBlur(logy, (0, 0), 1.5)
    return np.sqrt(np.maximum(cv2.blur(fine * fine, (window, window)), 0.0))


def evidence_cues(rgb8: np.ndarray, backdrop_lin: np.ndarray, strip: np.ndarray,
                  paper: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """{"chroma": ..., "texture": ..., "chroma_wide": ...}: each cue in units of its spread along the
    frame's border (``chroma_wide``: the chroma averaged over ``WIDE_WINDOW``, for a large body tinted
    too faintly for the 7 px window).

    Above 1: the pixel's neighbourhood differs from the backdrop more than almost any stretch of the
    frame's border does. ``strip`` marks the border pixels (their noise is the unit); ``backdrop_lin``
    is the fitted clean backdrop (``Backdrop.colour``) at ``rgb8``'s size. ``paper`` (optional) marks
    what the backdrop's flood reached: mostly paper, and the paper by the product can be noisier than
    at the frame (the fit bends less well there); its ``PAPER_PERCENTILE`` raises the unit to match.
    """
    import cv2

    from packshot.core.masking.backdrop import srgb8_to_linear

    lin = srgb8_to_linear(np.ascontiguousarray(rgb8[:, :, :3]))
    # relative noise grows as the light falls (a camera's noise, added in gamma space, is about
    # 1 / sqrt of the level in linear terms): in a shadow, the paper's noise is scaled back down
    weights = np.array([0.2126, 0.7152, 0.0722], np.float32)
    level = cv2.blur((lin @ weights) / np.maximum(backdrop_lin @ weights, 1e-4), (WINDOW, WINDOW))
    damp = np.sqrt(np.clip(level, 0.05, 1.0)).astype(np.float32)
    paper_level = float(np.median(rgb8[strip][:, :3].astype(np.float32).mean(-1))) / 255.0 if strip.any() else 1.0
    chroma_floor = MIN_CHROMA * max(1.0, CHROMA_FLOOR_LEVEL / max(paper_level, 1e-3))
    cues = {"chroma": (chroma_offset(lin, backdrop_lin), chroma_floor), "texture": (texture_energy(lin), MIN_TEXTURE),
            "chroma_wide": (chroma_offset(lin, backdrop_lin, WIDE_WINDOW), chroma_floor)}
    out = {}
    for name, (cue, floor) in cues.items():
        cue = cue * damp
        unit = max(float(np.percentile(cue[strip], NOISE_PERCENTILE)), floor)
        if name == "chroma_wide" and paper is not None and paper.sum() > strip.sum():
            unit = max(unit, float(np.percentile(cue[paper], PAPER_PERCENTILE)))
        out[name] = (cue / unit).astype(np.float32)
    return out


def light_excess(rgb8: np.ndarray, backdrop_lin: np.ndarray, strip: np.ndarray) -> np.ndarray:
    """H x W float32: how much brighter than the clean backdrop each pixel's window is, in units of
    its spread along the frame's border (at least ``MIN_LIGHT``); 0 where it is not brighter.

    A highlight, or the lit face of a white product on white paper, adds light; the paper and its
    shadows never do. But a sweep's bend and a vignetting field the quadratic fit misses do too: they
    reach the frame or surround the product, so the caller keeps only what the product encloses.
    """
    import cv2

    from packshot.core.masking.backdrop import srgb8_to_linear

    lin = srgb8_to_linear(np.ascontiguousarray(rgb8[:, :, :3]))
    weights = np.array([0.2126, 0.7152, 0.0722], np.float32)
    level = cv2.blur((lin @ weights) / np.maximum(backdrop_lin @ weights, 1e-4), (WINDOW, WINDOW))
    excess = np.maximum(level - 1.0, 0.0).astype(np.float32)
    unit = max(float(np.percentile(excess[strip], NOISE_PERCENTILE)), MIN_LIGHT)
    return excess / unit


def product_evidence(rgb8: np.ndarray, backdrop_lin: np.ndarray, strip: np.ndarray) -> np.ndarray:
    """H x W float32: the stronger of the chroma and texture cues (``evidence_cues``)."""
    cues = evidence_cues(rgb8, backdrop_lin, strip)
    return np.maximum(cues["chroma"], cues["texture"])


def spread(cue: str) -> int:
    """How many px past an outline a cue reaches (its window, and the texture's blur)."""
    return (WIDE_WINDOW if cue == "chroma_wide" else WINDOW) // 2 + (2 if cue == "texture" else 0)


def evidence_bodies(evidence: np.ndarray, level: float = EVIDENCE_LEVEL, min_area: float = 0.0005) -> np.ndarray:
    """Bool: the parts of ``evidence > level`` with a body (they survive a 3 x 3 opening) and at least
    ``min_area`` of the frame: a product's surface, not the odd noisy window on the paper."""
    import cv2

    above = cv2.morphologyEx((evidence > level).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(above, connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area * evidence.size
    keep[0] = False
    return keep[labels]
