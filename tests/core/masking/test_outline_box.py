"""The full-size outline steps run on the box round the mask (postprocess.outline_box) or on the tiles
the outline crosses (postprocess.on_outline_tiles): the answer must be the one the whole frame gives,
with the product in the middle of the frame or touching it."""

from __future__ import annotations

import numpy as np
import pytest

from packshot.core.masking import backdrop, classic_outline, postprocess
from tests import studio_corpus as Sc


@pytest.fixture(scope="module")
def scene():
    return Sc.make_scene(11_000_023, "hard-cast-shadow", (800, 600))


def _masks(scene):
    """The true mask, a copy moved to touch the frame's left edge, and one with a ragged outline
    (what a work-size mask looks like before the full-size steps)."""
    import cv2

    true = scene.mask
    left = np.zeros_like(true)
    xs = np.flatnonzero(true.any(axis=0))
    left[:, : true.shape[1] - xs[0]] = true[:, xs[0]:]
    small = cv2.resize(true.astype(np.uint8), (100, 75), interpolation=cv2.INTER_AREA)
    ragged = cv2.resize(small, true.shape[::-1], interpolation=cv2.INTER_NEAREST).astype(bool)
    return {"true": true, "touching the frame": left, "ragged": ragged}


def test_outline_box_grows_and_clips():
    mask = np.zeros((50, 80), bool)
    mask[10:20, 30:41] = True
    assert postprocess.outline_box(mask, 5) == (slice(5, 25), slice(25, 46))
    assert postprocess.outline_box(mask, 40) == (slice(0, 50), slice(0, 80))


@pytest.mark.parametrize("which", ["true", "touching the frame", "ragged"])
def test_soft_alpha_in_its_box_is_the_whole_frames(scene, which):
    mask = _masks(scene)[which]
    rgb = scene.image[..., :3]
    for method, guide in (("guided", rgb), ("feather", None)):
        whole = postprocess._soft_alpha_in_box(mask, guide, 3, method, 1e-3)
        boxed = postprocess.soft_alpha(mask, guide, 3, method)
        assert boxed.shape == mask.shape and boxed.dtype == np.float32
        # the guided filter's box sums run along each row: the same to float32 rounding
        np.testing.assert_allclose(boxed, whole, rtol=0, atol=1e-6, err_msg=method)
        assert np.array_equal(boxed >= 0.5, whole >= 0.5), method


@pytest.mark.parametrize("which", ["true", "touching the frame", "ragged"])
def test_snap_to_edges_in_its_box_is_the_whole_frames(scene, which):
    mask = _masks(scene)[which]
    rgb = scene.image[..., :3]
    whole = postprocess._guided_filter(postprocess._grey01(rgb), mask.astype(np.float32), 8, 1e-3) >= 0.5
    assert np.array_equal(postprocess.snap_to_edges(mask, rgb, 8), whole)


@pytest.mark.parametrize("tile", [postprocess.OUTLINE_TILE, 48])
@pytest.mark.parametrize("which", ["true", "touching the frame", "ragged"])
def test_unmixing_on_the_outlines_tiles_is_the_whole_frames(scene, which, tile, monkeypatch):
    """(Tiles of 48 px: the outline crosses many tile borders.)"""
    monkeypatch.setattr(postprocess, "OUTLINE_TILE", tile)
    mask = _masks(scene)[which]
    rgb = np.ascontiguousarray(scene.image[..., :3])
    assert np.array_equal(backdrop.unmix_outline(rgb, mask), backdrop._unmix_box(rgb, mask, 2, 2.5))
    noise = classic_outline.colour_noise(rgb)
    assert np.array_equal(classic_outline.unmix_faint_outline(rgb, mask, noise),
                          classic_outline._unmix_box(rgb, mask, noise, 3, 3.0))


def test_the_steps_change_the_ragged_outline(scene):
    """The comparisons above mean something only if the steps move pixels of a ragged outline."""
    mask = _masks(scene)["ragged"]
    rgb = np.ascontiguousarray(scene.image[..., :3])
    assert (backdrop.unmix_outline(rgb, mask) != mask).sum() > 100
    assert (postprocess.snap_to_edges(mask, rgb, 8) != mask).sum() > 100


def _holes_whole_frame(mask: np.ndarray, max_fraction: float) -> np.ndarray:
    """fill_holes' answer from scipy on the whole frame: background pieces (4-connected) that do not
    touch the frame and are at most ``max_fraction`` of the product."""
    from scipy import ndimage

    labels, count = ndimage.label(~mask, structure=[[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    fill = (sizes <= max_fraction * mask.sum()) & ~np.isin(np.arange(count + 1), border)
    fill[0] = False
    return mask | fill[labels]


def _specks_whole_frame(mask: np.ndarray, keep_fraction: float) -> np.ndarray:
    from scipy import ndimage

    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    keep = sizes >= keep_fraction * sizes[1:].max()
    keep[0] = False
    return keep[labels]


@pytest.mark.parametrize("where", ["middle", "touching the frame"])
def test_holes_and_specks_in_the_box_are_the_whole_frames(where):
    """A ring (its hole is background, kept), a pin-hole (filled), a hole cut open to the frame when the
    ring touches it (kept), and specks beside it (dropped): the same answer as on the whole frame."""
    import cv2

    mask = np.zeros((300, 400), np.uint8)
    x = 200 if where == "middle" else 60
    cv2.circle(mask, (x, 150), 60, 1, -1)
    cv2.circle(mask, (x, 150), 30, 0, -1)  # the ring's hole: 2800 px, over 1 % of the ring
    mask = mask.astype(bool)
    mask[150, x + 45] = False  # a pin-hole in the ring
    mask[20:23, 300:303] = True  # a speck far off
    mask[150:152, x + 70:x + 72] = True  # a speck beside the ring
    if where != "middle":
        mask[140:160, 0:40] = False  # the ring opened to the frame's left edge: its hole is outside
    for fraction in (0.01, 0.5):
        assert np.array_equal(postprocess.fill_holes(mask, fraction), _holes_whole_frame(mask, fraction))
    assert np.array_equal(postprocess.drop_specks(mask), _specks_whole_frame(mask, 0.05))
    assert postprocess.fill_holes(mask)[150, x + 45] and not postprocess.drop_specks(mask)[21, 301]
    assert postprocess.fill_holes(mask, 0.5)[150, x] == (where == "middle")
