"""Mask clean-up and the soft alpha edge used for compositing.

All functions take and return full-resolution arrays; they never change the image size.
"""

from __future__ import annotations

from typing import Callable, Literal, Optional

import numpy as np

AlphaMethod = Literal["auto", "guided", "feather", "hard"]
HALF_ABOVE = 128 / 255  # just above 0.5, also after 8-bit rounding
UNSURE_BELOW_HALF = 0.45  # a product pixel's guided alpha from here up to 0.5 is raised to HALF_ABOVE
OUTLINE_TILE = 128  # px: the tiles on which the outline steps run (``on_outline_tiles``)


def _cv2():
    import cv2  # lazy: keeps `import packshot.core.masking` light

    return cv2


def outline_box(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The box round ``mask``'s pixels grown by ``margin`` px, clipped to the frame (``mask`` not empty).

    The outline steps change pixels only near the outline and read only ``margin`` px round them:
    run on this box, they give the full frame's answer without blurring a 6000 px photo's backdrop."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape[:2]
    return (slice(max(0, rows[0] - margin), min(h, rows[-1] + margin + 1)),
            slice(max(0, cols[0] - margin), min(w, cols[-1] + margin + 1)))


def on_outline_tiles(step: Callable[..., np.ndarray], mask: np.ndarray, images: tuple[np.ndarray, ...],
                     reach: int, margin: int) -> np.ndarray:
    """``mask`` with ``step(mask_crop, *image_crops)`` (the crop's new bool mask) applied, tile by tile,
    on the ``OUTLINE_TILE`` px tiles that hold a pixel within ``reach`` of the outline, each tile read
    with ``margin`` px round it (clipped to the frame).

    For a step that changes pixels only within ``reach`` of the outline and whose answer at a pixel
    depends only on what lies within ``margin`` of it, this is the whole frame's answer: a product's
    outline crosses a few of a 6000 px photo's tiles, and its inside and the backdrop are never read."""
    cv2 = _cv2()
    m8 = mask.astype(np.uint8)
    square = np.ones((3, 3), np.uint8)
    near = cv2.dilate(m8, square) != cv2.erode(m8, square)  # a pixel with a neighbour of the other label
    out = mask.copy()
    h, w = mask.shape
    t = OUTLINE_TILE
    for y0 in range(0, h, t):
        for x0 in range(0, w, t):
            y1, x1 = min(h, y0 + t), min(w, x0 + t)
            if not near[max(0, y0 - reach):y1 + reach, max(0, x0 - reach):x1 + reach].any():
                continue
            top, left = max(0, y0 - margin), max(0, x0 - margin)
            crop = (slice(top, min(h, y1 + margin)), slice(left, min(w, x1 + margin)))
            new = step(mask[crop], *(image[crop] for image in images))
            out[y0:y1, x0:x1] = new[y0 - top:y1 - top, x0 - left:x1 - left]
    return out


def disk(radius: int) -> np.ndarray:
    """A disk-shaped structuring element of ``radius`` px (OpenCV's ellipse, 2 r + 1 wide)."""
    cv2 = _cv2()
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def erode_disk(mask: np.ndarray, radius: float) -> np.ndarray:
    """``mask`` eroded by a disk of ``radius`` px (at least 1)."""
    return _cv2().erode(mask.astype(np.uint8), disk(max(1, int(round(radius))))).astype(bool)


def fill_holes(mask: np.ndarray, max_fraction: Optional[float] = 0.01) -> np.ndarray:
    """Fill enclosed background regions smaller than ``max_fraction`` of the product area.

    Why a limit: a mug handle or a ring encloses real background that must stay background;
    pin-holes from glare or thin print are what we want to close. ``None`` fills every hole.
    """
    cv2 = _cv2()
    mask = mask.astype(bool)
    area = int(mask.sum())
    if area == 0:
        return mask.copy()
    # on the box round the mask and a pixel more: that ring of background joins the frame's border
    box = outline_box(mask, 1)
    inside = mask[box]
    background = (~inside).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(background, connectivity=4)
    h, w = inside.shape
    touches = np.zeros(count, bool)
    # a background component touching the border is outside, never a hole
    for edge in (labels[0, :], labels[h - 1, :], labels[:, 0], labels[:, w - 1]):
        touches[np.unique(edge)] = True
    limit = np.inf if max_fraction is None else max_fraction * area
    fill = ~touches & (stats[:, cv2.CC_STAT_AREA] <= limit)
    fill[0] = False  # label 0 is the product itself
    out = mask.copy()
    out[box] |= fill[labels]
    return out


def drop_specks(mask: np.ndarray, keep_fraction: float = 0.05, min_pixels: int = 0) -> np.ndarray:
    """Remove components smaller than ``keep_fraction`` of the largest one (and below ``min_pixels``).

    Relative, not absolute, so every real part of a multi-part product (a pair of earrings, a
    lid beside its jar) survives while dust and stray detections go.
    """
    cv2 = _cv2()
    mask = mask.astype(bool)
    if not mask.any():
        return mask.copy()
    box = outline_box(mask, 0)  # every component lies in it
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask[box].astype(np.uint8), connectivity=8)
    if count <= 2:
        return mask.copy()
    areas = stats[1:, cv2.CC_STAT_AREA]
    threshold = max(keep_fraction * areas.max(), min_pixels)
    keep = np.concatenate([[False], areas >= threshold])
    out = np.zeros_like(mask)
    out[box] = keep[labels]
    return out


def clean_mask(mask: np.ndarray, *, hole_fraction: Optional[float] = 0.01,
               keep_fraction: float = 0.05) -> np.ndarray:
    """``drop_specks`` then ``fill_holes``: the standard clean-up for automatic masks."""
    return fill_holes(drop_specks(mask, keep_fraction), hole_fraction)


def default_edge_radius(shape: tuple[int, ...]) -> int:
    """Soft-edge half width: about 0.25% of the long side (3 px at 1200 px), at least 1 px."""
    return max(1, int(round(0.0025 * max(shape[:2]))))


def soft_alpha(mask: np.ndarray, guide: Optional[np.ndarray] = None, radius: Optional[int] = None,
               method: AlphaMethod = "auto", eps: float = 1e-3) -> np.ndarray:
    """Soft alpha in [0, 1] from a binary mask, changed only within ``radius`` px of its edge.

    ``guided`` follows the photo's own edges (He et al.'s guided filter with ``guide`` as the
    grey guide: cv2.ximgproc when opencv-contrib is installed, else the same box-filter formula
    here); ``feather`` is a Gaussian ramp; ``hard`` returns the mask as 0/1. ``auto`` = guided
    when a guide is given, else feather. Pixels farther than ``radius`` from the edge keep
    exactly 0 or 1, so the product interior is put back bit-exactly by the compositor.
    """
    mask = mask.astype(bool)
    if method == "hard" or not mask.any() or mask.all():
        return mask.astype(np.float32)
    radius = default_edge_radius(mask.shape) if radius is None else max(1, int(radius))
    if method == "auto":
        method = "guided" if guide is not None else "feather"
    if method not in ("guided", "feather"):
        raise ValueError(f"unknown soft-edge method {method!r}; use auto, guided, feather or hard")
    if method == "guided" and guide is None:
        raise ValueError("soft_alpha(method='guided') needs the photo as guide")
    # alpha is 0 beyond ``radius`` of the mask, and the filters read at most twice that round a pixel
    # (the feather's Gaussian reaches 4 sigma = 2 * radius)
    box = outline_box(mask, 3 * radius + 2)
    alpha = np.zeros(mask.shape, np.float32)
    alpha[box] = _soft_alpha_in_box(mask[box], None if guide is None else guide[box], radius, method, eps)
    return alpha


def _soft_alpha_in_box(mask: np.ndarray, guide: Optional[np.ndarray], radius: int, method: AlphaMethod,
                       eps: float) -> np.ndarray:
    cv2 = _cv2()
    if method == "guided":
        soft = _guided_filter(_grey01(guide), mask.astype(np.float32), radius, eps)
    else:
        sigma = radius / 2.0
        soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigmaX=sigma, sigmaY=sigma,
                                borderType=cv2.BORDER_REPLICATE)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    inner = cv2.erode(mask.astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE).astype(bool)
    outer = cv2.dilate(mask.astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE).astype(bool)
    alpha = np.clip(soft, 0.0, 1.0)
    # a mask is stored as its alpha (an 8-bit PNG, read back as alpha >= 0.5): where the filter leaves
    # a product pixel just under half (a strap narrower than the filter, a faint edge) it keeps half;
    # where the photo clearly says the mask runs past the object (well under half) the alpha follows it
    thin = mask & ~cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, kernel).astype(bool)
    unsure = thin | (mask & (alpha >= UNSURE_BELOW_HALF))
    alpha[unsure] = np.maximum(alpha[unsure], HALF_ABOVE)
    alpha[inner] = 1.0
    alpha[~outer] = 0.0
    return alpha.astype(np.float32)


def _grey01(image: np.ndarray) -> np.ndarray:
    cv2 = _cv2()
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    img = image.astype(np.float32) / scale
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    return img


def _guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    cv2 = _cv2()
    ximgproc = getattr(cv2, "ximgproc", None)
    if ximgproc is not None:  # opencv-contrib: same filter, faster
        return ximgproc.guidedFilter(guide, src, radius, eps)
    size = (2 * radius + 1, 2 * radius + 1)

    def box(a: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(a, -1, size, borderType=cv2.BORDER_REPLICATE)

    mean_i, mean_p = box(guide), box(src)
    cov_ip = box(guide * src) - mean_i * mean_p
    var_i = box(guide * guide) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box(a) * guide + box(b)


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a bool mask to ``size`` = (width, height), pixel centres aligned (no shift)."""
    cv2 = _cv2()
    if (mask.shape[1], mask.shape[0]) == tuple(size):
        return mask.astype(bool).copy()
    up = cv2.resize(mask.astype(np.float32), tuple(size), interpolation=cv2.INTER_LINEAR)
    return up >= 0.5


def resize_alpha(alpha: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float alpha to ``size`` = (width, height) (area when shrinking, linear when growing)."""
    cv2 = _cv2()
    if (alpha.shape[1], alpha.shape[0]) == tuple(size):
        return alpha.astype(np.float32).copy()
    shrinking = size[0] < alpha.shape[1]
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return np.clip(cv2.resize(alpha.astype(np.float32), tuple(size), interpolation=interp), 0, 1)


def snap_to_edges(mask: np.ndarray, guide: np.ndarray, radius: int, eps: float = 1e-3) -> np.ndarray:
    """Re-threshold an upsampled coarse mask after a guided filter so its edge follows the photo's.

    A mask computed at 400 px and enlarged to 6000 px has 15 px stair-steps; the guided filter,
    with the full-resolution photo as guide, moves the 0.5 level onto the real object edge.
    """
    if radius < 1 or not mask.any() or mask.all():
        return mask.astype(bool).copy()
    # the two box filters read 2 * radius round a pixel; beyond that from the mask the answer is 0
    box = outline_box(mask, 2 * int(radius) + 2)
    out = np.zeros(mask.shape, bool)
    out[box] = _guided_filter(_grey01(guide[box]), mask[box].astype(np.float32), int(radius), eps) >= 0.5
    return out


def finish_mask(mask: np.ndarray, guide: Optional[np.ndarray], *, clean: bool = True,
                edge: AlphaMethod = "auto") -> tuple[np.ndarray, np.ndarray]:
    """The standard tail of every automatic path: clean-up, then the soft alpha. Returns (mask, alpha)."""
    if clean:
        mask = clean_mask(mask)
    return mask, soft_alpha(mask, guide, method=edge)
