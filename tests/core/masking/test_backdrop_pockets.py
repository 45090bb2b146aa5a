"""The backdrop seen through a thin handle's loop is a hole in the mask, not product: the open backdrop
just beyond the thin handle must not make the loop look like a faint tone-on-tone body."""

from __future__ import annotations

import cv2
import numpy as np

from packshot.core.images import Photo
from packshot.core.masking.maskers import PriorMasker
from packshot.core.masking.prior_classic import ClassicPrior


def _bag_with_a_thin_handle() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = 600, 800
    rng = np.random.default_rng(7)
    image = np.clip(np.full((h, w, 3), (223.0, 191.0, 171.0)) + rng.normal(0, 1.5, (h, w, 3)), 0, 255)
    body = np.zeros((h, w), np.uint8)
    cv2.rectangle(body, (330, 360), (470, 520), 1, -1)
    handle = np.zeros((h, w), np.uint8)
    cv2.ellipse(handle, (400, 362), (55, 60), 0, 180, 360, 1, 5)  # a 5 px strap over the top
    image[body > 0] = (40, 60, 110)
    image[handle > 0] = (20, 20, 20)
    loop = np.zeros((h, w), np.uint8)
    cv2.ellipse(loop, (400, 362), (50, 55), 0, 180, 360, 1, -1)
    loop_inside = (loop > 0) & (handle == 0) & (body == 0)
    return image.astype(np.uint8), (body | handle) > 0, loop_inside


def test_the_backdrop_inside_a_thin_handle_is_not_product():
    image, product, loop = _bag_with_a_thin_handle()
    mask = PriorMasker(ClassicPrior()).compute(Photo(pixels=image)).mask > 0.5
    assert (mask & product).sum() >= 0.97 * product.sum()  # the bag and its strap are kept
    inner = cv2.erode(loop.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)  # away from the strap's edge
    kept = (mask & inner).sum() / inner.sum()
    assert kept <= 0.05, f"{kept:.1%} of the loop kept as product"  # all of it before pockets were found
