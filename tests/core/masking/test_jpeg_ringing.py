"""Paper beside a saturated product that JPEG's ringing pushed off the paper's colour
(``core.masking.backdrop.jpeg_ringing``): the flood takes it, the mask keeps no band of it."""

from __future__ import annotations

import numpy as np
import pytest

from packshot.core.masking.backdrop import jpeg_ringing
from tests.core.masking.corpus_scoring import assert_classic_mask_clean, classic_corpus_mask, product_lost


def test_a_swing_beside_a_strong_step_is_paper_and_the_same_swing_far_from_it_is_not():
    reach = 4
    deviation = np.full((40, 80), 1.0, np.float32)  # noise units: clean paper
    deviation[:, 40:] = 600.0  # a saturated product from column 40
    deviation[10, 40 - reach + 1] = 15.0  # ringing inside the block beside the outline
    deviation[10, 40 - reach - 10] = 15.0  # the same swing on open paper: a mark, not ringing
    paper = jpeg_ringing(deviation, reach)
    assert paper[10, 40 - reach + 1]
    assert not paper[10, 40 - reach - 10]
    assert not paper[:, 40:].any()  # the product itself stays off the paper


@pytest.mark.parametrize("seed, cls", [(21_000_073, "plain"), (7_000_201, "plain"), (5_000_185, "plain")])
def test_no_band_of_ringing_paper_is_kept_beside_a_product_on_saturated_paper(seed, cls):
    """Corpus scenes on saturated paper where a 3-8 px band of ringing paper beside the outline was kept
    (IoU 0.80, 0.91 and 0.95 before)."""
    assert_classic_mask_clean(seed, cls)


def test_the_ringings_reach_shrinks_as_the_photo_grows():
    """At 2000 x 1500 a working pixel spans 5 of the photo's, and the working copy averages most ringing
    away: a reach of 4 working pixels (right at 800 px) let the flood take 1.1 % of this box's edge."""
    scene, mask = classic_corpus_mask(5_000_060, "hard-cast-shadow", (2000, 1500))
    assert product_lost(mask, scene.mask) <= 0.01
