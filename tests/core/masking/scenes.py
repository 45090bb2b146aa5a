"""Test scenes with known product masks: synthetic products and real textures/photos (scikit-image)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def bottle_mask(h: int, w: int) -> np.ndarray:
    """A bottle: rounded body, neck and cap, centred, about 30% of the frame."""
    m = np.zeros((h, w), np.uint8)
    cx = w // 2
    bw, top, bottom = int(0.16 * w), int(0.35 * h), int(0.85 * h)
    cv2.rectangle(m, (cx - bw, top), (cx + bw, bottom), 1, -1)
    cv2.ellipse(m, (cx, top), (bw, int(0.06 * h)), 0, 0, 360, 1, -1)
    nw = max(2, int(0.05 * w))
    cv2.rectangle(m, (cx - nw, int(0.15 * h)), (cx + nw, top), 1, -1)
    cv2.rectangle(m, (cx - nw - 3, int(0.1 * h)), (cx + nw + 3, int(0.17 * h)), 1, -1)
    return m.astype(bool)


def mug_mask(h: int, w: int) -> np.ndarray:
    """A mug with a handle whose hole is real background (must not be filled)."""
    m = np.zeros((h, w), np.uint8)
    x0, x1, y0, y1 = int(0.3 * w), int(0.62 * w), int(0.3 * h), int(0.8 * h)
    cv2.rectangle(m, (x0, y0), (x1, y1), 1, -1)
    cx, cy = x1, (y0 + y1) // 2
    cv2.ellipse(m, (cx, cy), (int(0.12 * w), int(0.15 * h)), 0, -90, 90, 1, thickness=max(3, int(0.035 * w)))
    return m.astype(bool)


def shade(mask: np.ndarray, colour: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """Product pixels: a base colour with a left-to-right shading ramp and a highlight."""
    h, w = mask.shape
    ramp = np.linspace(0.7, 1.15, w, dtype=np.float32)[None, :, None]
    img = np.clip(np.array(colour, np.float32)[None, None, :] * ramp, 0, 255)
    img = np.broadcast_to(img, (h, w, 3)).copy()
    img += rng.normal(0, 3, img.shape).astype(np.float32)
    return img


def plain_background(h: int, w: int, rng: np.random.Generator, level: int = 236) -> np.ndarray:
    """Studio sweep: light grey with a vertical gradient, vignette and sensor noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vignette = 1.0 - 0.12 * (((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2) * 4
    grad = 1.0 - 0.06 * yy / h
    base = level * vignette * grad
    img = np.repeat(base[:, :, None], 3, axis=2)
    img += rng.normal(0, 2.5, img.shape).astype(np.float32)
    return img


def texture_background(name: str, h: int, w: int, tint: tuple[float, float, float]) -> np.ndarray:
    """A real texture photo from scikit-image (brick, gravel, grass), tiled and tinted."""
    import skimage.data

    tex = getattr(skimage.data, name)().astype(np.float32)
    reps = (h // tex.shape[0] + 1, w // tex.shape[1] + 1)
    tex = np.tile(tex, reps)[:h, :w]
    return np.stack([tex * t for t in tint], axis=2)


def with_shadow(bg: np.ndarray, mask: np.ndarray, strength: float = 0.3) -> np.ndarray:
    """A soft elliptical contact shadow where the product stands (what real packshots have)."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    shadow = np.zeros((h, w), np.float32)
    centre = (int(xs.mean()), int(ys.max()))
    cv2.ellipse(shadow, centre, (int(0.6 * (xs.max() - xs.min())), int(0.03 * h)), 0, 0, 360, 1.0, -1)
    shadow = cv2.GaussianBlur(shadow, (0, 0), 0.015 * w)
    return bg * (1 - strength * shadow[:, :, None])


def compose(bg: np.ndarray, fg: np.ndarray, mask: np.ndarray) -> np.ndarray:
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.7)[:, :, None]
    return np.clip(fg * alpha + bg * (1 - alpha), 0, 255).astype(np.uint8)


def product_on_plain(h: int = 360, w: int = 480, seed: int = 0, shape: str = "bottle") -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mask = bottle_mask(h, w) if shape == "bottle" else mug_mask(h, w)
    bg = with_shadow(plain_background(h, w, rng), mask)
    return compose(bg, shade(mask, (40, 90, 170), rng), mask), mask


def product_cut_by_frame(h: int = 360, w: int = 480, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A bottle whose body runs off the bottom edge (a tight crop): its colours reach the border."""
    rng = np.random.default_rng(seed)
    mask = bottle_mask(h, w)
    mask[int(0.8 * h):, w // 2 - int(0.16 * w):w // 2 + int(0.16 * w)] = True
    return compose(plain_background(h, w, rng), shade(mask, (40, 90, 170), rng), mask), mask


def large_product(h: int = 360, w: int = 480, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An oval product filling most of the frame."""
    rng = np.random.default_rng(seed)
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (w // 2, h // 2), (int(0.45 * w), int(0.44 * h)), 0, 0, 360, 1, -1)
    mask = m.astype(bool)
    return compose(plain_background(h, w, rng), shade(mask, (200, 60, 60), rng), mask), mask


def product_on_texture(texture: str, h: int = 360, w: int = 480, seed: int = 0,
                       colour: tuple[int, int, int] = (200, 40, 40)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mask = bottle_mask(h, w)
    bg = with_shadow(texture_background(texture, h, w, (0.85, 0.8, 0.7)), mask, 0.2)
    return compose(bg, shade(mask, colour, rng), mask), mask


def logo_on(background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's logo (a real RGBA cut-out, its alpha is the true mask) pasted centred on a background."""
    import skimage.data

    logo = skimage.data.logo().astype(np.float32)
    h, w = background.shape[:2]
    lh, lw = logo.shape[:2]
    y0, x0 = (h - lh) // 2, (w - lw) // 2
    alpha = np.zeros((h, w), np.float32)
    alpha[y0:y0 + lh, x0:x0 + lw] = logo[:, :, 3] / 255.0
    fg = np.zeros_like(background, dtype=np.float32)
    fg[y0:y0 + lh, x0:x0 + lw] = logo[:, :, :3]
    out = fg * alpha[:, :, None] + background.astype(np.float32) * (1 - alpha[:, :, None])
    return np.clip(out, 0, 255).astype(np.uint8), alpha >= 0.5


DATA = Path(__file__).parent / "data"


def coffee_reference() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's coffee photo (cup, coffee, spoon and saucer on a wooden table) and its product mask.

    ``data/coffee_mask.png`` was made once, outside the masker under test: full-resolution GrabCut
    (8 iterations) seeded by hand-drawn ellipses (sure product well inside the saucer and the cup,
    background beyond a margin outside them and the spoon handle), then the largest part, a 2 px
    open/close and all holes filled; checked by eye at 3x zoom along the saucer rim, the spoon
    and the handle. Rim accuracy is about 1-2 px.
    """
    import skimage.data
    from PIL import Image

    img = skimage.data.coffee()
    with Image.open(DATA / "coffee_mask.png") as ref:
        mask = np.asarray(ref.convert("L")) > 0
    assert mask.shape == img.shape[:2], "reference mask does not match skimage's coffee photo"
    return img, mask


def retina_reference() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's retina photo: a bright fundus disc on black that touches the frame on all sides.

    The disc is the object and needs no drawing: the surround is near black, the disc is bright,
    and the few pixels between (the rim's anti-aliased ramp) are split at 60; the largest part
    with its holes filled (dark vessels, the fovea) is the mask.
    """
    import skimage.data
    from scipy.ndimage import binary_fill_holes

    img = skimage.data.retina()
    bright = (img.max(axis=2) > 60).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=8)
    disc = labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return img, binary_fill_holes(disc)


def linear_to_noisy8(lin: np.ndarray, noise: float = 0.004, seed: int = 0) -> np.ndarray:
    """A linear-light scene as an 8-bit photo: sRGB-encoded, with Gaussian sensor noise (in sRGB units)."""
    from packshot.core.masking.backdrop import linear_to_srgb

    rng = np.random.default_rng(seed)
    srgb = linear_to_srgb(lin) + rng.normal(0, noise, lin.shape).astype(np.float32)
    return np.clip(np.rint(srgb * 255), 0, 255).astype(np.uint8)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
