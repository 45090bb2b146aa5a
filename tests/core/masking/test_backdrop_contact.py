"""The contact shadow's band under a pale product's base (core/masking/backdrop_contact.py).

``contact_band`` reads ``t`` (light over the paper's) and ``d`` (distance from neutral) built
here by hand, so each test knows which pixels are shadow and which are product.
"""

from __future__ import annotations

import numpy as np
import pytest

from packshot.core.masking.backdrop_contact import contact_band
from packshot.core.masking.maskers import prior_to_full_mask
from packshot.core.masking.prior_classic import ClassicPrior
from packshot.core.masking.result import stored_mask
from tests import studio_corpus as Sc
from tests.core.masking import corpus_scoring as Cs

H, W = 200, 240
TOP, BASE, LEFT, RIGHT = 40, 160, 60, 180  # the product's box: rows TOP..BASE-1
RAMP = (0.45, 0.6, 0.75, 0.9)  # the shadow's light, row by row down from the base


def _scene(foot: tuple[float, ...] = (), body: float = 0.97, ramp: tuple[float, ...] = RAMP
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(t, d, mask, product): a pale neutral product (light ``body``) whose lowest rows have the light
    ``foot``, on paper with a contact-shadow ``ramp`` under its base; the mask keeps the product and
    the ramp's darker three rows, as the flood leaves them."""
    rng = np.random.default_rng(3)
    t = (1.0 + rng.normal(0, 0.004, (H, W))).astype(np.float32)
    d = np.abs(rng.normal(0, 0.005, (H, W))).astype(np.float32)
    product = np.zeros((H, W), bool)
    product[TOP:BASE, LEFT:RIGHT] = True
    t[product] = body
    for i, level in enumerate(foot):
        t[BASE - len(foot) + i, LEFT:RIGHT] = level
    for i, level in enumerate(ramp):
        t[BASE + i, LEFT - 4:RIGHT + 4] = level
    mask = product.copy()
    mask[BASE:BASE + 3, LEFT:RIGHT] = True
    return t, d, mask, product


def test_the_ramp_under_a_pale_product_is_taken():
    t, d, mask, product = _scene()
    band = contact_band(mask, t, d)
    assert band[BASE:BASE + 3, LEFT:RIGHT].all()
    assert not band[product].any()


@pytest.mark.parametrize("foot", [(0.5, 0.5, 0.5, 0.5), (0.8, 0.7, 0.6)], ids=["grey-cap", "shaded-foot"])
@pytest.mark.parametrize("ramp", [(), (0.75, 0.9)], ids=["no-shadow", "shadow-taken"])
def test_a_grey_foot_with_a_sharp_lower_edge_stays_product(foot, ramp):
    # a grey cap, or a foot shading darker towards the floor, over bare paper or over the lighter
    # part of a shadow the flood took: one step takes most of the darkening
    t, d, mask, product = _scene(foot, ramp=ramp)
    assert not contact_band(product, t, d).any()


def test_a_glass_foot_flat_above_the_ramp_stays_product():
    # a glass's base: as dark as the shadow's darkest and flat for a few rows, then the lighter body
    t, d, mask, product = _scene(foot=(0.45, 0.44, 0.45, 0.44, 0.45))
    assert not contact_band(mask, t, d)[product].any()


def test_the_shadows_end_beside_the_base_is_taken():
    # smeared past the base's corner: darker, then lighter again, with backdrop above it (a corpus
    # scene's column, top to bottom)
    t, d, mask, product = _scene()
    end = (slice(BASE - 6, BASE + 3), slice(LEFT - 6, LEFT))
    t[end] = np.array([0.84, 0.80, 0.772, 0.753, 0.753, 0.755, 0.775, 0.815, 0.83], np.float32)[:, None]
    mask[end] = True
    band = contact_band(mask, t, d)
    assert band[end].all() and band[BASE:BASE + 3, LEFT:RIGHT].all()
    assert not band[product].any()


def test_a_dark_products_column_never_steps_back_up():
    t, d, mask, product = _scene(body=0.3)
    assert not contact_band(mask, t, d).any()


def test_a_coloured_band_is_product():
    t, d, mask, product = _scene()
    d[BASE:BASE + 3] = 0.2  # off the paper's chroma: a coloured sole, not the floor's shadow
    assert not contact_band(mask, t, d).any()


# a white shoe and a white tube on white paper, a pale tube a few ΔE off its paper: the tight contact
# shadow under the base was kept as product, and the gate let all three through
@pytest.mark.parametrize("seed, cls", [(5000017, "white-on-white"), (5000066, "tone-on-tone"),
                                       (13000311, "white-on-white")])
def test_a_corpus_contact_shadow_under_a_pale_product_is_taken_away(seed, cls):
    scene = Sc.make_scene(seed, cls, (800, 600))
    mask = stored_mask(prior_to_full_mask(ClassicPrior()(scene.image), scene.image)[1])
    assert Cs.clean(mask, scene.mask), (Cs.iou(mask, scene.mask), Cs.product_lost(mask, scene.mask))
