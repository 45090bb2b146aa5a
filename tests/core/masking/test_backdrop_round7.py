"""Round 7 of the hard classes (core/masking/backdrop.py): saturated paper whose dim channels are
noisy, and a sweep's bend the quadratic backdrop could not follow.

Synthetic scenes in linear light first (each test knows which pixels are paper), then corpus
scenes (tests/studio_corpus.py, 800 x 600) that the old rules got wrong.
"""

from __future__ import annotations

import numpy as np
import pytest

from packshot.core.masking.backdrop import (
    backdrop_regions,
    estimate_backdrop,
    ratio_and_deviation,
)
from tests.core.masking.scenes import linear_to_noisy8

H, W = 240, 320
RED_PAPER = np.array([0.23, 0.009, 0.008], np.float32)  # sRGB about (132, 23, 22): a saturated red sweep


def _flood_sigma(t: np.ndarray) -> np.ndarray:
    return 0.035 / np.sqrt(np.clip(t, 0.05, 1.0))  # the flood's colour tolerance (backdrop_regions)


def test_saturated_paper_reads_as_neutral_once_the_dim_channels_are_weighed_by_their_noise():
    lin = np.broadcast_to(RED_PAPER, (H, W, 3)).copy()
    rgb8 = linear_to_noisy8(lin, noise=0.006)
    backdrop = estimate_backdrop(rgb8)
    assert backdrop.is_studio, backdrop.reason
    t, plain = ratio_and_deviation(rgb8, backdrop)
    _, weighted = ratio_and_deviation(rgb8, backdrop, noise_weighted=True)
    inside = (plain < 2.5 * _flood_sigma(t)).mean()
    assert inside < 0.8  # the 8-bit green and blue alone put much of the clean paper off neutral
    assert (weighted < 2.5 * _flood_sigma(t)).mean() > max(0.8, inside + 0.1)


def test_a_hue_change_on_saturated_paper_still_stands_out_when_weighted():
    lin = np.broadcast_to(RED_PAPER, (H, W, 3)).copy()
    lin[80:160, 120:200] = RED_PAPER * np.array([0.6, 0.6, 4.0], np.float32)  # darker and bluer: a product
    rgb8 = linear_to_noisy8(lin, noise=0.006)
    backdrop = estimate_backdrop(rgb8)
    t, weighted = ratio_and_deviation(rgb8, backdrop, noise_weighted=True)
    patch = (slice(90, 150), slice(130, 190))
    assert (weighted[patch] > 2.5 * _flood_sigma(t[patch])).mean() > 0.99


def test_a_white_backdrop_reads_the_same_weighted_or_not():
    lin = np.full((H, W, 3), 0.8, np.float32)
    rgb8 = linear_to_noisy8(lin)
    backdrop = estimate_backdrop(rgb8)
    _, plain = ratio_and_deviation(rgb8, backdrop)
    _, weighted = ratio_and_deviation(rgb8, backdrop, noise_weighted=True)
    assert np.allclose(plain, weighted, atol=2e-3)


def _bent_sweep(step: float) -> tuple[np.ndarray, np.ndarray]:
    """Grey paper whose floor is ``step`` times as bright as its wall, the bend a band at 45 % of
    the frame's height, 8 % of it high (wall and floor lit differently); (linear photo, paper light)."""
    y = (np.arange(H, dtype=np.float32) + 0.5) / H
    s = np.clip((y - 0.45) / 0.08 + 0.5, 0, 1)
    light = 1.0 + (step - 1.0) * s * s * (3 - 2 * s)
    lin = np.full((H, W, 3), 0.35, np.float32) * light[:, None, None]
    return lin, np.broadcast_to(light[:, None], (H, W))


def test_a_sweeps_bend_is_part_of_the_backdrop_model():
    lin, light = _bent_sweep(0.8)
    rgb8 = linear_to_noisy8(lin)
    backdrop = estimate_backdrop(rgb8)
    assert backdrop.is_studio, backdrop.reason
    ratio = backdrop.colour.mean(-1) / (0.35 * light)
    assert np.abs(ratio - 1.0).max() < 0.03  # a quadratic alone is off by over 8 % at the bend


def test_the_flood_crosses_a_sweeps_bend_and_stops_at_the_product():
    lin, _ = _bent_sweep(0.8)  # (the quadratic alone left an eighth of this paper as product)
    product = np.zeros((H, W), bool)
    product[60:170, 130:190] = True
    lin[product] = np.array([0.5, 0.12, 0.05], np.float32)
    rgb8 = linear_to_noisy8(lin)
    regions = backdrop_regions(rgb8, estimate_backdrop(rgb8))
    grown = np.zeros_like(product)
    grown[57:173, 127:193] = True  # the product and its outline band
    assert regions.outside[~grown].mean() > 0.995
    assert regions.outside[product].mean() < 0.01


def test_no_bend_is_added_to_a_plain_sweep():
    lin = np.full((H, W, 3), 0.35, np.float32)
    yy = np.linspace(0, 1, H, dtype=np.float32)[:, None, None]
    lin = lin * (1.0 - 0.1 * yy)  # a light fall-off: the quadratic's own job
    rgb8 = linear_to_noisy8(lin)
    backdrop = estimate_backdrop(rgb8)
    ratio = backdrop.colour.mean(-1) / lin.mean(-1)
    assert np.abs(ratio - 1.0).max() < 0.02


# corpus scenes (tests/studio_corpus.py, 800 x 600) that the old rules got wrong
CORPUS_CASES = [
    (7000071, "plain", "a strip of red paper along the top kept as a separate part (IoU 0.91)"),
    (7000058, "glossy-floor", "the sweep's bend kept as a band across the frame (IoU 0.91)"),
    (5000223, "glossy-floor", "the sweep's bend kept as product (IoU 0.43)"),
    (5000213, "hard-cast-shadow", "the sweep's bend kept as product on coloured paper (IoU 0.75)"),
    (5000228, "hard-cast-shadow", "the sweep's bend kept as product beside a hard shadow (IoU 0.37)"),
]


@pytest.mark.parametrize("seed,cls,was", CORPUS_CASES, ids=[str(c[0]) for c in CORPUS_CASES])
def test_corpus_scenes_the_old_rules_got_wrong_are_clean(seed: int, cls: str, was: str):
    from tests.core.masking.corpus_scoring import assert_classic_mask_clean

    assert_classic_mask_clean(seed, cls, was)
