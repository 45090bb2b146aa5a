"""No old-backdrop rim: a product cut from a coloured backdrop and put on white, on real pixels.

Each scene is built the way a camera makes it: a scikit-image texture (the product) with a known
soft-edged alpha over a flat backdrop, ``photo = alpha * product + (1 - alpha) * backdrop``, so the
backdrop bleeds into the edge pixels exactly as in a studio shot. Compositing that photo onto white
with the same alpha should give ``alpha * product + (1 - alpha) * white`` (the "ideal"), with none
of the backdrop's colour left.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data
from skimage.color import rgb2lab

from packshot.core.generation.composite import composite
from packshot.core.generation.matting import edge_pixels, foreground_tiles

H, W = 240, 320
RAMP = 8.0  # soft edge half width in px (a 16 px ramp: a large photo's or a slightly defocused edge)
BACKDROPS = {"beige": (225, 198, 155), "blue": (70, 110, 200), "grey": (150, 150, 150)}


def _scene_alpha() -> tuple[np.ndarray, np.ndarray]:
    """A wavy blob's soft alpha and the signed distance to its outline (> 0 outside, px)."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    radius = 70 + 8 * np.sin(5 * np.arctan2(yy - H / 2, xx - W / 2))
    inside = (np.hypot((xx - W / 2) / 1.3, yy - H / 2) <= radius).astype(np.uint8)
    d_in = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    d_out = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)
    signed = np.where(inside > 0, 0.5 - d_in, d_out - 0.5)
    return np.clip(0.5 - signed / (2 * RAMP), 0.0, 1.0).astype(np.float32), signed


def _product(kind: str) -> np.ndarray:
    if kind == "stone":  # a dark neutral texture: any chroma beyond the outline is the backdrop's
        grey = skimage.data.gravel()[:H, :W].astype(np.float32) * 0.5 + 10.0
        return np.dstack([grey] * 3)
    return skimage.data.astronaut()[100:100 + H, 100:100 + W].astype(np.float32)


def _jpeg(rgb: np.ndarray, quality: int = 90) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _shoot(product: np.ndarray, alpha: np.ndarray, backdrop, top: float = 255.0) -> np.ndarray:
    a = alpha[..., None]
    mixed = product * (top / 255.0) * a + np.asarray(backdrop, np.float32) * (top / 255.0) * (1 - a)
    dtype = np.uint16 if top > 255 else np.uint8
    return np.clip(np.rint(mixed), 0, top).astype(dtype)


def _lab(rgb: np.ndarray) -> np.ndarray:
    return rgb2lab(rgb.astype(np.float64) / (65535.0 if rgb.dtype == np.uint16 else 255.0))


def _chroma(lab: np.ndarray) -> np.ndarray:
    return np.hypot(lab[..., 1], lab[..., 2])


def _backdrop_hue(backdrop) -> np.ndarray:
    ab = _lab(np.uint8([[backdrop]]))[0, 0, 1:]
    return ab / np.linalg.norm(ab)


WHITE = np.full((H, W, 3), 255, np.uint8)


@pytest.mark.parametrize("jpeg", [False, True], ids=["png", "jpeg"])
@pytest.mark.parametrize("backdrop", list(BACKDROPS))
def test_no_backdrop_chroma_beyond_the_outline_and_the_rim_matches_the_ideal(backdrop, jpeg):
    alpha, signed = _scene_alpha()
    product = _product("stone")
    photo = _shoot(product, alpha, BACKDROPS[backdrop])
    if jpeg:
        photo = _jpeg(photo)
    before = _lab(composite(photo, alpha, WHITE, decontaminate=False))
    after_rgb = composite(photo, alpha, WHITE)
    after = _lab(after_rgb)
    ideal = _lab(_shoot(product, alpha, (255, 255, 255)))

    beyond = (signed > 3) & (signed <= 3 + 2 * RAMP)  # past 3 px outside the outline, still soft
    assert (alpha[beyond] > 0.1).any()  # the band does hold mixed pixels
    assert np.percentile(_chroma(after)[beyond], 99) <= 4.0
    if backdrop == "blue":  # the check bites: without decontamination the blue rim fails it
        assert np.percentile(_chroma(before)[beyond], 99) > 6.0

    soft = edge_pixels(alpha)
    error_before = np.linalg.norm(before - ideal, axis=-1)[soft].mean()
    error_after = np.linalg.norm(after - ideal, axis=-1)[soft].mean()
    assert error_after < 0.45 * error_before and error_after < 2.5
    if backdrop == "grey":  # a neutral backdrop leaves a halo of its own lightness, not a hue
        halo_before = abs((before - ideal)[..., 0][soft].mean())  # L*: lighter than this dark product
        assert halo_before > 2.0
        assert abs((after - ideal)[..., 0][soft].mean()) < 0.3 * halo_before
    solid, clear = alpha >= 1.0, alpha <= 0.0
    assert np.array_equal(after_rgb[solid], photo[solid]) and (after_rgb[clear] == 255).all()


@pytest.mark.parametrize("jpeg", [False, True], ids=["png", "jpeg"])
@pytest.mark.parametrize("backdrop", ["beige", "blue"])
def test_the_old_backdrop_hue_is_gone_from_a_colourful_products_edge(backdrop, jpeg):
    alpha, _ = _scene_alpha()
    product = _product("photo")
    photo = _shoot(product, alpha, BACKDROPS[backdrop])
    if jpeg:
        photo = _jpeg(photo)
    ideal = _lab(_shoot(product, alpha, (255, 255, 255)))
    soft = edge_pixels(alpha)
    hue = _backdrop_hue(BACKDROPS[backdrop])

    def backdrop_tint(out: np.ndarray) -> float:
        """Mean a*b* shift towards the backdrop's hue, against the ideal, over the soft edge."""
        return float(((_lab(out)[..., 1:] - ideal[..., 1:]) @ hue)[soft].mean())

    tint_before = backdrop_tint(composite(photo, alpha, WHITE, decontaminate=False))
    tint_after = backdrop_tint(composite(photo, alpha, WHITE))
    assert tint_before > 2.0
    assert abs(tint_after) < 0.25 * tint_before


def test_sixteen_bit_photo_is_decontaminated_in_its_own_depth():
    alpha, signed = _scene_alpha()
    product = _product("stone")
    photo = _shoot(product, alpha, BACKDROPS["blue"], top=65535.0)
    out = composite(photo, alpha, WHITE)  # the 8-bit white is scaled to 65535 exactly
    assert out.dtype == np.uint16
    beyond = (signed > 3) & (signed <= 3 + 2 * RAMP)
    assert np.percentile(_chroma(_lab(out))[beyond], 99) <= 4.0
    assert np.array_equal(out[alpha >= 1], photo[alpha >= 1]) and (out[alpha <= 0] == 65535).all()
    # Same scene in 8 bits: the same edge, to within the 8-bit quantisation.
    out8 = composite(_shoot(product, alpha, BACKDROPS["blue"]), alpha, WHITE)
    soft = edge_pixels(alpha)
    assert np.abs(out[soft] / 257.0 - out8[soft]).mean() < 1.0


@pytest.mark.parametrize("size", [(97, 61), (301, 263), (129, 1)])
def test_odd_sizes_keep_product_and_background_exact(size):
    width, height = size
    rng = np.random.default_rng(3)
    photo = skimage.data.chelsea()[:height, :width].copy()
    yy, xx = np.mgrid[0:height, 0:width]
    alpha = np.clip(1.2 - np.hypot(xx - width / 2, yy - height / 2) / (0.35 * max(width, height)), 0, 1)
    alpha = alpha.astype(np.float32)
    background = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    out = composite(photo, alpha, background)
    assert edge_pixels(alpha).any()
    assert np.array_equal(out[alpha >= 1], photo[alpha >= 1])
    assert np.array_equal(out[alpha <= 0], background[alpha <= 0])


def test_hard_mask_has_no_edge_to_estimate_and_matches_the_plain_blend():
    alpha, _ = _scene_alpha()
    hard = (alpha >= 0.5).astype(np.float32)
    photo = _shoot(_product("photo"), alpha, BACKDROPS["beige"])
    assert list(foreground_tiles(photo, hard)) == []
    assert np.array_equal(composite(photo, hard, WHITE), composite(photo, hard, WHITE, decontaminate=False))


def test_tiles_cover_every_edge_pixel_and_are_as_accurate_as_one_whole_image_estimate():
    from pymatting.foreground.estimate_foreground_ml import estimate_foreground_ml

    alpha, _ = _scene_alpha()
    product = _product("photo")
    photo = _shoot(product, alpha, BACKDROPS["blue"])
    covered = np.zeros(alpha.shape, bool)
    tiled = np.zeros(photo.shape, np.float32)
    for rows, cols, fg in foreground_tiles(photo, alpha, tile=64, margin=24):
        assert fg.shape == photo[rows, cols].shape
        covered[rows, cols] = True
        tiled[rows, cols] = fg
    soft = edge_pixels(alpha)
    assert covered[soft].all() and not covered.all()  # the interior and the far backdrop are skipped
    whole = estimate_foreground_ml(photo.astype(np.float32) / 255.0, alpha) * 255.0
    # What reaches the output is alpha * foreground: its error against the true product, in levels.
    a = alpha[soft][:, None]
    error_tiled = np.abs(a * (tiled[soft] - product[soft])).mean()
    error_whole = np.abs(a * (whole[soft] - product[soft])).mean()
    error_raw = np.abs(a * (photo[soft] - product[soft])).mean()  # no estimate: the photo itself
    assert error_tiled <= error_whole + 0.25 and error_tiled < 0.5 * error_raw
