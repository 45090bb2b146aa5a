"""The expansion metric on synthetic masks whose answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from packshot.core.quality.metric import as_bool_mask, expansion, iou, signed_expansion


def rect(h: int, w: int, y0: int, y1: int, x0: int, x1: int, dtype=bool) -> np.ndarray:
    m = np.zeros((h, w), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m if dtype is bool else (m * 255).astype(dtype)


def test_identical_masks_have_no_expansion():
    m = rect(100, 100, 20, 60, 30, 70)  # 40 x 40 = 1600 px
    s = expansion(m, m)
    assert (s.expansion, s.expansion_object, s.signed, s.iou) == (0.0, 0.0, 0.0, 1.0)
    assert s.input_area == s.output_area == 1600 and s.outside_area == 0


def test_grown_object_counts_only_the_outside_area():
    m_in = rect(100, 100, 20, 60, 30, 70)  # 1600 px
    m_out = rect(100, 100, 20, 80, 30, 70)  # 2400 px, contains m_in
    s = expansion(m_in, m_out)
    assert s.outside_area == 800
    assert s.expansion == pytest.approx(800 / 10_000)
    assert s.expansion_object == pytest.approx(0.5)
    assert s.signed == pytest.approx(800 / 10_000)
    assert s.iou == pytest.approx(1600 / 2400)


def test_shifted_object_expands_by_union_but_signed_is_zero():
    # The paper's E sees the part that moved outside; the notebook's signed area does not.
    m_in = rect(50, 50, 10, 20, 10, 20)  # 100 px
    m_out = rect(50, 50, 10, 20, 15, 25)  # 100 px, 50 overlap
    s = expansion(m_in, m_out)
    assert s.outside_area == 50
    assert s.expansion == pytest.approx(50 / 2500)
    assert s.expansion_object == pytest.approx(0.5)
    assert s.signed == 0.0
    assert s.iou == pytest.approx(50 / 150)


def test_shrunk_object_has_negative_signed_and_zero_expansion():
    m_in = rect(40, 40, 0, 20, 0, 20)  # 400 px
    m_out = rect(40, 40, 0, 10, 0, 20)  # 200 px, inside m_in
    s = expansion(m_in, m_out)
    assert s.expansion == 0.0 and s.expansion_object == 0.0
    assert s.signed == pytest.approx(-200 / 1600)
    assert s.iou == pytest.approx(0.5)


def test_uint8_masks_are_thresholded_at_127_like_the_notebook():
    m_in = np.zeros((10, 10), np.uint8)
    m_in[:, :5] = 255
    m_out = m_in.copy()
    m_out[:, 5] = 128  # counts (> 127)
    m_out[:, 6] = 127  # does not count
    assert signed_expansion(m_in, m_out) == pytest.approx(0.1)
    assert expansion(m_in, m_out).outside_area == 10
    # bool and 0/255 forms of the same mask give the same score
    assert expansion(m_in > 127, m_out > 127) == expansion(m_in, m_out)


def test_notebook_example_magnitude():
    # An output object that covers 17.2 % more of a 500 x 500 image than the input: the notebook's
    # SI2 figure. Input 100 x 100 = 4 %, output adds 43,000 px below it.
    m_in = rect(500, 500, 0, 100, 0, 100)
    m_out = m_in.copy()
    m_out[100:186, :] = True  # 86 rows x 500 = 43,000 px
    assert signed_expansion(m_in, m_out) == pytest.approx(0.172)
    assert expansion(m_in, m_out).expansion_object == pytest.approx(4.3)


def test_soft_alpha_float_masks_threshold_at_half():
    a = np.array([[0.0, 0.49, 0.51, 1.0]], np.float32)
    assert as_bool_mask(a).tolist() == [[False, False, True, True]]


def test_empty_masks_and_empty_input():
    empty = np.zeros((8, 8), bool)
    assert iou(empty, empty) == 1.0
    s = expansion(empty, rect(8, 8, 0, 2, 0, 2))
    assert s.expansion == pytest.approx(4 / 64) and math.isinf(s.expansion_object)


def test_mismatched_sizes_and_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="sizes differ"):
        expansion(np.zeros((4, 5), bool), np.zeros((5, 4), bool))
    with pytest.raises(ValueError, match="2-D"):
        expansion(np.zeros((4, 4, 3), bool), np.zeros((4, 4, 3), bool))
