"""A dark studio backdrop (black or deep-coloured paper) and the product standing on it.

On near-black paper the tests that work on white paper (``backdrop.py``: the pixel's colour over
the paper's, neutral and at most as bright) fail: noise and JPEG of a few 8-bit levels are 10-30 %
of a dark paper's light, so one pixel's ratio says little, and its log-gradient is mostly noise.
But the camera's noise is about the same number of 8-bit levels everywhere and the paper is smooth,
while a product 3-12 ΔE away from it is a third of its light away. So everything here is measured
in units of what the frame's border shows after a light blur:

1. the paper's colour: a quadratic per (gamma-encoded) channel fitted robustly to the border, plus
   an offset per row taken from the left and right strips (a sweep's wall and floor lit differently);
2. the border's noise per channel, after the same blur;
3. a pixel is *paper* when, after the blur, it is the paper's colour times one factor in linear light
   (clean, or in a shadow) to within ``PAPER_NOISE`` noise units, and not brighter than the paper;
4. outlines: gradients that stand out of the border's own gradients (``EDGE_FACTOR`` times their
   99th percentile) and are narrow (a shadow's rim is wide); where JPEG has flattened the border to
   one level, its gradients say nothing of the steps JPEG makes elsewhere (ringing beside a strong
   outline, a shadow's ramp in steps), so a second flood there does not stop at gradients that are a
   small share of the strongest near them, and what it reaches within a band beside the first is paper;
5. the backdrop is the paper that the frame reaches without crossing an outline; a pocket of clean
   paper the product encloses (a handle's loop) is backdrop too. The product is the rest, less a
   glossy floor's mirror image of it (``backdrop_reflection.py``, asked to explain more of the rows);
6. its outline is unmixed (``unmix_dark``); what stands off the paper inside it stays product.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from packshot.core.masking.backdrop import (
    Backdrop,
    border_strip,
    linear_to_srgb,
    srgb8_to_linear,
)
from packshot.core.masking.backdrop_reflection import floor_reflection

BLUR = 1.2  # px at the work size: averages the noise of ~18 pixels, keeps an outline within a pixel
EDGE_BLUR = 0.8  # a finer blur for the outline test
PAPER_NOISE = 4.0  # noise units (3 channels together) within which a pixel is paper, clean or shaded
BRIGHTER = 2.5  # noise units (along the paper's colour) above which a pixel is brighter than the paper
SHADOW_MIN = 0.12  # the darkest shadow, as a share of the paper's light
EDGE_FACTOR = 1.6  # an outline's gradient: this many times the border's 99th-percentile gradient
EDGE_CLOSE = 7  # px: gaps an outline may have
EDGE_THICKEN = 3  # px: the outline's width once closed
# The prior uses this model only on photos at least 1.5 times its work size: there the downscale
# has averaged the pixel noise this model measures. (On the 30 seed-11 corpus scenes at 480 px, just
# above the work size, it made 3 masks unclean and none clean.)
NARROW_RATIO = 1.3  # and this many times its gradient at a coarse blur (a shadow's rim is wide)
# and, on a border JPEG has flattened, at least this share of the strongest gradient within RING_REACH
# px: JPEG's ringing beside a strong outline and the steps it quantises a shadow's ramp into are weaker
# (dev seeds 5+7, 60 dark scenes, with the unmixing's keep below: 0.3 / 0.4 the same clean count)
RING_SHARE = 0.3
# px at the work size: JPEG rings within its 16 px colour blocks, 8 work px at the benchmark's
# 800 px (6 / 8 / 10 px: the same clean count); also the band's width past the first flood
RING_REACH = 8
FLAT_SPREAD = 0.05  # 8-bit levels: the border's gradient spread under which JPEG has flattened it
SMOOTH_BORDER = 0.85  # share of the border that must be paper for the model to hold
CONTACT_LIGHT = 0.9  # a contact shadow under the base keeps less than this share of the paper's light
POCKET_MIN = 0.002  # an enclosed pocket of clean paper at least this share of the frame is a hole
POCKET_CLEAN = 0.85  # its light: at least this share of the paper's
NOISE_FLOOR = 0.8  # 8-bit levels: the least noise assumed per channel
REFITS = 2  # local refits of the paper's colour
LOCAL_SIGMA = 0.04  # their reach, a share of the long side
OUTLINE_BLUR = 1.0  # px: the blur (at either size) under which the outline is unmixed
UNMIX_CONTRAST = 4.0  # noise units between product and paper under which an outline pixel keeps its label
UNMIX_HALF = 0.2  # the share of product at which an outline pixel is product (a product's darker rim
# reads as part paper; 0.2 / 0.4: 117 / 112 clean of 170 development scenes)
# the same at full size, under a finer blur: 0.3 under 1 px kept a rim of paper about a pixel wide
# all round (kept paper per outline pixel, median of clean masks: 0.89 against 0.20 on light paper)
FULL_HALF = 0.4
FULL_BLUR = 0.7
WORK_BAND = 3  # px at the work size: how far the flood's outline may be off
# the share of a glossy floor's rows the mirror model must explain (backdrop_reflection.py): more than
# on light paper, because a dark product's own shading fades towards the floor much as a reflection does
REFLECTION_EXPLAINED = 0.75


@dataclass
class DarkPaper:
    """The fitted paper and its noise, at the work size."""

    fit: np.ndarray  # H x W x 3 float32, sRGB 0..1 (gamma-encoded, like the noise)
    noise: np.ndarray  # 3 float32: the blurred border residual's spread per channel
    paper: np.ndarray  # H x W bool: paper-coloured, clean or shaded
    clean: np.ndarray  # H x W bool: paper-coloured and unshaded
    border_share: float  # share of the border that is paper
    light: np.ndarray  # H x W float32: the pixel's linear luminance over the paper's


def is_dark(backdrop: Backdrop) -> bool:
    """Whether ``estimate_backdrop`` turned the photo down for being too dark: its border follows one
    smooth colour, but under ``backdrop.MIN_LUMINANCE`` of full light. (Routing dim studio backdrops,
    up to 0.04, here too was measured: no better on seed 7, 70 % clean either way.)"""
    return bool(backdrop.details.get("too_dark"))


def fit_paper(small: np.ndarray) -> DarkPaper:
    """The dark paper's colour, noise and extent in ``small`` (H x W x 3 uint8, a few hundred px)."""
    import cv2

    g = small[:, :, :3].astype(np.float32) / 255.0
    h, w = g.shape[:2]
    strip = border_strip((h, w))
    blur = cv2.GaussianBlur(g, (0, 0), BLUR)
    fit = _robust_quadratic(blur, strip)
    fit = fit + _row_offsets(blur - fit, strip)
    noise = _noise(blur - fit, strip)
    paper, clean, light = _paper(blur, fit, noise)
    # vignetting and a sweep's bend are not quite quadratic: refit locally on the clean paper found
    for _ in range(REFITS):
        fit = _local_fit(blur, clean, fit)
        noise = _noise(blur - fit, strip & clean)
        paper, clean, light = _paper(blur, fit, noise)
    return DarkPaper(fit.astype(np.float32), noise, paper, clean, float(paper[strip].mean()), light)


def _noise(res: np.ndarray, where: np.ndarray) -> np.ndarray:
    """The residual's spread per channel over ``where``, at least ``NOISE_FLOOR`` (JPEG flattens dark
    paper to one 8-bit level and then steps its colour by one or two)."""
    spread = _spread(res[where]) if where.sum() >= 50 else np.zeros(3, np.float32)
    return np.maximum(spread, NOISE_FLOOR / 255.0).astype(np.float32)


def _local_fit(blur: np.ndarray, clean: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """The paper's colour as a wide weighted average of the clean paper around each pixel; the
    previous fit where little clean paper is near (under the product)."""
    import cv2

    h, w = clean.shape
    sigma = LOCAL_SIGMA * max(h, w)
    weight = clean.astype(np.float32)
    wsum = cv2.GaussianBlur(weight, (0, 0), sigma)
    total = cv2.GaussianBlur((blur - fallback) * weight[..., None], (0, 0), sigma)
    return fallback + total / np.maximum(wsum, 0.05)[..., None] * np.clip(wsum / 0.05, 0.0, 1.0)[..., None]


def _spread(values: np.ndarray) -> np.ndarray:
    med = np.median(values, axis=0)
    return 1.4826 * np.median(np.abs(values - med), axis=0)


def _basis(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xx, yy = (xx + 0.5) / w - 0.5, (yy + 0.5) / h - 0.5
    return np.stack([np.ones_like(xx), xx, yy, xx * xx, yy * yy, xx * yy], axis=-1)


def _robust_quadratic(img: np.ndarray, strip: np.ndarray, rounds: int = 4) -> np.ndarray:
    """A quadratic per channel fitted to ``strip``, refitted without what lies far off it (the product
    or a shadow touching the frame)."""
    h, w = strip.shape
    basis = _basis(h, w)
    a, v = basis[strip], img[strip]
    keep = np.ones(len(a), bool)
    coef = np.zeros((6, 3), np.float32)
    for _ in range(rounds):
        coef, *_ = np.linalg.lstsq(a[keep], v[keep], rcond=None)
        r = v - a @ coef
        z = np.abs(r) / np.maximum(_spread(r[keep]), 1e-4)
        keep = (z < 3.0).all(axis=1)
        if keep.sum() < 50:
            break
    return (basis @ coef).astype(np.float32)


def _row_offsets(res: np.ndarray, strip: np.ndarray) -> np.ndarray:
    """Per-row offsets (H x 1 x 3) from the left and right strips' residuals: the bend of a sweep
    from wall to floor runs across the whole frame and a quadratic does not follow its step."""
    import cv2

    h, w = strip.shape
    width = max(2, int(round(0.04 * min(h, w))))
    left, right = np.median(res[:, :width], axis=1), np.median(res[:, -width:], axis=1)  # H x 3
    # both sides must agree: a shadow or the product at one side is not the sweep's bend
    rows = np.where(left * right > 0, np.where(np.abs(left) < np.abs(right), left, right), 0.0)
    rows = cv2.GaussianBlur(rows[:, None, :].astype(np.float32), (1, 0), sigmaX=0, sigmaY=max(2.0, 0.015 * h))
    return rows.reshape(h, 1, 3)


def _paper(blur: np.ndarray, fit: np.ndarray, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(paper, clean, light): pixels that are the paper times one factor in linear light to within the
    noise (not brighter than the paper), those of them that are unshaded, and that factor."""
    fit_lin = _to_linear(fit)
    lin = _to_linear(np.clip(blur, 0.0, 1.0))
    luma = np.array([0.2126, 0.7152, 0.0722], np.float32)
    s = (lin @ luma) / np.maximum(fit_lin @ luma, 1e-5)
    s_clip = np.clip(s, SHADOW_MIN, 1.0)
    predicted = linear_to_srgb(fit_lin * s_clip[..., None])
    z = (blur - predicted) / noise
    off = np.sqrt((z * z).sum(-1))
    # brighter than the paper by more than the noise: along the paper's colour direction
    bright = ((blur - fit) / noise).sum(-1) / np.sqrt(3.0)
    paper = (off < PAPER_NOISE) & (bright < BRIGHTER) & (s > SHADOW_MIN)
    clean = paper & (s > POCKET_CLEAN)
    return paper, clean, s.astype(np.float32)


def _to_linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4).astype(np.float32)


def outlines(small: np.ndarray, noise_from: np.ndarray, ringing: bool = False) -> np.ndarray:
    """Narrow gradients that stand out of those over ``noise_from`` (the frame's border); with
    ``ringing``, where JPEG has flattened that border, not those a small share of the strongest near them."""
    import cv2

    g = small[:, :, :3].astype(np.float32) / 255.0

    def grad(sigma: float) -> np.ndarray:
        b = cv2.GaussianBlur(g, (0, 0), sigma)
        gx = cv2.Sobel(b, cv2.CV_32F, 1, 0, ksize=3) / 8.0
        gy = cv2.Sobel(b, cv2.CV_32F, 0, 1, ksize=3) / 8.0
        return gx, gy

    gx, gy = grad(EDGE_BLUR)
    # per channel in units of its own noise, then together
    spread = _spread(gx[noise_from]) + _spread(gy[noise_from])
    scale = np.maximum(spread, 1e-5)
    fine = np.sqrt(((gx / scale) ** 2 + (gy / scale) ** 2).sum(-1))
    cx, cy = grad(2.5)
    coarse = np.sqrt(((cx / scale) ** 2 + (cy / scale) ** 2).sum(-1))
    threshold = EDGE_FACTOR * float(np.percentile(fine[noise_from], 99))
    edges = (fine > threshold) & (fine > NARROW_RATIO * coarse)
    if ringing and float(np.median(spread)) < FLAT_SPREAD / 255.0:
        # JPEG has flattened the border to one level: its gradients say nothing of the steps JPEG
        # makes elsewhere (ringing beside a strong outline, a shadow's ramp in steps); those are a
        # small share of the strongest gradient near them. (Where sensor noise survives JPEG, the
        # border's gradients hold those steps already, and a dark product's faint outline beside
        # its highlight must not be taken for them.)
        ring = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * RING_REACH + 1, 2 * RING_REACH + 1))
        edges &= fine >= RING_SHARE * cv2.dilate(fine, ring)
    # gaps of a few px closed, then thickened: one weak spot along an outline must not let the flood in
    closed = cv2.morphologyEx(edges.astype(np.uint8), cv2.MORPH_CLOSE,
                              cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (EDGE_CLOSE, EDGE_CLOSE)))
    return cv2.dilate(closed, np.ones((EDGE_THICKEN, EDGE_THICKEN), np.uint8)).astype(bool)


def dark_product_mask(small: np.ndarray) -> Optional[tuple[np.ndarray, dict, DarkPaper]]:
    """(mask, details, paper) of the product on a dark paper in ``small``; None when the paper model does not
    hold (the border is not smooth paper) or leaves nothing (or nearly everything) as product."""
    import cv2

    from packshot.core.masking.postprocess import clean_mask

    h, w = small.shape[:2]
    paper = fit_paper(small)
    details = {"dark_border_share": round(paper.border_share, 3),
               "dark_noise8": [round(float(v) * 255, 2) for v in paper.noise]}
    if paper.border_share < SMOOTH_BORDER:
        return None
    strip = border_strip((h, w))
    edges = outlines(small, strip & paper.paper)
    outside, labels, reach = _flood(paper.paper & ~edges)
    outside |= _ringing_band(small, strip & paper.paper, paper.paper, outside)
    # the outline band between the flood and the product: the paper's pixels there go with the side
    # whose light they share (a shadow runs on up to the product)
    for _ in range(3):
        grow = paper.paper & ~outside & cv2.dilate(outside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        grow &= ~cv2.erode(edges.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        if not grow.any():
            break
        outside |= grow
    # pockets of clean paper the product encloses: the backdrop seen through a handle
    count = len(reach)
    areas = np.bincount(labels.ravel(), minlength=count)
    clean_share = np.bincount(labels.ravel(), weights=paper.clean.ravel().astype(np.float64), minlength=count)
    pocket = ~reach & (areas >= POCKET_MIN * h * w) & (clean_share >= 0.8 * np.maximum(areas, 1))
    pocket[0] = False
    enclosed = pocket[labels]
    outside |= _contact_shadow(~outside & ~enclosed, paper)
    mask = clean_mask(~outside & ~enclosed, hole_fraction=0.01)
    # a glossy floor's mirror image of the product: off the paper's colour, so the flood kept it
    reflection = floor_reflection(srgb8_to_linear(np.ascontiguousarray(small[:, :, :3])), _to_linear(paper.fit),
                                  mask, min_explained=REFLECTION_EXPLAINED) if mask.any() else mask
    if reflection.any():
        mask = clean_mask(mask & ~reflection, hole_fraction=0.01)
        details.update(dark_reflection=round(float(reflection.mean()), 4))
    if not mask.any() or mask.mean() > 0.9:
        return None
    details.update(dark_coverage=round(float(mask.mean()), 4))
    return mask, details, paper


def _flood(passable: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reached, labels, reach): the ``passable`` pixels the frame reaches, with the components and
    which of them it reaches."""
    import cv2

    count, labels = cv2.connectedComponents(passable.astype(np.uint8), connectivity=4)
    frame = border_strip(passable.shape, 0.01)
    reach = np.zeros(count, bool)
    reach[np.unique(labels[frame & passable])] = True
    reach[0] = False
    return reach[labels], labels, reach


def _ringing_band(small: np.ndarray, noise_from: np.ndarray, paper: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """Paper the flood reaches once JPEG's ringing and a shadow's steps no longer count as outlines
    (``outlines(ringing=True)``), in pieces that stay within ``RING_REACH`` px of where it reached
    before: a band beside the product. A dark product's own faint outline is also a small share of
    a highlight or a label's edge beside it; past it the flood runs on into the body, far from the
    first flood, and that piece is left alone."""
    import cv2

    more = _flood(paper & ~outlines(small, noise_from, ringing=True))[0] & ~outside
    if not more.any():
        return more
    depth = cv2.distanceTransform((~outside).astype(np.uint8), cv2.DIST_L2, 3)
    count, labels = cv2.connectedComponents(more.astype(np.uint8), connectivity=8)
    deepest = np.zeros(count, np.float32)
    np.maximum.at(deepest, labels.ravel(), depth.ravel())
    take = deepest <= RING_REACH
    take[0] = False
    return take[labels]


def _contact_shadow(left: np.ndarray, paper: DarkPaper) -> np.ndarray:
    """Shaded paper the flood did not reach under the product's base: a tight contact shadow's lower
    rim is narrow enough to read as an outline. A part of what is ``left`` that is paper in shadow
    (darker than ``CONTACT_LIGHT``) and lies below every pixel of the product that is not paper-like,
    column by column, is that shadow (a darker part of the product beside or above the rest is not)."""
    import cv2

    h, w = left.shape
    body = left & ~paper.paper
    if not body.any():
        return np.zeros_like(left)
    rows = np.arange(h)[:, None]
    lowest = np.where(body.any(axis=0), h - 1 - np.argmax(body[::-1], axis=0), h)  # per column
    below = rows > lowest[None, :]
    shaded = left & paper.paper
    count, labels = cv2.connectedComponents(shaded.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros_like(left)
    flat = labels.ravel()
    area = np.bincount(flat, minlength=count).astype(np.float64)
    under = np.bincount(flat, weights=below.ravel().astype(np.float64), minlength=count)
    dark = np.bincount(flat, weights=(paper.light < CONTACT_LIGHT).ravel().astype(np.float64), minlength=count)
    take = (under >= 0.8 * area) & (dark >= 0.5 * area)
    take[0] = False
    return take[labels]


def unmix_dark(rgb8: np.ndarray, mask: np.ndarray, band: int, blur: float = OUTLINE_BLUR,
               half: float = UNMIX_HALF, keep: Optional[np.ndarray] = None) -> np.ndarray:
    """Move ``mask``'s outline to where each pixel is half product, in the photo's own (gamma-encoded)
    units on a copy blurred by ``blur`` px: a pixel within ``band`` px of the outline is a mix of the
    product's local mean just inside and the paper's just outside, and goes with the nearer half.
    (``backdrop.unmix_outline`` works in linear light, where a dark paper and a dark product differ
    by less than its threshold.) Pixels where the two sides differ by under ``UNMIX_CONTRAST`` times
    the paper's noise keep their label, and so do the mask's pixels in ``keep``."""
    import cv2

    mask = mask.astype(bool)
    if not mask.any() or mask.all():
        return mask.copy()
    g = cv2.GaussianBlur(np.ascontiguousarray(rgb8[:, :, :3]).astype(np.float32) / 255.0, (0, 0), blur)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    m8 = mask.astype(np.uint8)
    k2 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 5, 2 * band + 5))
    inner8 = cv2.erode(m8, k)
    outer8 = 1 - cv2.dilate(m8, k)
    zone = (cv2.dilate(m8, k) > 0) & ~(inner8 > 0)
    # the sides' colours from the rings just beyond the zone: a product's rim is darker than its middle
    inner = (inner8 & ~cv2.erode(m8, k2)).astype(np.float32)
    outer = (outer8 & cv2.dilate(m8, k2)).astype(np.float32)
    sigma = 2.0 * band + 1.0

    def local_mean(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        wsum = cv2.GaussianBlur(weight, (0, 0), sigma)
        return cv2.GaussianBlur(g * weight[..., None], (0, 0), sigma) / np.maximum(wsum, 1e-4)[..., None], wsum

    fg, fw = local_mean(inner)
    bg, bw = local_mean(outer)
    # the paper's noise at this blur: what is left of it beside a wider blur, along the frame
    strip = border_strip(mask.shape) & (outer > 0)
    detail = g - cv2.GaussianBlur(g, (0, 0), 3.0 * blur)
    noise = np.maximum(_spread(detail[strip]) if strip.sum() >= 50 else np.zeros(3), NOISE_FLOOR / 255.0 / 2)
    diff = (fg - bg) / noise
    norm2 = (diff * diff).sum(-1)
    a = (((g - bg) / noise) * diff).sum(-1) / np.maximum(norm2, 1e-6)
    usable = zone & (norm2 > UNMIX_CONTRAST ** 2) & (fw > 0.05) & (bw > 0.05)
    out = mask.copy()
    out[usable] = a[usable] >= half
    if keep is not None:
        out |= mask & keep
    return out


def segment_dark(small: np.ndarray, strip: np.ndarray) -> Optional[tuple[np.ndarray, float, dict]]:
    """(mask, score, details) of the product on dark paper at the work size, its outline unmixed
    (``backdrop.unmix_outline``) on a lightly blurred copy; None when the paper model does not hold.

    The score: how much of the mask stands off the paper (a product darker than the paper and of
    its hue looks like paper in shadow: only its outline tells them apart), less what touches the frame.
    """

    import cv2

    from packshot.core.masking.postprocess import clean_mask

    found = dark_product_mask(small)
    if found is None:
        return None
    initial, details, paper = found
    # the unmixing's product colour is a local mean, which a highlight or a bright stripe pulls away
    # from a dark body beside it: such a body would project near the paper. A pixel that is not the
    # paper's colour (shaded or not) a pixel or more inside the flood's outline stays product.
    inside = cv2.erode(initial.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    mask = clean_mask(unmix_dark(small, initial, WORK_BAND, half=UNMIX_HALF, keep=inside & ~paper.paper))
    if not mask.any():
        return None
    agreement = float((mask & initial).sum() / max(1, (mask | initial).sum()))
    off_paper = float((~paper.paper[mask]).mean())
    edge_touch = float(mask[strip].mean())
    score = agreement * (0.5 + 0.5 * min(1.0, off_paper / 0.5)) * (1.0 - edge_touch)
    details = dict(details, cue="dark-backdrop", init="dark-backdrop", agreement=round(agreement, 4),
                   off_paper=round(off_paper, 4), edge_touch=round(edge_touch, 4),
                   coverage=round(float(mask.mean()), 4))
    return mask, float(score), details


def full_res_outline(rgb8: np.ndarray, mask: np.ndarray, scale: float) -> np.ndarray:
    """The upscaled work-size ``mask`` (``scale`` times smaller) with its outline unmixed at full size
    within a work pixel of where it is (one pixel's noise on dark paper is as large as the product's
    contrast: ``unmix_dark`` blurs first)."""
    from packshot.core.masking.postprocess import clean_mask, outline_box

    band = max(2, int(np.ceil(scale)))
    if not mask.any():
        return mask
    # only the outline's surroundings matter: crop to them (the frame's border is kept for the noise)
    box = outline_box(mask, int(8 * band + 8 * OUTLINE_BLUR) + 4)
    out = mask.copy()
    out[box] = unmix_dark(rgb8[box], mask[box], band, blur=FULL_BLUR, half=FULL_HALF)
    return clean_mask(out)
