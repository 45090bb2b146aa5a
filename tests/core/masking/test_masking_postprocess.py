"""Clean-up and soft edges: holes, specks, alpha band, resizing without shifts."""

from __future__ import annotations

import cv2
import numpy as np

from packshot.core.masking.postprocess import (
    clean_mask,
    drop_specks,
    fill_holes,
    resize_mask,
    snap_to_edges,
    soft_alpha,
)
from tests.core.masking.scenes import iou, mug_mask


def test_fill_holes_closes_pinholes_but_keeps_a_mug_handle_opening():
    mask = mug_mask(300, 400)
    handle_hole = (165, 272)  # (y, x) inside the handle loop, background
    assert not mask[handle_hole]
    holed = mask.copy()
    holed[140:144, 180:184] = False  # a glare pin-hole in the body
    out = fill_holes(holed)
    assert out[142, 182], "pin-hole should be filled"
    assert not out[handle_hole], "the handle's opening is real background"
    assert fill_holes(holed, max_fraction=None)[handle_hole], "None fills every enclosed hole"


def test_drop_specks_keeps_every_real_part():
    mask = np.zeros((200, 300), bool)
    cv2.circle(mask_u8 := mask.astype(np.uint8), (80, 100), 40, 1, -1)  # left earring
    cv2.circle(mask_u8, (220, 100), 30, 1, -1)  # right earring, smaller
    mask_u8[10:12, 10:12] = 1  # dust
    mask_u8[190, 290] = 1
    out = drop_specks(mask_u8.astype(bool))
    assert out[100, 80] and out[100, 220]
    assert not out[10, 10] and not out[190, 290]


def test_soft_alpha_changes_only_a_band_around_the_edge():
    mask = np.zeros((120, 160), bool)
    mask[30:90, 40:120] = True
    guide = np.where(mask[:, :, None], 200, 30).astype(np.uint8).repeat(3, axis=2)
    for method in ("feather", "guided"):
        alpha = soft_alpha(mask, guide, radius=3, method=method)
        assert alpha.dtype == np.float32 and alpha.shape == mask.shape
        assert (alpha[34:86, 44:116] == 1.0).all(), "interior stays exactly opaque"
        assert (alpha[:26] == 0.0).all() and (alpha[:, :36] == 0.0).all(), "far background stays 0"
        assert 0.0 <= alpha.min() and alpha.max() <= 1.0
    feather = soft_alpha(mask, radius=3, method="feather")
    assert 0.05 < feather[30, 80] < 0.95, "feather makes the edge row partial"
    assert soft_alpha(mask, method="hard").tolist() == mask.astype(np.float32).tolist()


def test_guided_alpha_follows_the_photo_edge_not_the_mask_edge():
    # the mask is 2 px too wide on the right; the guide shows where the object really ends
    truth = np.zeros((100, 100), bool)
    truth[20:80, 20:70] = True
    mask = np.zeros_like(truth)
    mask[20:80, 20:72] = True
    guide = np.where(truth[:, :, None], 220, 20).astype(np.uint8).repeat(3, axis=2)
    alpha = soft_alpha(mask, guide, radius=4, method="guided")
    assert alpha[50, 71] < 0.5 < alpha[50, 68]
    assert iou(snap_to_edges(mask, guide, 4), truth) > iou(mask, truth)


def test_resize_mask_keeps_pixel_centres_aligned():
    mask = np.zeros((37, 53), bool)
    mask[10:20, 20:30] = True
    up = resize_mask(mask, (53 * 4, 37 * 4))
    ys, xs = np.nonzero(up)
    assert abs(xs.mean() / 4 - (np.nonzero(mask)[1].mean() + 0.5)) < 0.3
    assert abs(ys.mean() / 4 - (np.nonzero(mask)[0].mean() + 0.5)) < 0.3
    assert resize_mask(up, (53, 37)).tolist() == mask.tolist()


def test_clean_mask_of_empty_and_full():
    assert not clean_mask(np.zeros((10, 10), bool)).any()
    assert clean_mask(np.ones((10, 10), bool)).all()


def test_cleaning_decided_at_model_size_matches_cleaning_at_full_size():
    from packshot.core.masking.sam_predict import _clean_via_work_size

    small = np.zeros((64, 96), bool)
    small[10:50, 20:70] = True
    small[30, 40] = False  # pin-hole
    small[3, 3] = True  # speck
    full = resize_mask(small, (96 * 5, 64 * 5))
    fast = _clean_via_work_size(full.copy(), small)
    slow = clean_mask(full)
    assert not fast[15, 15] and fast[152, 202], "speck gone, pin-hole filled"
    assert (fast != slow).mean() < 0.001
