"""What the backdrop model takes away from the product: hard cast shadows, a glossy floor's
reflection, and the unmixed outline (core/masking/backdrop.py, backdrop_hard.py, backdrop_reflection.py).

Synthetic scenes in linear light (shadows multiply the backdrop, a reflection is a faded mirror
copy), so each test knows exactly which pixels are product.
"""

from __future__ import annotations

import numpy as np
import pytest

from packshot.core.masking.backdrop import (
    backdrop_regions,
    border_strip,
    estimate_backdrop,
    ratio_and_deviation,
    srgb8_to_linear,
    unmix_outline,
)
from packshot.core.masking.backdrop_hard import PAPER_NOISE_FLOOR, paper_chroma_noise, thin_hard_shadows
from packshot.core.masking.backdrop_reflection import floor_reflection
from packshot.core.masking.maskers import prior_to_full_mask
from packshot.core.masking.prior_classic import ClassicPrior
from packshot.core.masking.result import stored_mask
from tests import studio_corpus as Sc
from tests.core.masking import corpus_scoring as Cs
from tests.core.masking.scenes import linear_to_noisy8

H, W = 300, 400
BEIGE = np.array([0.75, 0.62, 0.45], np.float32)


def _textured_product(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A red-brown product with stripes and grain: nothing like the backdrop's colour."""
    base = np.array([0.35, 0.08, 0.05], np.float32)
    stripes = 0.6 + 0.4 * (np.sin(np.arange(w) / 3.0) > 0)[None, :, None]
    grain = rng.uniform(0.8, 1.2, (h, w, 1)).astype(np.float32)
    return base * stripes * grain


def _scene_with_raking_shadow() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A product with a thin, hard shadow raking sideways from its base: (rgb8, product, shadow)."""
    lin = np.broadcast_to(BEIGE, (H, W, 3)).copy()
    product = np.zeros((H, W), bool)
    product[80:230, 170:220] = True
    shadow = np.zeros((H, W), bool)
    for y in range(222, 230):  # a parallelogram 8 px high leaving the base to the right
        shadow[y, 220:380 - 3 * (y - 222)] = True
    lin[shadow] *= 0.4
    lin[product] = _textured_product(np.random.default_rng(1), 150, 50).reshape(-1, 3)
    return linear_to_noisy8(lin), product, shadow


def test_a_thin_hard_shadow_cut_off_by_its_sharp_edge_is_backdrop():
    rgb8, product, shadow = _scene_with_raking_shadow()
    backdrop = estimate_backdrop(rgb8)
    assert backdrop.is_studio, backdrop.reason
    regions = backdrop_regions(rgb8, backdrop)
    assert regions.outside[shadow].mean() > 0.9
    assert regions.outside[product].mean() < 0.01


def test_a_flat_dark_region_that_is_all_there_is_stays_product():
    # a flat grey product (t = 0.45 everywhere, neutral) with nothing else left: the shadow test
    # must not take the whole product for its own shadow
    t = np.ones((H, W), np.float32)
    d = np.zeros((H, W), np.float32)
    grey = np.zeros((H, W), bool)
    grey[100:200, 150:250] = True
    t[grey] = 0.45
    assert not thin_hard_shadows(t, d, ~grey).any()


# a product clearly off the backdrop's chroma; and a dark one 15 % off it, within the fixed allowance
# for JPEG in the dark (3.5 sigma at t = 0.15 is 0.32) but far outside this photo's clean paper: joined
# into one piece with it, the shadow leaving its base would fail every test and be kept
@pytest.mark.parametrize("product_t, product_d", [(0.3, 1.0), (0.15, 0.15)])
def test_a_flat_dark_piece_beside_a_larger_product_is_shadow(product_t, product_d):
    t = np.ones((H, W), np.float32)
    d = np.zeros((H, W), np.float32)
    product = np.zeros((H, W), bool)
    product[60:200, 150:230] = True
    t[product], d[product] = product_t, product_d
    piece = np.zeros((H, W), bool)
    piece[190:200, 230:330] = True
    t[piece] = 0.4
    taken = thin_hard_shadows(t, d, ~(product | piece))
    assert taken[piece].mean() > 0.9 and not taken[product].any()


def test_the_shadow_may_read_as_far_from_neutral_as_the_paper_does():
    rng = np.random.default_rng(5)
    t = np.ones((H, W), np.float32)
    d = np.abs(rng.normal(0, 0.02, (H, W))).astype(np.float32)  # noisy paper: its 90th percentile is 0.033
    limit = paper_chroma_noise(t, d)
    assert np.allclose(limit, 3 * np.percentile(d[border_strip(t.shape, 0.02)], 90), rtol=0.02)
    t[:] = 0.25  # in a shadow keeping a quarter of the light, the noise doubles
    assert np.allclose(paper_chroma_noise(np.where(border_strip(t.shape, 0.02), 1.0, t).astype(np.float32), d)[H // 2, W // 2],
                       2 * limit[H // 2, W // 2], rtol=0.02)
    assert np.all(paper_chroma_noise(np.ones((H, W), np.float32), np.zeros((H, W), np.float32)) == PAPER_NOISE_FLOOR)


# thin hard shadows leaving a dark product's base (a bottle on white, a tube on beige) and a box's
# wedge of shadow on blue paper: kept whole as product before the paper's own noise bounded the piece
@pytest.mark.parametrize("seed", [7000026, 21000268, 5000060])
def test_a_corpus_hard_shadow_beside_a_dark_product_is_taken_away(seed):
    scene = Sc.make_scene(seed, "hard-cast-shadow", (800, 600))
    prior = ClassicPrior()
    mask = stored_mask(prior_to_full_mask(prior(scene.image), scene.image)[1])
    assert Cs.clean(mask, scene.mask), (Cs.iou(mask, scene.mask), Cs.product_lost(mask, scene.mask))


def _glossy_scene(reflect: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """A striped product standing at row ``base`` on a floor that mirrors it (or, without
    ``reflect``, a product whose lower part is a different, unrelated pattern)."""
    rng = np.random.default_rng(3)
    lin = np.broadcast_to(BEIGE, (H, W, 3)).copy()
    base, top, x0, x1 = 200, 60, 160, 240
    body = _textured_product(rng, base - top + 1, x1 - x0)
    lin[top:base + 1, x0:x1] = body
    product = np.zeros((H, W), bool)
    product[top:base + 1, x0:x1] = True
    span = 40
    if reflect:
        for k in range(1, span + 1):
            rho = 0.4 * (1 - k / span) ** 1.5
            lin[base + k, x0:x1] = (1 - rho) * lin[base + k, x0:x1] + rho * lin[base - k, x0:x1]
    else:  # the product simply goes on with a pattern of its own
        product[base + 1:base + span + 1, x0:x1] = True
        lin[base + 1:base + span + 1, x0:x1] = _textured_product(np.random.default_rng(9), span, x1 - x0)[:, ::-1] * 0.7
    return linear_to_noisy8(lin), product, lin, base


def test_a_glossy_floors_mirror_image_is_found_below_the_base():
    rgb8, product, _, base = _glossy_scene(reflect=True)
    backdrop = estimate_backdrop(rgb8)
    regions = backdrop_regions(rgb8, backdrop)
    assert regions.reflection is not None
    below = np.zeros_like(product)
    below[base + 2:base + 12, 160:240] = True  # the strongest part of the copy, near the base
    assert regions.outside[below].mean() > 0.9
    assert regions.outside[product].mean() < 0.01
    assert not (regions.shadow & regions.reflection).any()


def test_a_products_own_lower_part_is_not_a_reflection():
    rgb8, product, _, _ = _glossy_scene(reflect=False)
    lin = srgb8_to_linear(rgb8)
    backdrop = estimate_backdrop(rgb8)
    assert not floor_reflection(lin, backdrop.colour, product).any()


def test_unmixing_keeps_a_textured_products_dark_rim():
    rng = np.random.default_rng(5)
    lin = np.broadcast_to(BEIGE, (H, W, 3)).copy()
    product = np.zeros((H, W), bool)
    product[80:220, 150:250] = True
    lin[product] = _textured_product(rng, 140, 100).reshape(-1, 3)
    rim = product & ~np.pad(product[1:-1, 1:-1] & product[:-2, 1:-1] & product[2:, 1:-1]
                            & product[1:-1, :-2] & product[1:-1, 2:], 1)
    lin[rim] *= 0.3  # a dark rim, far from the product's mean colour and from the backdrop's
    rgb8 = linear_to_noisy8(lin)
    out = unmix_outline(rgb8, product)
    assert (product & ~out).sum() <= 0.002 * product.sum()


def test_ratio_and_deviation_of_a_shadow_is_neutral_and_darker():
    rgb8, _, shadow = _scene_with_raking_shadow()
    backdrop = estimate_backdrop(rgb8)
    t, d = ratio_and_deviation(rgb8, backdrop)
    core = shadow & np.roll(shadow, 2, 0) & np.roll(shadow, -2, 0)
    assert abs(float(np.median(t[core])) - 0.4) < 0.06
    assert float(np.median(d[core])) < 0.05
