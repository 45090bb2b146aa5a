"""SAM prompts sampled from a prior mask, as the paper does: points inside the product plus its box."""

from __future__ import annotations

from typing import Optional

import numpy as np

from packshot.core.masking.sam_predict import Prompts


def prompts_from_prior(prior: np.ndarray, n_points: int = 3, box_margin: float = 0.03,
                       part_fraction: float = 0.05, shadow: Optional[np.ndarray] = None) -> Prompts:
    """Positive points deep inside ``prior`` and a box around it, in ``prior``'s pixel coordinates.

    Every part larger than ``part_fraction`` of the largest gets its innermost point first (a
    multi-part product is prompted everywhere); the rest come from farthest-point sampling over
    pixels at least 40 % as deep as the deepest one (points near an edge may land on background).
    An empty prior gives one point at the image centre and no box: products are framed centrally.
    ``shadow`` (bool, ``prior``'s size): backdrop in shadow (core/masking/backdrop.py). No point and
    no part of the box comes from it, and a shadow the box would still cover gets a negative point.
    """
    import cv2

    h, w = prior.shape
    shadow_inside = None
    if shadow is not None and shadow.shape == prior.shape and (prior & shadow).any():
        shadow_inside = prior & shadow
        trimmed = prior & ~shadow
        # keep only what is left of the product: specks between shadow pixels are no product
        if trimmed.any():
            from packshot.core.masking.postprocess import drop_specks

            prior = drop_specks(trimmed)
    if not prior.any():
        return Prompts(np.array([[(w - 1) / 2, (h - 1) / 2]], np.float32), np.ones(1, np.int32), None)
    m8 = prior.astype(np.uint8)
    dist = cv2.distanceTransform(m8, cv2.DIST_L2, 5)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(m8, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    points: list[tuple[float, float]] = []
    for i in np.argsort(-areas) + 1:
        if len(points) >= n_points or stats[i, cv2.CC_STAT_AREA] < part_fraction * areas.max():
            break
        y, x = np.unravel_index(int(np.argmax(np.where(labels == i, dist, -1.0))), dist.shape)
        points.append((float(x), float(y)))
    step = max(1, int(np.sqrt(h * w / 40_000)))  # sample on a grid: cheap on 24 MP priors
    ys, xs = np.nonzero(dist[::step, ::step] >= 0.4 * float(dist.max()))
    cand = np.stack([xs * step, ys * step], axis=1).astype(np.float64)
    if len(cand):
        nearest = np.min(np.linalg.norm(cand[:, None] - np.array(points)[None], axis=2), axis=1)
        while len(points) < n_points and nearest.max() > 0:
            k = int(np.argmax(nearest))
            points.append((float(cand[k, 0]), float(cand[k, 1])))
            nearest = np.minimum(nearest, np.linalg.norm(cand - cand[k], axis=1))
    ys_all, xs_all = np.nonzero(prior)
    x0, x1, y0, y1 = xs_all.min(), xs_all.max(), ys_all.min(), ys_all.max()
    mx, my = box_margin * (x1 - x0 + 1), box_margin * (y1 - y0 + 1)
    box = np.array([max(0.0, x0 - mx), max(0.0, y0 - my), min(w - 1.0, x1 + mx), min(h - 1.0, y1 + my)],
                   np.float32)
    labels = [1] * len(points)
    if shadow_inside is not None:
        inside = shadow_inside.copy()
        inside[:int(box[1])] = inside[int(box[3]) + 1:] = False
        inside[:, :int(box[0])] = inside[:, int(box[2]) + 1:] = False
        if inside.sum() >= 0.02 * prior.sum():  # the box still holds some shadow: say it is background
            depth = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 5)
            y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
            points.append((float(x), float(y)))
            labels.append(0)
    return Prompts(np.array(points, np.float32), np.array(labels, np.int32), box)


def prompts_at_work_size(prior: np.ndarray, n_points: int, side: int = 1024,
                          shadow: Optional[np.ndarray] = None):
    """Sample prompts on a copy of the prior no larger than ``side`` (cheap on 24 MP photos).

    ``shadow`` (bool, any size): the backdrop's shadow; no prompt is seeded from it.
    """
    from packshot.core.masking.postprocess import resize_mask

    h, w = prior.shape
    factor = min(1.0, side / max(h, w))
    small_hw = (max(1, round(h * factor)), max(1, round(w * factor)))
    small = prior if factor >= 1.0 else resize_mask(prior, (small_hw[1], small_hw[0]))
    shade = None if shadow is None else resize_mask(shadow, (small_hw[1], small_hw[0]))
    prompts = prompts_from_prior(small, n_points, shadow=shade)
    return prompts if factor >= 1.0 else prompts.rescaled(small_hw, (h, w))
