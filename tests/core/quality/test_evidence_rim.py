"""The outline cue at 800 px (core/quality/evidence_rim.py): a rim of backdrop kept outside the
product's outline is seen; a product's own stripe running just inside its outline is not.

Before round 14 the cue took the centre of the strong edges across the mask's edge, so a stripe
a few pixels inside a right outline pulled it in: the true masks of a stool and a pair of
headphones (studio corpus, seed 5) read 0.026-0.028 of the mask, over the bar then (0.025).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from packshot.core.quality.evidence_rim import RIM_DOUBT, edge_inside_mask
from tests import studio_corpus as Sc


def _striped_box(h: int = 600, w: int = 800) -> tuple[np.ndarray, np.ndarray]:
    """A narrow brown box on smooth pale paper, with a dark stripe 3 px inside its left and right edges."""
    rng = np.random.default_rng(3)
    img = np.full((h, w, 3), 225.0)
    mask = np.zeros((h, w), bool)
    mask[150:450, 360:440] = True
    img[mask] = (140.0, 120.0, 100.0)
    img[150:450, 363:366] = img[150:450, 434:437] = (60.0, 50.0, 40.0)
    img += rng.normal(0.0, 1.5, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), mask


def test_a_stripe_inside_a_right_outline_is_not_a_kept_rim():
    img, mask = _striped_box()
    share, _ = edge_inside_mask(img, mask)
    assert share <= RIM_DOUBT, share


def test_a_rim_of_paper_kept_past_the_outline_is_seen():
    img, mask = _striped_box()
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)  # 3 px of paper kept
    share, where = edge_inside_mask(img, grown)
    assert share > RIM_DOUBT, share
    assert where is not None and where.any()


@pytest.mark.parametrize("seed, cls", [(5000023, "thin-parts-holes"), (5000043, "thin-parts-holes")])
def test_thin_products_true_masks_pass(seed, cls):
    scene = Sc.make_scene(seed, cls, (800, 600))
    share, _ = edge_inside_mask(scene.image, scene.mask)
    assert share <= RIM_DOUBT, share
