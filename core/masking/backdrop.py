"""The studio backdrop: its clean colour at every pixel, and where its shadows fall.

A studio product shot stands on seamless paper: one colour (white, grey, beige, blue...) that
drifts smoothly across the frame (a light fall-off, a two-colour sweep, vignetting). Light falls
on it the same way everywhere, so a shadow on it is the backdrop times a factor < 1 that is the
same in R, G and B in linear light: "same chroma as the backdrop, only darker". So:

1. fit a low-order (quadratic) colour field per linear-RGB channel to the border pixels, with
   robust refits (a product or a shadow touching the frame must not bend it), then refit on every
   pixel the first fit explains (the centre of the frame tells vignetting best);
2. call the photo a studio shot when most of the border follows that smooth field closely; a
   lifestyle photo or a textured surface does not, and ``Backdrop.reason`` says why;
3. a pixel's shadow likelihood is high where its colour divided by the backdrop's is one neutral
   factor below 1 (``shadow_likelihood``);
4. ``backdrop_regions``: what is backdrop or shadow *and* reachable from the frame without crossing
   a sharp edge (shadows are soft, product outlines are sharp): a grey bottle on white paper is
   neutral and darker too, but its outline stops the flood.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from packshot.core.masking.backdrop_hard import thin_hard_shadows
from packshot.core.masking.backdrop_reflection import floor_reflection
from packshot.core.masking.symmetry import mirrored_halves

WORK_SIDE = 256  # the colour field is smooth: fit it on a small copy
BORDER = 0.04  # border strip width, fraction of the short side
FIT_TOL = 0.08  # relative colour residual under which a pixel is "explained" by the field
STUDIO_INLIERS = 0.7  # fraction of the border the field must explain for a studio shot
STUDIO_RESIDUAL = 0.022  # and the median residual of those pixels (noise, JPEG) must stay under this
SMOOTH_INLIERS = 0.9  # a border this smooth (textures and lifestyle photos reach 0.1-0.7) ...
STUDIO_RESIDUAL_SMOOTH = 0.035  # ... may have this median residual
DARK_LUMINANCE = 0.15  # below this linear level both tolerances grow as 1 / sqrt(level): noise dominates
DARK_MAX = 2.0  # up to twice (a black frame, MIN_LUMINANCE, is no backdrop to fit at all)
MIN_LUMINANCE = 0.02  # a near-black backdrop shows no shadow worth measuring (linear Y)
SHARP_EDGE = 0.12  # |d log Y| per work pixel above which an edge is a product outline, not a shadow's
NARROW_EDGE = 0.035  # a weaker step still counts as an outline when it is narrow:
NARROW_RATIO = 1.5  # its gradient at 0.8 px blur is this many times the one at 2.5 px (a soft shadow's rim stays near 1)
EDGE_NOISE_FACTOR = 4.0  # a faint outline's gradient is this many times the photo's typical (noise) one
EDGE_MIN = 0.9  # and at least this many Lab units per work pixel
CHANNEL_WEIGHTS = (1.0, 0.5, 0.5)  # L, a, b: JPEG keeps colour at half resolution, so its edges ring
POCKET_RING_OPEN = 0.5  # share of open backdrop round a pocket above which it is a faint body, not a hole
POCKET_WALL = 1.0  # a pocket walled by more product than this times its radius is product (_thick_walled)
HARD_SHADOW_MIN_AREA = 0.002  # regions smaller than this share of the frame are left to GrabCut
HARD_SHADOW_MAX_T = 0.88  # a hard shadow's core is at most this share of the backdrop's light
HARD_SHADOW_FLAT = 0.04  # and flat: its log-ratio within this of the median
HARD_SHADOW_SHARE = 0.8  # over this share of the region
HARD_SHADOW_OPEN = 0.25  # share of the ring around it that must be open backdrop
HARD_SHADOW_MAX_SHARE = 0.5  # and all of them together at most this share of the product left
UNMIX_OFF_LINE = 0.35  # distance from the F - B line, as a share of |F - B|, of a pixel unmix_outline moves
# an edge pixel is product from this estimated coverage up: below a half because cutting product
# off costs more than a sliver of backdrop (the product must not change), and because the estimate
# runs low along thin parts and where JPEG blurs the colour of an edge with little lightness step
UNMIX_HALF = 0.4
UNMIX_MIN_ANGLE = 0.15  # sine of the angle between F and B (as RGB vectors) under which their shares cannot be told
# the sweep's bend: where along the frame's height (top = 0) and how wide a band the step is searched
BEND_AT = tuple(np.linspace(0.2, 0.8, 25))
BEND_WIDTH = (0.04, 0.07, 0.1, 0.15, 0.2, 0.3)
BEND_MIN_STEP = 0.04  # log brightness: a smaller step is left to the quadratic
BEND_TIGHT = 0.03  # relative residual under which a pixel is closely explained ...
BEND_GAIN = 0.05  # ... and the share of the frame the bend must add to it to be kept
# JPEG's ringing beside a strong outline (``jpeg_ringing``): its swing as a share of the step, and
# its reach in the photo's pixels (a block); deviations are capped so that a product's own far-off
# colour does not excuse everything around it
RING_SHARE = 0.05
RING_BLOCK = 8
RING_CAP = 2000.0
CHANNEL_NOISE_FLOOR = 0.04  # relative noise of a channel under which it counts in full (clean paper: 0.01-0.03)
_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)
_LUT = None


def srgb8_to_linear(rgb8: np.ndarray) -> np.ndarray:
    """8-bit sRGB -> linear float32 0..1 (table look-up)."""
    global _LUT
    if _LUT is None:
        v = np.arange(256, dtype=np.float64) / 255.0
        _LUT = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)
    return _LUT[rgb8]


def linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    """Linear 0..1 -> sRGB float 0..1."""
    v = np.clip(lin, 0.0, 1.0)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * np.power(v, 1 / 2.4) - 0.055).astype(np.float32)


@dataclass
class Backdrop:
    """The clean (unshadowed) backdrop as seen in one photo."""

    colour: np.ndarray  # H x W x 3 float32, linear RGB 0..1, at the size given to estimate_backdrop
    is_studio: bool
    reason: str
    details: dict = field(default_factory=dict)  # JSON-friendly numbers behind the decision


def _downscale(rgb8: np.ndarray, side: int) -> np.ndarray:
    import cv2

    h, w = rgb8.shape[:2]
    factor = side / max(h, w)
    if factor >= 1.0:
        return np.ascontiguousarray(rgb8)
    return cv2.resize(rgb8, (max(8, round(w * factor)), max(8, round(h * factor))), interpolation=cv2.INTER_AREA)


def _basis(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xx, yy = (xx + 0.5) / w - 0.5, (yy + 0.5) / h - 0.5
    return np.stack([np.ones_like(xx), xx, yy, xx * xx, yy * yy, xx * yy], axis=-1)


def border_strip(shape: tuple[int, int], fraction: float = BORDER) -> np.ndarray:
    h, w = shape
    width = max(2, int(round(fraction * min(h, w))))
    strip = np.zeros((h, w), bool)
    strip[:width, :] = strip[-width:, :] = True
    strip[:, :width] = strip[:, -width:] = True
    return strip


def _relative_residual(lin: np.ndarray, fit: np.ndarray) -> np.ndarray:
    return np.linalg.norm(lin - fit, axis=-1) / (np.linalg.norm(fit, axis=-1) + 1e-3)


def _robust_fit(basis: np.ndarray, values: np.ndarray, rounds: int = 4,
                tol: float = FIT_TOL) -> tuple[np.ndarray, np.ndarray]:
    """Least squares on ``basis`` (the quadratic, and the sweep's bend when fitted) per channel,
    refitted on the pixels it explains; (coef k x 3, inliers)."""
    keep = np.ones(len(values), bool)
    coef = np.zeros((basis.shape[1], 3), np.float32)
    for i in range(rounds):
        if keep.sum() < 2 * basis.shape[1]:
            break
        coef, *_ = np.linalg.lstsq(basis[keep], values[keep], rcond=None)
        residual = _relative_residual(values, basis @ coef)
        # first rounds: drop the worst (product, shadow at the frame); then a fixed tolerance
        limit = max(float(np.percentile(residual[keep], 70)) * 2.5, 0.02) if i < 2 else FIT_TOL
        keep = residual <= min(limit, 0.25 if i < 2 else tol)
    return coef.astype(np.float32), keep


def _fit_field(lin: np.ndarray, basis: np.ndarray, usable: np.ndarray, excluded: Optional[np.ndarray],
               tol: float) -> tuple[np.ndarray, np.ndarray]:
    """(coef, relative residual): the field fitted to the border (``usable``), then refitted on every
    pixel that fit explains (the centre pins down vignetting and fall-off), ``excluded`` left out."""
    coef, _ = _robust_fit(basis[usable], lin[usable], tol=tol)
    residual = _relative_residual(lin, basis @ coef)
    explained = residual <= tol
    if excluded is not None:
        explained &= ~excluded
    if explained.sum() > usable.sum():
        coef2, _ = _robust_fit(basis[explained][::2], lin[explained][::2], rounds=2, tol=tol)
        residual2 = _relative_residual(lin, basis @ coef2)
        if (residual2[usable] <= tol).mean() >= (residual[usable] <= tol).mean() - 0.02:
            coef, residual = coef2, residual2
    return coef, residual


def _sweep_bend(lin: np.ndarray, fit: np.ndarray, paper: np.ndarray) -> Optional[np.ndarray]:
    """H x W: the smooth step (0 above, 1 below) that best follows the rows' brightness left over
    once the quadratic ``fit`` is taken out, on the ``paper`` it explains; None when too few rows.

    A seamless sweep bends from wall to floor behind the product, and the two are lit differently:
    the paper's brightness steps by up to a fifth over a band a twentieth to a quarter of the frame
    high. A quadratic cannot follow that, so the paper near the bend reads as a tenth brighter or
    darker than the field and the flood stops there. Rows' medians (of log luminance ratio) make a
    1-D profile; the step's place and width are searched on it (``BEND_AT``, ``BEND_WIDTH``)."""
    h, w = paper.shape
    log_ratio = np.log(np.maximum(lin @ _LUMA, 1e-4) / np.maximum(fit @ _LUMA, 1e-4))
    counts = paper.sum(axis=1)
    rows = counts >= 0.2 * w
    if rows.sum() < 0.5 * h:
        return None
    profile = np.array([np.median(log_ratio[r][paper[r]]) for r in np.nonzero(rows)[0]], np.float64)
    y = (np.nonzero(rows)[0] + 0.5) / h
    base = np.stack([np.ones_like(y), y, y * y], axis=-1)
    best, best_err, step_size = None, np.inf, 0.0
    for at in BEND_AT:
        for width in BEND_WIDTH:
            step = _smoothstep((y - at) / width + 0.5)
            a = np.concatenate([base, step[:, None]], axis=-1)
            coef, *_ = np.linalg.lstsq(a, profile, rcond=None)
            err = float(((a @ coef - profile) ** 2).sum())
            if err < best_err:
                best, best_err, step_size = (at, width), err, abs(float(coef[-1]))
    if step_size < BEND_MIN_STEP:
        return None  # no bend worth a second fit
    at, width = best
    yy = (np.arange(h, dtype=np.float32) + 0.5) / h
    return np.broadcast_to(_smoothstep((yy - at) / width + 0.5)[:, None], (h, w)).astype(np.float32)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def estimate_backdrop(rgb8: np.ndarray, product: Optional[np.ndarray] = None,
                      work_side: int = WORK_SIDE) -> Backdrop:
    """The clean backdrop colour at every pixel of ``rgb8`` and whether this is a studio shot at all.

    ``product``: optional H x W bool of pixels known not to be backdrop (a mask, padding); they are
    left out of the fit. The fit runs on a copy ``work_side`` px long; the colour comes back at
    ``rgb8``'s size.
    """
    import cv2

    h, w = rgb8.shape[:2]
    small = _downscale(np.ascontiguousarray(rgb8[:, :, :3]), work_side)
    sh, sw = small.shape[:2]
    lin = srgb8_to_linear(small)
    basis = _basis(sh, sw)
    strip = border_strip((sh, sw))
    usable = strip.copy()
    excluded = None
    if product is not None:
        excluded = cv2.resize(product.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST) > 0
        usable &= ~excluded
    if usable.sum() < 50:
        return Backdrop(np.zeros((h, w, 3), np.float32), False, "no backdrop visible along the frame",
                        {"border_inliers": 0.0})
    # sensor noise and JPEG are a larger share of a dark backdrop's level: allow for it
    dark = float(np.clip(np.sqrt(DARK_LUMINANCE / max(float(np.median(lin[usable] @ _LUMA)), 1e-4)), 1.0, DARK_MAX))
    tol = FIT_TOL * dark
    coef, residual = _fit_field(lin, basis, usable, excluded, tol)
    # the sweep's bend (wall and floor lit differently): a step across the frame no quadratic follows
    # (not on paper so dim that the tolerances are at their cap: its noise, not its light, is what shows)
    paper = residual <= 2 * tol  # the paper near the bend is off by over ``tol``
    bend = None if dark >= DARK_MAX else _sweep_bend(lin, basis @ coef, paper if excluded is None else paper & ~excluded)
    if bend is not None:
        bent = np.concatenate([basis, bend[:, :, None]], axis=-1)
        coef_b, residual_b = _fit_field(lin, bent, usable, excluded, tol)
        if (residual_b <= BEND_TIGHT).mean() >= (residual <= BEND_TIGHT).mean() + BEND_GAIN:
            basis, coef, residual = bent, coef_b, residual_b
    fit = np.clip(basis @ coef, 1e-4, 1.0)
    inliers = residual[usable] <= tol
    share = float(inliers.mean())
    noise = float(np.median(residual[usable][inliers])) if inliers.any() else 1.0
    luminance = float(np.median(fit[strip] @ _LUMA))
    details = {"border_inliers": round(share, 3), "border_residual": round(noise, 4),
               "luminance": round(luminance, 4), "colour_srgb8": _srgb8(np.median(fit[strip], axis=0))}
    # a border that almost all follows the field may be noisier (JPEG, vignetting the field bends to)
    limit = (STUDIO_RESIDUAL_SMOOTH if share >= SMOOTH_INLIERS else STUDIO_RESIDUAL) * dark
    if share < STUDIO_INLIERS or noise > limit:
        reason = (f"no studio backdrop: only {share:.0%} of the frame's border follows one smooth colour "
                  f"(residual {noise:.1%}); a lifestyle photo or a textured surface")
        studio = False
    elif luminance < MIN_LUMINANCE:
        reason, studio = "the backdrop is too dark to show a shadow", False
        details["too_dark"] = True  # a smooth backdrop all the same: backdrop_dark.py models it
    else:
        reason = (f"seamless backdrop {details['colour_srgb8']}: {share:.0%} of the border follows one "
                  f"smooth colour (residual {noise:.1%})")
        studio = True
    colour = fit if (sh, sw) == (h, w) else cv2.resize(fit, (w, h), interpolation=cv2.INTER_LINEAR)
    return Backdrop(colour.astype(np.float32), studio, reason, details)


def _srgb8(lin: np.ndarray) -> list[int]:
    return [int(round(v)) for v in linear_to_srgb(np.asarray(lin, np.float32)) * 255]


def ratio_and_deviation(rgb8: np.ndarray, backdrop: Backdrop,
                        noise_weighted: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(t, d): the pixel's luminance over the backdrop's, and how far its colour ratio is from neutral.

    ``noise_weighted``: weigh each channel's deviation by how precisely the photo gives it. An
    8-bit channel's relative error in linear light grows as 1 / its sRGB value, so on saturated
    paper (a red sweep's green and blue near 20 / 255) the dim channels' noise alone puts the clean
    paper 3 sigma off neutral. Each channel's noise is measured on the paper along the frame; a
    channel noisier than ``CHANNEL_NOISE_FLOOR`` counts the less, by its variance. Paper whose
    channels are all clean (white, grey, beige, pastel) reads exactly as unweighted, and a hue
    change still shows in full (it moves a channel by a factor, far past its noise).
    """
    lin = srgb8_to_linear(np.ascontiguousarray(rgb8[:, :, :3]))
    bd = np.maximum(backdrop.colour, 1e-4)
    ratio = lin / bd
    t = (ratio * (bd * _LUMA)).sum(-1) / (bd * _LUMA).sum(-1)
    off = (ratio / np.maximum(t, 1e-3)[..., None] - 1.0) ** 2
    if noise_weighted:
        # each channel's noise, measured on the paper along the frame (its median squared deviation)
        paper = border_strip(t.shape) & (np.abs(t - 1.0) < 0.1)
        noise = np.median(off[paper], axis=0) if paper.sum() >= 50 else np.zeros(3, np.float32)
        weight = 1.0 / np.maximum(noise, CHANNEL_NOISE_FLOOR ** 2)
        d = np.sqrt((off * weight).sum(-1) / weight.sum(-1))
    else:
        d = np.sqrt(np.mean(off, axis=-1))
    return t.astype(np.float32), d.astype(np.float32)


def shadow_likelihood(rgb8: np.ndarray, backdrop: Backdrop) -> np.ndarray:
    """H x W float32 in [0, 1]: how much each pixel looks like the backdrop in shadow.

    High where the colour is the backdrop's times one factor (neutral in linear light) clearly
    below 1 and not so dark that nothing of the backdrop's colour is left. 0 everywhere when the
    photo has no studio backdrop. Colour only: ``backdrop_regions`` adds the soft-edge test.
    """
    if not backdrop.is_studio:
        return np.zeros(rgb8.shape[:2], np.float32)
    t, d = ratio_and_deviation(rgb8, backdrop)
    return _likelihood(t, d)


def chroma_sigma(t: np.ndarray) -> np.ndarray:
    """The colour noise (sensor, JPEG) a backdrop pixel's deviation from neutral has at light ``t``:
    it grows as the pixel darkens."""
    return 0.035 / np.sqrt(np.clip(t, 0.05, 1.0))


def _likelihood(t: np.ndarray, d: np.ndarray) -> np.ndarray:
    sigma = chroma_sigma(t)
    neutral = np.exp(-0.5 * (d / sigma) ** 2)
    darker = np.clip((0.97 - t) / 0.06, 0.0, 1.0)
    not_black = np.clip((t - 0.06) / 0.08, 0.0, 1.0)
    return (neutral * darker * not_black).astype(np.float32)


def _gradient(t: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    logy = np.log(np.maximum(cv2.GaussianBlur(t, (0, 0), sigma), 1e-3))
    gx = cv2.Sobel(logy, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(logy, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    return np.hypot(gx, gy)


def _sharp_edges(t: np.ndarray) -> np.ndarray:
    """Outlines (sharp steps in log luminance), not shadow fall-offs, thickened by a pixel.

    A step barely wider than a pixel keeps its gradient when measured at 0.8 px but loses most
    of it at 2.5 px; a soft shadow edge (several px wide) keeps about the same at both scales.
    So a modest step that is also narrow counts as an outline: a grey product standing in its
    own dark contact shadow.
    """
    import cv2

    fine, coarse = _gradient(t, 0.8), _gradient(t, 2.5)
    sharp = (fine > SHARP_EDGE) | ((fine > NARROW_EDGE) & (fine > NARROW_RATIO * coarse))
    # gaps of a few px closed, then thickened: one weak spot along an outline must not let the flood in
    closed = cv2.morphologyEx(sharp.astype(np.uint8), cv2.MORPH_CLOSE,
                              cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
    return cv2.dilate(closed, np.ones((3, 3), np.uint8)).astype(bool)


def colour_gradient(rgb8: np.ndarray, sigma: float = 0.7) -> np.ndarray:
    """Lab gradient magnitude (units per pixel) after a Gaussian blur: edges in lightness or colour."""
    import cv2

    lab = cv2.cvtColor(cv2.GaussianBlur(rgb8[:, :, :3].astype(np.float32) / 255.0, (0, 0), sigma),
                       cv2.COLOR_RGB2Lab)
    total = np.zeros(rgb8.shape[:2], np.float32)
    for c, weight in enumerate(CHANNEL_WEIGHTS):
        gx = cv2.Sobel(lab[:, :, c], cv2.CV_32F, 1, 0, ksize=3) / 8.0
        gy = cv2.Sobel(lab[:, :, c], cv2.CV_32F, 0, 1, ksize=3) / 8.0
        total += weight * weight * (gx * gx + gy * gy)
    return np.sqrt(total)


def narrow_edges(rgb8: np.ndarray, noise_from: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """(edges, threshold): narrow colour or lightness steps that stand out of the photo's noise.

    The noise is the median gradient (over ``noise_from`` when given: pixels away from any outline);
    an edge is ``EDGE_NOISE_FACTOR`` times that and at least ``EDGE_MIN`` Lab units per pixel, and
    narrow: its gradient at 0.7 px blur ``NARROW_RATIO`` times the one at 2.5 px. An object's
    outline is narrow, however faint; the rim of a soft shadow or a lighting fall-off is not.
    """
    grad = colour_gradient(rgb8)
    coarse = colour_gradient(rgb8, 2.5)
    pool = grad[noise_from] if noise_from is not None and noise_from.any() else grad
    threshold = max(EDGE_NOISE_FACTOR * float(np.median(pool)), EDGE_MIN)
    return (grad >= threshold) & (grad >= NARROW_RATIO * coarse), threshold


def faint_outlines(rgb8: np.ndarray, min_length: int = 10) -> np.ndarray:
    """Narrow edges (``narrow_edges``) that run on for ``min_length`` px: a tone-on-tone product's
    outline, a glass's rim; not sensor noise or JPEG blocks, which make short specks."""
    import cv2

    edges, _ = narrow_edges(rgb8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(edges.astype(np.uint8), connectivity=8)
    span = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    keep = span >= min_length
    keep[0] = False
    return keep[labels]


@dataclass
class BackdropRegions:
    """At the size given to ``backdrop_regions``: which pixels belong to the backdrop, not the product."""

    outside: np.ndarray  # bool: backdrop or its shadow, reachable from the frame over soft edges only
    shadow: np.ndarray  # bool: the part of ``outside`` that is in shadow
    enclosed: np.ndarray  # bool: clean-backdrop regions the product encloses (inside a handle)
    likelihood: np.ndarray  # float: shadow_likelihood
    hard: np.ndarray  # bool: the part of ``outside`` that is a hard shadow cut off by its edge
    reflection: np.ndarray  # bool: the part of ``outside`` that is a glossy floor's mirror image
    t: np.ndarray  # float: ratio_and_deviation (noise-weighted): light over the backdrop's
    d: np.ndarray  # float: ... and distance from neutral


def backdrop_regions(rgb8: np.ndarray, backdrop: Backdrop, scale: float = 1.0) -> BackdropRegions:
    """Backdrop and shadow that the frame reaches without crossing a product's sharp outline.

    Run it at a working size (a few hundred px): the edge test is per pixel. ``scale``: how many of
    the photo's pixels one pixel of ``rgb8`` spans (JPEG's ringing reaches a block of the photo's).
    """
    import cv2

    h, w = rgb8.shape[:2]
    t, d = ratio_and_deviation(rgb8, backdrop, noise_weighted=True)
    likelihood = _likelihood(t, d)
    sigma = chroma_sigma(t)
    # backdrop-coloured: neutral ratio (allowing for JPEG's ringing beside a strong outline), from
    # deep shadow up to a little brighter than the fit
    reach = max(1, int(np.ceil(RING_BLOCK / max(scale, 1e-6))))
    explained = jpeg_ringing(d / sigma, reach) & (t > 0.08) & (t < 1.12)
    sharp = _sharp_edges(t)
    strip = border_strip((h, w), 0.01)
    plain = _flood(explained & ~sharp, strip)[2]
    # faint outlines (a tone-on-tone product's) stop the flood too, but only a body they enclose
    # is kept from it: JPEG ringing beside an outline encloses slivers, not bodies
    faint = faint_outlines(rgb8)
    passable = explained & ~(sharp | faint)  # a 4-connected flood does not cross an 8-connected line
    count, labels, outside = _flood(passable, strip)
    protected = _bodies(plain & ~outside)
    faint &= cv2.dilate(protected.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    outside = plain & ~protected
    reach = np.zeros(count, bool)
    reach[np.unique(labels[outside & passable])] = True
    reach[0] = False
    hard = _hard_shadows(labels, count, reach, t, outside)
    outside |= hard
    # a thin or broken-up hard shadow lies in the outline band the flood stopped at
    thin = thin_hard_shadows(t, d, outside)
    hard |= thin
    outside |= thin
    # a "shadow" that is the mirror image of the product's other side is its own shaded side (symmetry.py)
    own_side = mirrored_halves(~outside, hard)
    hard &= ~own_side
    outside &= ~own_side
    reach[np.unique(labels[hard])] = True
    # the thickened outline itself: a backdrop-coloured pixel there joins the outside when it is
    # as bright as its outside neighbours (the shadow continues up to the product); the product's
    # own rim is not (a grey product is far darker or brighter than the shadow beside it)
    for _ in range(5):
        o = outside.astype(np.float32)
        count_o = cv2.boxFilter(o, -1, (3, 3), normalize=False)
        nb_t = cv2.boxFilter(t * o, -1, (3, 3), normalize=False) / np.maximum(count_o, 1.0)
        grow = ~outside & explained & ~faint & (count_o > 0) & (np.abs(t / np.maximum(nb_t, 1e-3) - 1.0) < 0.1)
        if not grow.any():
            break
        outside |= grow
    outside |= _backdrop_lines(outside, explained)
    # a glossy floor's mirror image of the product has the product's colours, not the backdrop's
    reflection = floor_reflection(srgb8_to_linear(np.ascontiguousarray(rgb8[:, :, :3])), backdrop.colour, ~outside)
    outside |= reflection
    shadow = outside & (likelihood > 0.5) & ~reflection
    # enclosed clean-backdrop pockets: a handle's hole, the gap under a stool's rung
    enclosed = np.zeros((h, w), bool)
    if count > 1:
        areas = np.bincount(labels.ravel(), minlength=count)
        # clean backdrop, or backdrop in the product's shadow (the gap under a stool's seat)
        # (mostly clean: a grey patch of the product, enclosed by the rest of it, is shadow-like too)
        seen = np.bincount(labels.ravel(), weights=((t > 0.85) | (likelihood > 0.5)).ravel().astype(np.float64),
                           minlength=count)
        clean = np.bincount(labels.ravel(), weights=(t > 0.85).ravel().astype(np.float64), minlength=count)
        pocket = ~reach & (areas >= 0.002 * h * w) & (seen >= 0.8 * np.maximum(areas, 1)) \
            & (clean >= 0.5 * np.maximum(areas, 1))
        pocket[0] = False
        # a hole is ringed by product; a tone-on-tone body its faint outline kept from the flood
        # is ringed by open backdrop
        for c in np.nonzero(pocket)[0]:
            region = (labels == c).astype(np.uint8)
            ring = cv2.dilate(region, np.ones((17, 17), np.uint8)).astype(bool) & ~cv2.dilate(
                region, np.ones((7, 7), np.uint8)).astype(bool)  # beyond the outline's band
            if ring.any() and float(outside[ring].mean()) > POCKET_RING_OPEN:
                pocket[c] = False
        enclosed = pocket[labels]
        enclosed &= ~_thick_walled(enclosed, outside)
    return BackdropRegions(outside, shadow, enclosed, likelihood, hard, reflection, t, d)


def _thick_walled(pockets: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """The pockets whose wall is thicker than the pocket is wide: product the paper's colour, not a hole.

    A hole shows the backdrop through a ring of product: a handle, a strap, the legs and rungs of a
    stool. That ring is thin beside the hole (at most 0.82 of the hole's radius on the 41 holes of
    development seeds 7 and 21). A pale patch of a white box's face, or a label's white centre, is
    ringed by the product itself, as thick as the product is wide. The wall is how far the pocket's
    rim lies from the open backdrop or from another pocket (a stool's gaps side by side are walled
    by one leg, not by the whole stool).
    """
    import cv2

    count, labels = cv2.connectedComponents(pockets.astype(np.uint8), connectivity=8)
    product = np.zeros_like(pockets)
    for c in range(1, count):
        region = labels == c
        elsewhere = outside | (pockets & ~region)
        distance = cv2.distanceTransform((~elsewhere).astype(np.uint8), cv2.DIST_L2, 5)
        rim = cv2.dilate(region.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~region
        if float(np.median(distance[rim])) > POCKET_WALL * np.sqrt(region.sum() / np.pi):
            product |= region
    return product


def jpeg_ringing(deviation: np.ndarray, reach: int, limit: float = 2.5) -> np.ndarray:
    """Paper pixels that JPEG's ringing pushed off the paper's colour, beside a strong outline.

    JPEG quantises colour in blocks (8 px, 16 for subsampled chroma), so beside a saturated product
    the paper's pixels of the same block swing by a few percent of the step: 10-16 noise units next
    to a step of 600 on an 800 px photo. ``deviation`` is in noise units; a pixel counts as paper when
    it stays under ``limit`` plus ``RING_SHARE`` of the largest deviation within ``reach`` px.
    """
    import cv2

    z = np.minimum(deviation, RING_CAP).astype(np.float32)
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    return z < limit + RING_SHARE * cv2.dilate(z, disk)


def _flood(passable: np.ndarray, strip: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(count, labels, reached): 4-connected regions of ``passable`` and those the frame's strip touches."""
    import cv2

    count, labels = cv2.connectedComponents(passable.astype(np.uint8), connectivity=4)
    reach = np.zeros(count, bool)
    reach[np.unique(labels[strip & passable])] = True
    reach[0] = False
    return count, labels, reach[labels]


def _bodies(region: np.ndarray, min_body: float = 0.4) -> np.ndarray:
    """The parts of ``region`` that have a body: at least ``min_body`` of them survives a 5 x 5 erosion."""
    import cv2

    count, labels = cv2.connectedComponents(region.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros_like(region)
    core = cv2.erode(region.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    area = np.bincount(labels.ravel(), minlength=count)
    body = np.bincount(labels.ravel(), weights=core.ravel().astype(np.float64), minlength=count)
    keep = (body >= min_body * area) & (area >= 0.001 * region.size)
    keep[0] = False
    return keep[labels]


def _hard_shadows(labels: np.ndarray, count: int, reach: np.ndarray, t: np.ndarray,
                  outside: np.ndarray) -> np.ndarray:
    """Backdrop-coloured regions a hard shadow's sharp edge cut off from the flood.

    A shadow on a seamless backdrop is the backdrop times one factor: divided by the fitted
    backdrop, its core is flat (``t`` the same within a few percent), however the paper is lit.
    A product is not: the key light, its roundness and its rims shade it. So a region the flood
    did not reach, beside the outside, clearly darker than the backdrop and flat in ``t``, is
    shadow.
    """
    import cv2

    h, w = t.shape
    out = np.zeros((h, w), bool)
    if count <= 1:
        return out
    areas = np.bincount(labels.ravel(), minlength=count)
    beside = cv2.dilate(outside.astype(np.uint8), np.ones((13, 13), np.uint8)).astype(bool)  # across an edge band
    for c in np.nonzero(~reach & (areas >= HARD_SHADOW_MIN_AREA * h * w))[0]:
        if c == 0:
            continue
        region = labels == c
        if not (region & beside).any():
            continue
        # a cast shadow reaches out over the backdrop; a flat patch of the product is ringed by product
        r8 = region.astype(np.uint8)
        ring = cv2.dilate(r8, np.ones((21, 21), np.uint8)).astype(bool) & ~cv2.dilate(r8, np.ones((7, 7), np.uint8)
                                                                                       ).astype(bool)
        if not ring.any() or float(outside[ring].mean()) < HARD_SHADOW_OPEN:
            continue
        logt = np.log(np.maximum(t[region], 1e-3))
        middle = float(np.median(logt))
        if not np.log(0.12) < middle < np.log(HARD_SHADOW_MAX_T):
            continue
        if float((np.abs(logt - middle) < HARD_SHADOW_FLAT).mean()) >= HARD_SHADOW_SHARE:
            out |= region
    # a "shadow" larger than half of what is left is more likely a flat grey or glass product
    if out.sum() > HARD_SHADOW_MAX_SHARE * (~outside & ~out).sum():
        return np.zeros((h, w), bool)
    return out


def _backdrop_lines(outside: np.ndarray, explained: np.ndarray) -> np.ndarray:
    """Left-over lines of backdrop colour the flood went around (a faint crease, JPEG ringing beside
    an outline): parts not reached that have no body (a 3 x 3 erosion leaves almost nothing)."""
    import cv2

    rest = (~outside).astype(np.uint8)
    count, labels = cv2.connectedComponents(rest, connectivity=8)
    if count <= 1:
        return np.zeros_like(outside)
    flat = labels.ravel()
    area = np.bincount(flat, minlength=count).astype(np.float64)
    coloured = np.bincount(flat, weights=explained.ravel().astype(np.float64), minlength=count)
    body = np.bincount(flat, weights=cv2.erode(rest, np.ones((3, 3), np.uint8)).ravel().astype(np.float64),
                       minlength=count)
    line = (coloured >= 0.9 * area) & (body <= 0.15 * area)
    line[0] = False
    return line[labels]


@dataclass
class OutlineSides:
    """Around a mask's outline: the band ``zone`` (within ``band`` px, not deep inside), the solid
    product ``inner``, the photo in linear light, and the local means (and weights) of the product
    just inside (``fg``, ``fw``) and of the backdrop just outside (``bg``, ``bw``)."""

    zone: np.ndarray
    inner: np.ndarray
    lin: np.ndarray
    fg: np.ndarray
    fw: np.ndarray
    bg: np.ndarray
    bw: np.ndarray


def outline_sides(rgb8: np.ndarray, mask: np.ndarray, band: int, sigma: float) -> OutlineSides:
    """The two sides of ``mask``'s outline, as the unmixing steps read them (Gaussian ``sigma``)."""
    import cv2

    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    m8 = mask.astype(np.uint8)
    inner = cv2.erode(m8, k).astype(np.float32)
    outer = (1 - cv2.dilate(m8, k)).astype(np.float32)
    zone = (cv2.dilate(m8, k) > 0) & ~(inner > 0)
    lin = srgb8_to_linear(np.ascontiguousarray(rgb8[:, :, :3]))

    def local_mean(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        wsum = cv2.GaussianBlur(weight, (0, 0), sigma)
        val = cv2.GaussianBlur(lin * weight[:, :, None], (0, 0), sigma)
        return val / np.maximum(wsum, 1e-4)[:, :, None], wsum

    fg, fw = local_mean(inner)
    bg, bw = local_mean(outer)
    return OutlineSides(zone, inner, lin, fg, fw, bg, bw)


def unmix_outline(rgb8: np.ndarray, mask: np.ndarray, band: int = 2, sigma: float = 2.5) -> np.ndarray:
    """Move the outline of ``mask`` to where the product covers half of each edge pixel.

    An edge pixel is a mix ``a * F + (1 - a) * B`` of the product colour F nearby and the backdrop
    B nearby (clean or shaded); both are local means of the pixels just inside and just outside,
    and ``a`` is the projection of the pixel onto the F - B line in linear light. Pixels where F
    and B are too alike to tell keep their label.
    """
    mask = mask.astype(bool)
    if not mask.any() or mask.all():
        return mask.copy()
    return unmix_on_outline_tiles(lambda rgb, m: _unmix_box(rgb, m, band, sigma), rgb8, mask, band, sigma)


def unmix_on_outline_tiles(unmix: Callable[[np.ndarray, np.ndarray], np.ndarray], rgb8: np.ndarray,
                           mask: np.ndarray, band: int, sigma: float) -> np.ndarray:
    """``unmix(rgb8_crop, mask_crop)`` (an unmixing of the pixels within ``band`` of the outline, its
    sides' colours taken under a Gaussian of ``sigma``) run on the tiles the outline crosses only."""
    from packshot.core.masking.postprocess import on_outline_tiles

    # a pixel changes only within ``band`` of the outline, and its answer reads the product and backdrop
    # masks (``band`` round) under the Gaussian (4 sigma round)
    return on_outline_tiles(lambda m, rgb: unmix(rgb, m), mask, (rgb8,), reach=band + 1,
                            margin=2 * band + int(np.ceil(4 * sigma)) + 2)


def _unmix_box(rgb8: np.ndarray, mask: np.ndarray, band: int, sigma: float) -> np.ndarray:
    sides = outline_sides(rgb8, mask, band, sigma)
    zone, inner, lin, fg, fw, bg, bw = sides.zone, sides.inner, sides.lin, sides.fg, sides.fw, sides.bg, sides.bw
    diff = fg - bg
    norm2 = (diff * diff).sum(-1)
    a = ((lin - bg) * diff).sum(-1) / np.maximum(norm2, 1e-6)
    # a mixed pixel lies on the F - B line; a pixel of a textured product off it (a dark grain
    # at the outline) tells nothing about coverage and keeps its label
    off = lin - bg - a[..., None] * diff
    on_line = (off * off).sum(-1) <= UNMIX_OFF_LINE ** 2 * norm2
    usable = zone & (norm2 > 0.003) & (fw > 0.05) & (bw > 0.05) & on_line
    out = mask.copy()
    out[usable] = a[usable] >= UNMIX_HALF
    dropped = mask & usable & ~out  # only these can be kept: solve for them alone (full-size photos)
    out[dropped] = _mostly_product(lin[dropped], fg[dropped], bg[dropped])
    _keep_product_like(out, mask, inner > 0, lin, bg, norm2)
    return out


def _mostly_product(lin: np.ndarray, fg: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Bool per pixel (N x 3 colours in, N out): under half of the backdrop's light, allowing the
    product's own shading.

    The key light, roundness and a darker rim scale the product's colour: an edge pixel is
    ``alpha * F + beta * B`` with ``alpha`` free (shading times coverage) and ``beta`` the uncovered
    share. A darker rim (``alpha`` < 1, ``beta`` = 0) projects onto the F - B line nearer the backdrop
    when the backdrop is darker than the product, yet holds none of it. Solved per pixel where F and
    B differ in hue (their directions apart by ``UNMIX_MIN_ANGLE``) and the pixel is darker than F;
    elsewhere nothing is claimed.
    """
    ff = (fg * fg).sum(-1)
    bb = (bg * bg).sum(-1)
    fb = (fg * bg).sum(-1)
    det = ff * bb - fb * fb
    apart = det > (UNMIX_MIN_ANGLE ** 2) * ff * bb  # sin^2 of the angle between F and B
    pf = (lin * fg).sum(-1)
    pb = (lin * bg).sum(-1)
    safe = np.where(apart, det, 1.0)
    alpha = (bb * pf - fb * pb) / safe
    beta = (ff * pb - fb * pf) / safe
    # (a shaded backdrop pixel, k * B, holds no product light at all: alpha must outweigh beta; and
    # only a pixel darker than the product is its shaded rim: beside a near-black product any
    # mix solves with a large alpha)
    darker = (lin @ _LUMA) < (fg @ _LUMA)
    return apart & darker & (beta < 0.5) & (alpha > beta)


def _keep_product_like(out: np.ndarray, mask: np.ndarray, inner: np.ndarray, lin: np.ndarray,
                       bg: np.ndarray, contrast2: np.ndarray, reach: int = 3) -> None:
    """Put back (in place) the product pixels unmixing dropped that are far from the backdrop (over
    half the product-backdrop contrast ``contrast2``, squared) and closer in colour to a product
    pixel within ``reach`` px than to the backdrop: the dark rim or a grain of a textured product
    is far from the local mean colour of the product, not a mix with the backdrop."""
    ys, xs = np.nonzero(mask & ~out)
    if ys.size == 0:
        return
    h, w = mask.shape
    p = lin[ys, xs]
    to_backdrop = ((p - bg[ys, xs]) ** 2).sum(-1)
    far = to_backdrop > 0.25 * contrast2[ys, xs]
    ys, xs, p, to_backdrop = ys[far], xs[far], p[far], to_backdrop[far]
    keep = np.zeros(ys.size, bool)
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            ny, nx = np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)
            near = inner[ny, nx] & (((p - lin[ny, nx]) ** 2).sum(-1) < to_backdrop)
            keep |= near
    out[ys[keep], xs[keep]] = True
