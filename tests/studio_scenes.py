"""Studio product shots with known answers: mask, soft alpha and the shadow's multiplicative matte.

Built in linear light the way a studio photo forms: a seamless backdrop (any colour, with a
lighting gradient and vignetting) is darkened by a soft contact shadow and a cast shadow
(``matte``: 1 = unshadowed, multiplied onto the backdrop), the product (a real photo or texture
from scikit-image cut into a product shape: bottle, mug with a handle, stool with legs, box) is
laid over it through an anti-aliased alpha, sensor noise is added, and the result is converted to
sRGB and JPEG-compressed. Shared by the masking and the kept-shadow tests (and anyone else).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

SS = 3  # supersampling for anti-aliased product edges


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float32)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(v: np.ndarray) -> np.ndarray:
    v = np.clip(np.asarray(v, np.float32), 0.0, 1.0)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * np.power(v, 1 / 2.4) - 0.055).astype(np.float32)


@dataclass
class StudioScene:
    name: str
    image: np.ndarray  # H x W x 3 uint8 sRGB, JPEG round-tripped
    mask: np.ndarray  # H x W bool: the product (alpha >= 0.5)
    alpha: np.ndarray  # H x W float32: the product's true coverage
    matte: np.ndarray  # H x W float32 in (0, 1]: the true shadow, multiplied onto the backdrop in linear light
    backdrop: np.ndarray  # H x W x 3 float32 linear: the clean unshadowed backdrop


BACKDROPS = {  # sRGB 8-bit colours of seamless paper
    "white": (244, 244, 242),
    "grey": (186, 188, 190),
    "beige": (232, 218, 196),
    "blue": (120, 160, 205),
}


def backdrop_field(h: int, w: int, colour: tuple[int, int, int], bottom: Optional[tuple[int, int, int]] = None,
                   falloff: float = 0.12, vignette: float = 0.18) -> np.ndarray:
    """Linear-light backdrop: ``colour`` at the top blending to ``bottom``, a light fall-off and a vignette."""
    top = srgb_to_linear(np.asarray(colour, np.float32) / 255.0)
    low = top if bottom is None else srgb_to_linear(np.asarray(bottom, np.float32) / 255.0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (yy / max(1, h - 1))[:, :, None]
    field = (1 - t) * top + t * low
    r2 = ((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2
    gain = (1.0 - falloff * yy / h) * (1.0 - vignette * 2.0 * r2)
    return (field * gain[:, :, None]).astype(np.float32)


def _canvas(h: int, w: int) -> np.ndarray:
    return np.zeros((h * SS, w * SS), np.uint8)


def shape_mask(shape: str, h: int, w: int, scale: float = 1.0) -> np.ndarray:
    """Supersampled (SS x) uint8 product silhouette; ``scale`` shrinks or grows it about the centre."""
    m = _canvas(h, w)
    H, W = h * SS, w * SS
    cx, s = W // 2, scale

    def X(f: float) -> int:
        return int(round(cx + (f - 0.5) * W * s))

    def Y(f: float) -> int:
        return int(round(H * 0.55 + (f - 0.55) * H * s))

    if shape == "bottle":
        cv2.rectangle(m, (X(0.40), Y(0.36)), (X(0.60), Y(0.84)), 1, -1)
        cv2.ellipse(m, (cx, Y(0.36)), (X(0.60) - cx, int(0.05 * H * s)), 0, 180, 360, 1, -1)
        cv2.rectangle(m, (X(0.47), Y(0.18)), (X(0.53), Y(0.33)), 1, -1)
        cv2.rectangle(m, (X(0.46), Y(0.13)), (X(0.54), Y(0.20)), 1, -1)
    elif shape == "mug":
        x0, x1, y0, y1 = X(0.30), X(0.58), Y(0.32), Y(0.80)
        cv2.rectangle(m, (x0, y0), (x1, y1), 1, -1)
        thick = max(3, int(0.04 * W * s))
        cv2.ellipse(m, (x1, (y0 + y1) // 2), (int(0.11 * W * s), int(0.14 * H * s)), 0, -90, 90, 1, thick)
    elif shape == "stool":  # a seat on three legs: the gaps between them are backdrop
        cv2.rectangle(m, (X(0.28), Y(0.30)), (X(0.72), Y(0.40)), 1, -1)
        for a, b in ((0.30, 0.86), (0.485, 0.82), (0.67, 0.86)):
            cv2.rectangle(m, (X(a), Y(0.40)), (X(a + 0.035), Y(b)), 1, -1)
        cv2.rectangle(m, (X(0.30), Y(0.62)), (X(0.70), Y(0.65)), 1, -1)  # a rung
    elif shape == "box":
        cv2.rectangle(m, (X(0.33), Y(0.35)), (X(0.67), Y(0.80)), 1, -1)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return m


def _down(a: np.ndarray, h: int, w: int) -> np.ndarray:
    return cv2.resize(a.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)


def texture(name: str, h: int, w: int, tint: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """A scikit-image photo or texture resized to h x w, sRGB float 0..1 (grey textures are tinted)."""
    import skimage.data

    img = getattr(skimage.data, name)().astype(np.float32) / 255.0
    if img.ndim == 2:
        img = np.stack([img * t for t in tint], axis=2)
    img = img[:, :, :3]
    return np.clip(cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA), 0, 1)


def _shading(h: int, w: int) -> np.ndarray:
    """Left-to-right shading of a lit product (a softbox on the left)."""
    return np.broadcast_to(np.linspace(1.05, 0.7, w, dtype=np.float32)[None, :], (h, w))


def contact_shadow(mask: np.ndarray, spread: float = 0.55, height: float = 0.025, blur: float = 0.012) -> np.ndarray:
    """A soft ellipse where the product meets the floor, 0..1, at mask's (1x) size."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    s = np.zeros((h, w), np.float32)
    cv2.ellipse(s, (int(xs.mean()), int(ys.max())), (max(2, int(spread * (xs.max() - xs.min()))),
                max(1, int(height * h))), 0, 0, 360, 1.0, -1)
    return np.clip(cv2.GaussianBlur(s, (0, 0), blur * w), 0, 1)


def cast_shadow(mask: np.ndarray, lean: float = 0.9, squash: float = 0.35, blur: float = 0.02) -> np.ndarray:
    """The silhouette thrown back and sideways onto the floor by a key light, soft, 0..1."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    base = float(ys.max())
    # a point at height d above the base lands at (x + lean * squash * d, base - squash * d)
    shear = np.float32([[1, lean, -lean * base], [0, squash, (1 - squash) * base]])
    s = cv2.warpAffine(mask.astype(np.float32), shear, (w, h), flags=cv2.INTER_LINEAR)
    return np.clip(cv2.GaussianBlur(s, (0, 0), blur * w), 0, 1)


def _jpeg(rgb8: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb8).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB")).copy()


def studio_shot(shape: str = "bottle", product: str = "coffee", backdrop: str = "white", *,
                h: int = 360, w: int = 480, bottom: Optional[tuple[int, int, int]] = None,
                contact: float = 0.45, cast: float = 0.35, falloff: float = 0.12, vignette: float = 0.18,
                scale: float = 1.0, tint: tuple[float, float, float] = (1.0, 0.55, 0.35),
                quality: int = 90, noise: float = 0.006, seed: int = 0, reflection: float = 0.0) -> StudioScene:
    """One studio product shot with its true mask, alpha and shadow matte.

    ``backdrop`` is a key of BACKDROPS or an explicit sRGB triple; ``bottom`` makes it a
    two-colour gradient; ``contact`` and ``cast`` are the shadows' peak darkening (0 = none).
    ``tint`` colours grey textures (brick, grass, gravel). ``quality``: JPEG quality (None: no JPEG).
    ``reflection``: a glossy floor mirrors the product under its base at this opacity, fading out
    over a quarter of its height (part of the backdrop, not of the product mask).
    """
    rng = np.random.default_rng(seed)
    colour = BACKDROPS[backdrop] if isinstance(backdrop, str) else tuple(backdrop)
    clean = backdrop_field(h, w, colour, bottom, falloff, vignette)
    big = shape_mask(shape, h, w, scale)
    alpha = np.clip(_down(big, h, w), 0, 1)
    mask = alpha >= 0.5
    matte = np.ones((h, w), np.float32)
    if contact > 0:
        matte *= 1.0 - contact * contact_shadow(mask)
    if cast > 0:
        matte *= 1.0 - cast * cast_shadow(mask)
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    fg = np.zeros((h, w, 3), np.float32)
    tex = texture(product, y1 - y0, x1 - x0, tint)
    fg[y0:y1, x0:x1] = srgb_to_linear(tex) * _shading(y1 - y0, x1 - x0)[:, :, None]
    lin = fg * alpha[:, :, None] + clean * matte[:, :, None] * (1 - alpha[:, :, None])
    if reflection > 0:
        span = max(2, (y1 - y0) // 4)
        for y in range(y1, min(h, y1 + span)):
            src = 2 * (y1 - 1) - y
            r = reflection * (1 - (y - y1) / span) * alpha[src]
            lin[y] = lin[y] * (1 - r[:, None]) + fg[src] * r[:, None]
    srgb = linear_to_srgb(lin) + rng.normal(0, noise, lin.shape).astype(np.float32)
    rgb8 = np.clip(np.rint(srgb * 255), 0, 255).astype(np.uint8)
    if quality:
        rgb8 = _jpeg(rgb8, quality)
    name = f"{shape}/{product} on {backdrop if isinstance(backdrop, str) else colour}"
    return StudioScene(name, rgb8, mask, alpha.astype(np.float32), matte, clean)


def lifestyle_photo(name: str = "astronaut", quality: int = 90) -> np.ndarray:
    """A full-frame scikit-image photo (no backdrop at all), JPEG round-tripped."""
    import skimage.data

    img = getattr(skimage.data, name)()[:, :, :3]
    return _jpeg(np.ascontiguousarray(img), quality) if quality else img


# The shots the studio tests run on: every backdrop colour, gradients, vignetting, legs and a handle.
SHOTS = {
    "bottle of coffee on white": dict(shape="bottle", product="coffee", backdrop="white"),
    "mug of brick on beige": dict(shape="mug", product="brick", backdrop="beige", tint=(0.75, 0.3, 0.2)),
    "stool of grass on grey": dict(shape="stool", product="grass", backdrop="grey", tint=(0.35, 0.75, 0.2)),
    "box of chelsea on blue": dict(shape="box", product="chelsea", backdrop="blue"),
    "bottle of astronaut on beige gradient": dict(shape="bottle", product="astronaut", backdrop="beige",
                                                  bottom=(200, 180, 150), contact=0.55, cast=0.25),
    "mug of coffee on white, strong vignette": dict(shape="mug", product="coffee", backdrop="white",
                                                    vignette=0.35, falloff=0.2),
    "stool of brick on blue, cast only": dict(shape="stool", product="brick", backdrop="blue", contact=0.0,
                                              cast=0.45, tint=(0.8, 0.45, 0.3)),
    "box of grass on white, large": dict(shape="box", product="grass", backdrop="white", scale=1.3,
                                         tint=(0.3, 0.6, 0.25)),
}


def shot(name: str, **overrides) -> StudioScene:
    scene = studio_shot(**{**SHOTS[name], **overrides})
    scene.name = name
    return scene


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
