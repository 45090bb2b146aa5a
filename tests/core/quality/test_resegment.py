"""Prompts sampled from the input mask, and the masker-based re-segmentation."""

from __future__ import annotations

import numpy as np
import pytest

from packshot.core.images import Photo
from packshot.core.quality.resegment import MaskerResegmenter, keep_parts_touching, prompts_from_mask, to_rgb8
from tests.core.quality.qc_helpers import PRODUCT, ColourKeyMasker


def two_part_mask() -> np.ndarray:
    m = np.zeros((120, 160), bool)
    m[20:80, 20:60] = True  # big part
    m[90:110, 120:150] = True  # small separate part (a lid beside the jar)
    return m


def test_points_lie_deep_inside_every_part_and_box_is_widened():
    m = two_part_mask()
    points, labels, box = prompts_from_mask(m, n_points=5, box_margin=0.25)
    assert points.shape == (5, 2) and labels.tolist() == [1] * 5
    xs, ys = points[:, 0].astype(int), points[:, 1].astype(int)
    assert m[ys, xs].all()
    # first point: on the big part's medial axis, as deep as it gets (20 px from its edge)
    assert xs[0] in (39, 40) and 39 <= ys[0] <= 60
    # second: inside the small part
    assert 120 <= xs[1] < 150 and 90 <= ys[1] < 110
    # the mask's box is x 20..149, y 20..109; widened by 25 % of its size and clipped to the image
    np.testing.assert_allclose(box, [0.0, 0.0, 159.0, 119.0])
    _, _, small_box = prompts_from_mask(m, box_margin=0.0)
    np.testing.assert_allclose(small_box, [20, 20, 149, 109])
    assert prompts_from_mask(m, box_margin=None)[2] is None


def test_points_are_deterministic_and_spread():
    m = two_part_mask()
    a, _, _ = prompts_from_mask(m, n_points=6)
    b, _, _ = prompts_from_mask(m, n_points=6)
    np.testing.assert_array_equal(a, b)
    d = np.linalg.norm(a[:, None] - a[None], axis=2) + np.eye(len(a)) * 1e9
    assert d.min() >= 5  # farthest-point sampling: no two prompts on top of each other


def test_empty_input_mask_is_a_clear_error():
    with pytest.raises(ValueError, match="empty"):
        prompts_from_mask(np.zeros((10, 10), bool))


def test_keep_parts_touching_drops_separate_objects():
    out = np.zeros((50, 50), bool)
    out[10:30, 10:30] = True  # product + growth
    out[40:45, 40:45] = True  # a separate object
    ref = np.zeros_like(out)
    ref[12:20, 12:20] = True
    kept = keep_parts_touching(out, ref)
    assert kept[10:30, 10:30].all() and not kept[40:45, 40:45].any()


def test_masker_resegmenter_finds_grown_product_and_ignores_scenery():
    img = np.full((60, 60, 3), 230, np.uint8)
    m_in = np.zeros((60, 60), bool)
    m_in[10:30, 20:40] = True
    img[m_in] = PRODUCT
    img[30:40, 25:35] = PRODUCT  # grown from the product
    img[50:55, 0:10] = PRODUCT  # unrelated red thing in the scenery
    m_out = MaskerResegmenter(ColourKeyMasker()).segment(img, m_in)
    assert m_out.sum() == 400 + 100
    loose = MaskerResegmenter(ColourKeyMasker(), connected_to_input=False).segment(img, m_in)
    assert loose.sum() == 400 + 100 + 50


def test_to_rgb8_reduces_16_bit_and_drops_alpha():
    img16 = np.full((4, 4, 4), 0xABCD, np.uint16)
    out = to_rgb8(img16)
    assert out.dtype == np.uint8 and out.shape == (4, 4, 3) and int(out[0, 0, 0]) == 0xAB
    with pytest.raises(ValueError):
        to_rgb8(np.zeros((4, 4), np.uint8))
    assert Photo(pixels=out).size == (4, 4)
