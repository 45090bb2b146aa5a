"""A randomised corpus of studio product shots with known answers (mask, alpha, shadow matte).

``make_scene(seed, cls)`` builds one shot, ``corpus(n, seed)`` n of them with the classes cycled
evenly. Each shot forms the way a studio photo does, in linear light: a seamless backdrop (any
colour, white and near-product colours included) lit with a fall-off gradient and vignetting, is
darkened by a contact and a cast shadow (``matte``: 1 = unshadowed, multiplied onto the backdrop
only), may mirror the product on a glossy floor (a faded, flipped copy under its base: backdrop,
not product), and the product -- a real photo or texture from scikit-image cut into a product
shape (bottle, jar, box, vase, shoe, bag, tube, ball; mug, stool, chair, ring, lamp, headphones
and strapped bag with thin parts and holes; glasses and bottles of tinted glass) and shaded by the
key light, its roundness and darker rims -- is laid over it through an anti-aliased alpha. Sensor
noise and JPEG compression (quality 60-95) come last.

The answers: ``mask`` is the product's silhouette (geometric coverage >= 0.5). ``alpha`` is its
compositing alpha, coverage x opacity: equal to the coverage on opaque products, below it on
glass. A glass product's mask is its whole silhouette, not ``alpha > 0.5``: what a photographer
keeps is the glass, and painting the new background through its body would remove the product.

Classes, one main difficulty each (``corpus`` cycles them evenly):
- plain: a product that contrasts with its backdrop (ΔE >= 20);
- tone-on-tone / white-on-white / dark-on-dark: the product's colour 3-12 ΔE from the backdrop
  behind it (any colour / white paper, maybe clipped / near-black), a faint real texture, told apart
  by shading and edges only (a few carry a printed label);
- vignetting: 15-35 % corner fall-off;
- hard-cast-shadow: a key light's shadow 0.5-0.75 dark (0.25-0.5 of the backdrop's brightness), hard,
  sideways on the floor or thrown on the sweep behind;
- contact-shadow: a tight shadow 0.5-0.9 dark where the product meets the floor;
- glossy-floor: the product mirrored under its base at 15-50 % opacity, fading out;
- thin-parts-holes: handles, legs, stems, straps, rings: backdrop inside the outline;
- transparent: tinted glass, 15-55 % opaque in the body, denser at the rims, highlights.
The nuisances stay random in every class: backdrop colour, a fall-off gradient (0-15 %), a mild
vignette (0-8 %), the sweep's bend (35 %: the wall 0.8-1.2 x the floor's brightness above a soft band), a soft contact shadow (60 %, 0.25-0.6 dark), a soft cast shadow in any direction
(35 %, 0.2-0.45), product shape, size, place and texture, the key light, sensor noise, JPEG quality.
Generator only: nothing here knows how any masker works.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

import cv2
import numpy as np

from tests.studio_scenes import _jpeg, linear_to_srgb, srgb_to_linear

CLASSES = ("plain", "tone-on-tone", "white-on-white", "dark-on-dark", "vignetting", "hard-cast-shadow",
           "contact-shadow", "glossy-floor", "thin-parts-holes", "transparent")
TONE_CLASSES = ("tone-on-tone", "white-on-white", "dark-on-dark")
PHOTOS = ("coffee", "chelsea", "astronaut", "rocket", "immunohistochemistry", "colorwheel", "cat", "retina")
GREYS = ("brick", "grass", "gravel", "moon", "camera", "clock", "page", "text", "coins")
SOLID_SHAPES = ("bottle", "jar", "box", "vase", "shoe", "bag", "tube", "ball")
THIN_SHAPES = ("mug", "stool", "chair", "ring", "lamp", "headphones", "strap-bag")
GLASS_SHAPES = ("bottle", "jar", "vase", "tumbler", "wine-glass")
MIN_CONTRAST = 20.0  # ΔE between product and backdrop outside the tone classes

Size = Union[tuple[int, int], int, None]


@dataclass
class Scene:
    """One studio shot and its answers; arrays are H x W."""

    name: str
    image: np.ndarray  # H x W x 3 uint8 sRGB, JPEG round-tripped
    mask: np.ndarray  # bool: the product's silhouette (coverage >= 0.5), glass included
    alpha: np.ndarray  # float32 0..1: coverage x opacity (below the coverage only on glass)
    matte: np.ndarray  # float32 (0, 1]: the shadows, multiplied onto the backdrop in linear light
    backdrop: np.ndarray  # H x W x 3 float32 linear: the clean backdrop (no shadow, no reflection)
    cls: str
    seed: int
    params: dict = field(default_factory=dict)


# ---------------------------------------------------------------- colour

_M_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]], np.float64)
_WHITE = _M_XYZ.sum(axis=1)


def lin_to_lab(lin: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of linear sRGB colours (..., 3)."""
    xyz = np.asarray(lin, np.float64) @ _M_XYZ.T / _WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def lab_to_lin(lab: np.ndarray) -> np.ndarray:
    """Linear sRGB of CIELAB colours (may fall outside 0..1 for out-of-gamut colours)."""
    lab = np.asarray(lab, np.float64)
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], -1)
    xyz = np.where(f > 6 / 29, f ** 3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * _WHITE
    return xyz @ np.linalg.inv(_M_XYZ).T


def delta_e(a_lin: np.ndarray, b_lin: np.ndarray) -> float:
    """CIE76 ΔE between two linear sRGB colours."""
    return float(np.linalg.norm(lin_to_lab(a_lin) - lin_to_lab(b_lin)))


_SRGB_LUT = linear_to_srgb(np.linspace(0.0, 1.0, 65536, dtype=np.float32))


def _to_srgb(lin: np.ndarray) -> np.ndarray:
    """linear_to_srgb through a 16-bit table (a 6000 px photo in a fraction of the time)."""
    scaled = np.clip(lin, 0.0, 1.0) * np.float32(65535.0)
    return _SRGB_LUT[np.rint(scaled, out=scaled).astype(np.uint16)]


def _srgb8(rgb: tuple[float, float, float]) -> np.ndarray:
    return srgb_to_linear(np.asarray(rgb, np.float32) / 255.0).astype(np.float64)


def _near_colour(rng: np.random.Generator, base_lin: np.ndarray, de: float) -> np.ndarray:
    """A linear colour ``de`` ΔE from ``base_lin`` (mostly in lightness, some in hue), inside the gamut."""
    lab = lin_to_lab(base_lin)
    for _ in range(40):
        d = rng.normal(size=3) * np.array([1.6, 1.0, 1.0])
        d *= de / np.linalg.norm(d)
        out = lab_to_lin(lab + d)
        if np.all(out >= 0.0) and np.all(out <= 1.0):
            return out
    return np.clip(lab_to_lin(lab + np.array([-de, 0, 0])), 0.0, 1.0)


# ---------------------------------------------------------------- textures


@functools.cache
def _source(name: str) -> np.ndarray:
    import skimage.data

    img = np.asarray(getattr(skimage.data, name)(), np.float32)
    img = img / 255.0 if img.max() > 1.0 else img
    return img[:, :, :3] if img.ndim == 3 else img


def _crop(rng: np.random.Generator, name: str, h: int, w: int) -> np.ndarray:
    """A random crop of a scikit-image picture, resized to h x w (sRGB 0..1; grey stays 2-D)."""
    src = _source(name)
    sh, sw = src.shape[:2]
    f = rng.uniform(0.35, 1.0)
    ch, cw = max(8, int(sh * f)), max(8, int(sw * f * rng.uniform(0.7, 1.0)))
    y, x = rng.integers(0, sh - ch + 1), rng.integers(0, sw - cw + 1)
    return cv2.resize(np.ascontiguousarray(src[y:y + ch, x:x + cw]), (max(1, w), max(1, h)),
                      interpolation=cv2.INTER_AREA)


def _random_hue(rng: np.random.Generator, sat: tuple[float, float], val: tuple[float, float]) -> np.ndarray:
    """A linear colour from a random hue at the given saturation / value ranges."""
    hsv = np.uint8([[[rng.integers(0, 180), int(255 * rng.uniform(*sat)), int(255 * rng.uniform(*val))]]])
    return _srgb8(tuple(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]))


def _plain_material(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, str]:
    """A product surface: a photo crop, or a grey texture tinted a random colour (linear)."""
    if rng.random() < 0.5:
        name = str(rng.choice(PHOTOS))
        return srgb_to_linear(np.clip(_crop(rng, name, h, w), 0, 1)), name
    name = str(rng.choice(GREYS))
    tint = linear_to_srgb(_random_hue(rng, (0.0, 0.9), (0.3, 1.0)).astype(np.float32))
    return srgb_to_linear(np.clip(_crop(rng, name, h, w)[:, :, None] * tint, 0, 1)), name


def _tone_material(rng: np.random.Generator, h: int, w: int, colour: np.ndarray, amp: float) -> tuple[np.ndarray, str]:
    """A surface of mean ``colour`` with a faint real texture (relative amplitude ``amp``)."""
    name = str(rng.choice(GREYS))
    t = _crop(rng, name, h, w)
    z = (t - t.mean()) / max(1e-3, float(t.std()))
    return np.clip(colour[None, None, :] * (1.0 + amp * z[:, :, None]), 0.0, 1.0).astype(np.float32), name


# ---------------------------------------------------------------- shapes


class _Pen:
    """Draws product parts into an id canvas at SS x resolution; shape coordinates are in product
    heights: u across (0 = centre), v down (0 = top, 1 = the base on the floor)."""

    def __init__(self, h: int, w: int, ss: int, cx: float, base: float, ph: float) -> None:
        self.ids = np.zeros((h * ss, w * ss), np.uint8)
        self.ss, self.cx, self.base, self.ph = ss, cx * ss, base * ss, ph * ss
        self.parts: list[str] = []

    def _id(self, part: str) -> int:
        if part not in self.parts:
            self.parts.append(part)
        return self.parts.index(part) + 1

    def pt(self, u: float, v: float) -> tuple[int, int]:
        return int(round(self.cx + u * self.ph)), int(round(self.base - (1.0 - v) * self.ph))

    def n(self, length: float) -> int:
        return max(1, int(round(length * self.ph)))

    def rect(self, part: str, u0: float, v0: float, u1: float, v1: float) -> None:
        cv2.rectangle(self.ids, self.pt(u0, v0), self.pt(u1, v1), self._id(part), -1)

    def ellipse(self, part: str, u: float, v: float, ru: float, rv: float, a0: float = 0, a1: float = 360,
                thick: Optional[float] = None) -> None:
        cv2.ellipse(self.ids, self.pt(u, v), (self.n(ru), self.n(rv)), 0, a0, a1, self._id(part),
                    -1 if thick is None else self.n(thick))

    def poly(self, part: str, pts: list[tuple[float, float]]) -> None:
        cv2.fillPoly(self.ids, [np.array([self.pt(u, v) for u, v in pts], np.int32)], self._id(part))

    def profile(self, part: str, half: list[tuple[float, float]]) -> None:
        """A body of revolution from its right half-profile [(half width, v), ...] top to bottom."""
        self.poly(part, [(hw, v) for hw, v in half] + [(-hw, v) for hw, v in reversed(half)])


def _bottle(p: _Pen, r: np.random.Generator) -> None:
    bw, sh, nw = r.uniform(0.13, 0.22), r.uniform(0.28, 0.45), r.uniform(0.04, 0.07)
    p.profile("body", [(nw, 0.08), (nw, sh - 0.1), (bw, sh), (bw, 0.97), (bw - 0.02, 1.0)])
    p.rect("accent", -nw * 1.15, 0.0, nw * 1.15, 0.1)
    if r.random() < 0.7:
        p.rect("label", -bw * 0.9, r.uniform(0.5, 0.6), bw * 0.9, r.uniform(0.75, 0.88))


def _jar(p: _Pen, r: np.random.Generator) -> None:
    bw, lid = r.uniform(0.3, 0.5), r.uniform(0.1, 0.2)
    p.profile("body", [(bw * 0.92, lid), (bw, lid + 0.05), (bw, 0.96), (bw - 0.03, 1.0)])
    p.rect("accent", -bw * 0.95, 0.0, bw * 0.95, lid + 0.01)
    if r.random() < 0.6:
        p.rect("label", -bw * 0.95, r.uniform(0.35, 0.45), bw * 0.95, r.uniform(0.7, 0.85))


def _box(p: _Pen, r: np.random.Generator) -> None:
    fw, d, side = r.uniform(0.25, 0.5), r.uniform(0.0, 0.12), r.choice([-1, 1])
    top = d * 0.8
    p.rect("body", -fw, top, fw, 1.0)
    if d > 0.01:  # the top and one side in perspective
        p.poly("top", [(-fw, top), (fw, top), (fw + side * d, 0.0), (-fw + side * d, 0.0)])
        e = fw * side
        p.poly("side", [(e, top), (e + side * d, 0.0), (e + side * d, 1.0 - top), (e, 1.0)])
    if r.random() < 0.6:
        p.rect("label", -fw * 0.7, r.uniform(0.25, 0.4), fw * 0.7, r.uniform(0.55, 0.75))


def _vase(p: _Pen, r: np.random.Generator) -> None:
    a, b, c = r.uniform(0.08, 0.16), r.uniform(0.2, 0.32), r.uniform(0.1, 0.2)
    p.profile("body", [(a * 1.2, 0.0), (a, 0.12), (a * 0.9, 0.25), (b, 0.55), (b * 0.9, 0.8), (c, 1.0)])


def _shoe(p: _Pen, r: np.random.Generator) -> None:
    ln, s = r.uniform(0.9, 1.3), r.choice([-1, 1])
    p.rect("accent", -ln / 2, 0.88, ln / 2, 1.0)  # the sole
    p.ellipse("body", -s * ln * 0.18, 0.62, ln * 0.3, 0.34)
    p.ellipse("body", s * ln * 0.18, 0.78, ln * 0.33, 0.16)
    p.rect("body", -s * ln * 0.42, 0.35, -s * ln * 0.18, 0.9)


def _bag(p: _Pen, r: np.random.Generator, strap: bool = False) -> None:
    tw, bw = r.uniform(0.25, 0.4), r.uniform(0.35, 0.5)
    top = 0.35 if strap else 0.0
    p.poly("body", [(-tw, top), (tw, top), (bw, 1.0), (-bw, 1.0)])
    if strap:  # a strap arching over the bag: the gap under it is backdrop
        p.ellipse("accent", 0, top + 0.02, tw * 0.75, top - 0.02, 180, 360, thick=r.uniform(0.015, 0.04))
    if r.random() < 0.5:
        p.rect("label", -tw * 0.5, top + 0.25, tw * 0.5, top + 0.45 if strap else 0.55)


def _tube(p: _Pen, r: np.random.Generator) -> None:
    w0, w1 = r.uniform(0.1, 0.16), r.uniform(0.05, 0.08)
    p.poly("body", [(-w0, 0.0), (w0, 0.0), (w1, 0.82), (-w1, 0.82)])
    p.rect("accent", -w1 * 1.3, 0.82, w1 * 1.3, 1.0)


def _ball(p: _Pen, r: np.random.Generator) -> None:
    p.ellipse("body", 0, 0.5, 0.5, 0.5)


def _mug(p: _Pen, r: np.random.Generator) -> None:
    bw, s = r.uniform(0.3, 0.42), r.choice([-1, 1])
    p.rect("body", -bw, 0.08, bw, 1.0)
    hr, hv = r.uniform(0.16, 0.24), r.uniform(0.22, 0.3)
    p.ellipse("accent", s * bw, 0.48, hr, hv, -90, 90, thick=r.uniform(0.03, 0.06)) if s > 0 else \
        p.ellipse("accent", s * bw, 0.48, hr, hv, 90, 270, thick=r.uniform(0.03, 0.06))


def _stool(p: _Pen, r: np.random.Generator) -> None:
    sw, lw, seat = r.uniform(0.35, 0.5), r.uniform(0.015, 0.04), r.uniform(0.06, 0.12)
    p.rect("body", -sw, 0.0, sw, seat)
    legs = int(r.integers(3, 5))
    for i in range(legs):
        u = -sw * 0.9 + i * (1.8 * sw) / (legs - 1)
        p.poly("accent", [(u - lw, seat), (u + lw, seat), (u * 1.12 + lw, 1.0), (u * 1.12 - lw, 1.0)])
    if r.random() < 0.7:
        p.rect("accent", -sw * 0.95, 0.6, sw * 0.95, 0.6 + lw * 1.5)


def _chair(p: _Pen, r: np.random.Generator) -> None:
    sw, lw, s = r.uniform(0.25, 0.35), r.uniform(0.015, 0.035), r.choice([-1, 1])
    p.rect("body", -sw, 0.5, sw, 0.58)
    p.rect("accent", s * sw - lw * 2, 0.0, s * sw, 0.58)  # the back post
    p.rect("body", s * sw * 0.2, 0.05, s * sw, 0.25) if s > 0 else p.rect("body", s * sw, 0.05, s * sw * 0.2, 0.25)
    for u in (-sw, sw - lw * 2):
        p.rect("accent", u, 0.58, u + lw * 2, 1.0)


def _ring(p: _Pen, r: np.random.Generator) -> None:
    rv = 0.5
    p.ellipse("body", 0, 0.5, rv * r.uniform(0.8, 1.0), rv, thick=r.uniform(0.06, 0.2))


def _lamp(p: _Pen, r: np.random.Generator) -> None:
    sw, lw = r.uniform(0.2, 0.32), r.uniform(0.01, 0.025)
    p.poly("body", [(-sw * 0.6, 0.0), (sw * 0.6, 0.0), (sw, 0.3), (-sw, 0.3)])
    p.rect("accent", -lw, 0.3, lw, 0.95)
    p.ellipse("accent", 0, 0.97, sw * 0.6, 0.03)


def _headphones(p: _Pen, r: np.random.Generator) -> None:
    hw = r.uniform(0.3, 0.4)
    p.ellipse("accent", 0, 0.55, hw, 0.5, 180, 360, thick=r.uniform(0.03, 0.06))
    for s in (-1, 1):
        p.ellipse("body", s * hw, 0.8, 0.09, 0.2)


def _tumbler(p: _Pen, r: np.random.Generator) -> None:
    t, b = r.uniform(0.25, 0.35), r.uniform(0.18, 0.26)
    p.poly("body", [(-t, 0.0), (t, 0.0), (b, 1.0), (-b, 1.0)])


def _wine_glass(p: _Pen, r: np.random.Generator) -> None:
    bw = r.uniform(0.18, 0.26)
    p.ellipse("body", 0, 0.12, bw, 0.35, 0, 180)
    p.rect("body", -bw, 0.0, bw, 0.13)
    p.rect("accent", -0.012, 0.45, 0.012, 0.97)
    p.ellipse("accent", 0, 0.98, bw * 0.75, 0.02)


SHAPES: dict[str, Callable[[_Pen, np.random.Generator], None]] = {
    "bottle": _bottle, "jar": _jar, "box": _box, "vase": _vase, "shoe": _shoe, "bag": _bag, "tube": _tube,
    "ball": _ball, "mug": _mug, "stool": _stool, "chair": _chair, "ring": _ring, "lamp": _lamp,
    "headphones": _headphones, "strap-bag": lambda p, r: _bag(p, r, strap=True), "tumbler": _tumbler,
    "wine-glass": _wine_glass,
}
ROUND = {"bottle", "jar", "vase", "tube", "ball", "mug", "tumbler", "wine-glass", "lamp"}


def _parts(shape: str, rng: np.random.Generator, h: int, w: int, ss: int
           ) -> tuple[dict[str, np.ndarray], float, float, float]:
    """Per-part coverage (H x W float32, summing to the silhouette's coverage), centre x, base y,
    product height; the product shrinks until it sits inside the frame with a margin."""
    ph = h * rng.uniform(0.35, 0.7) * (0.6 if shape == "shoe" else 1.0)
    cx = w * rng.uniform(0.35, 0.65)
    base = h * rng.uniform(0.72, 0.94)
    state = rng.bit_generator.state
    for _ in range(12):
        rng.bit_generator.state = state  # the same proportions, only smaller
        pen = _Pen(h, w, ss, cx, base, ph)
        SHAPES[shape](pen, rng)
        ys, xs = np.nonzero(pen.ids[::ss, ::ss])
        margin = 0.03 * min(h, w)
        if len(xs) and xs.min() > margin and xs.max() < w - margin and ys.min() > margin and ys.max() < h - margin:
            break
        ph *= 0.85
        cx, base = 0.85 * cx + 0.15 * w / 2, 0.85 * base + 0.15 * h * 0.75
    cov = {part: np.clip(cv2.resize((pen.ids == i + 1).astype(np.float32), (w, h), interpolation=cv2.INTER_AREA),
                         0, 1) for i, part in enumerate(pen.parts)}
    return cov, cx, base, ph


# ---------------------------------------------------------------- lighting and shadows


def _backdrop(h: int, w: int, colour: np.ndarray, bottom: Optional[np.ndarray],
              gradient: float, angle: float, vignette: float, exposure: float) -> np.ndarray:
    """Linear backdrop: a two-colour sweep, a light fall-off of ``gradient`` along ``angle`` and a
    vignette that darkens the corners by ``vignette`` (fractions of the centre's brightness)."""
    yy = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    xx = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    low = colour if bottom is None else bottom
    t = yy[:, :, None]
    field = ((1 - t) * colour.astype(np.float32) + t * low.astype(np.float32)) * exposure
    ca, sa = math.cos(angle), math.sin(angle)
    along = (xx - 0.5) * ca + (yy - 0.5) * sa  # -0.7 .. 0.7
    r2 = ((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / 0.5
    gain = (1.0 - gradient * (along + 0.5 * (abs(ca) + abs(sa))) / (abs(ca) + abs(sa))) * (1.0 - vignette * r2)
    return np.broadcast_to(field, (h, w, 3)) * gain[:, :, None]


def _blur(a: np.ndarray, sigma_x: float, sigma_y: Optional[float] = None) -> np.ndarray:
    return cv2.GaussianBlur(a, (0, 0), max(0.3, sigma_x), sigmaY=max(0.3, sigma_y if sigma_y else sigma_x))


def _work(a: np.ndarray, f: float) -> np.ndarray:
    h, w = a.shape[:2]
    return a if f >= 1 else cv2.resize(a, (max(8, round(w * f)), max(8, round(h * f))), interpolation=cv2.INTER_AREA)


def _up(a: np.ndarray, h: int, w: int) -> np.ndarray:
    return a if a.shape[:2] == (h, w) else cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)


def _contact(cov: np.ndarray, base: float, ph: float, spread: float, height: float, f: float) -> np.ndarray:
    """Darkening (0..1) where the product meets the floor: its footprint smeared sideways and down,
    1 at the darkest visible point."""
    h, w = cov.shape
    band = np.zeros_like(cov)
    y0 = max(0, int(base - 0.025 * ph))
    band[y0:int(base) + 2] = cov[y0:int(base) + 2]
    small = _work(band, f)
    s = _up(_blur(small, spread * ph * f, height * ph * f), h, w)
    peak = float(s[cov < 0.5].max())  # the darkest point in sight: under the product it is hidden
    return np.clip(s / max(1e-6, peak), 0, 1)


def _cast(cov: np.ndarray, base: float, ph: float, angle: float, length: float, wall: bool, blur: float,
          f: float) -> np.ndarray:
    """Darkening (0..1) of a key light's shadow: the silhouette laid on the floor away from the light
    (``angle``: 0 = right, pi/2 = behind it), or thrown on the sweep behind it (``wall``)."""
    h, w = cov.shape
    small = _work(cov, f)
    b = base * f
    if wall:  # a drop shadow on the backdrop just behind the product
        dx, dy = length * 0.3 * ph * f * math.cos(angle), -length * 0.15 * ph * f * abs(math.sin(angle))
        m = np.float32([[1, 0, dx], [0, 1, dy]])
    else:
        a = length * math.cos(angle)
        c = length * math.sin(angle)
        c = math.copysign(max(0.15, abs(c)), c)
        m = np.float32([[1, -a, a * b], [0, c, (1 - c) * b]])
    s = cv2.warpAffine(small, m, (small.shape[1], small.shape[0]), flags=cv2.INTER_LINEAR)
    return np.clip(_up(_blur(s, blur * ph * f), h, w), 0, 1)


# ---------------------------------------------------------------- the scene


def _size(rng: np.random.Generator, size: Size) -> tuple[int, int]:
    if isinstance(size, tuple):
        return int(size[0]), int(size[1])
    long = int(size) if size else int(rng.integers(800, 6001))
    aspect = float(rng.choice([4 / 3, 3 / 2, 1.0, 3 / 4, 2 / 3, 16 / 9]))
    return (long, round(long / aspect)) if aspect >= 1 else (round(long * aspect), long)


def _backdrop_colour(rng: np.random.Generator, cls: str) -> tuple[np.ndarray, str]:
    if cls == "white-on-white":
        return _srgb8((rng.uniform(236, 255),) * 3) * (1 + rng.normal(0, 0.01, 3)), "white"
    if cls == "dark-on-dark":
        return _random_hue(rng, (0.0, 0.4), (0.05, 0.2)), "dark"
    kind = str(rng.choice(["white", "grey", "beige", "pastel", "colour", "black"], p=[.3, .15, .15, .15, .2, .05]))
    if kind == "white":
        return _srgb8((rng.uniform(232, 255),) * 3), kind
    if kind == "grey":
        return _srgb8((rng.uniform(110, 215),) * 3), kind
    if kind == "beige":
        return _srgb8((rng.uniform(215, 240), rng.uniform(195, 220), rng.uniform(165, 195))), kind
    if kind == "pastel":
        return _random_hue(rng, (0.1, 0.35), (0.75, 0.95)), kind
    if kind == "colour":
        return _random_hue(rng, (0.35, 0.9), (0.35, 0.9)), kind
    return _srgb8((rng.uniform(10, 40),) * 3), kind


def make_scene(seed: int, cls: Optional[str] = None, size: Size = None) -> Scene:
    """One studio shot. ``cls``: a name in CLASSES (None: CLASSES[seed % len]); ``size``: (w, h), a
    long side in px (random aspect), or None (a random long side 800-6000 px)."""
    cls = cls or CLASSES[seed % len(CLASSES)]
    if cls not in CLASSES:
        raise ValueError(f"unknown scene class {cls!r}; use one of {', '.join(CLASSES)}")
    rng = np.random.default_rng([seed, CLASSES.index(cls)])
    w, h = _size(rng, size)
    ss = max(1, min(3, 7200 // max(w, h)))
    f = min(1.0, 1200 / max(w, h))  # shadows are smooth: made at most 1200 px long, then enlarged
    P: dict = {"size": [w, h]}

    # backdrop
    colour, P["backdrop"] = _backdrop_colour(rng, cls)
    bottom = None
    if cls not in TONE_CLASSES and rng.random() < 0.2:
        bottom = np.clip(colour * rng.uniform(0.6, 1.2, 3), 0, 1)
    P["vignette"] = float(rng.uniform(0.15, 0.35) if cls == "vignetting" else rng.uniform(0.0, 0.08))
    P["gradient"] = float(rng.uniform(0.0, 0.15))
    angle = float(rng.uniform(0, 2 * math.pi))
    exposure = 1.0 if P["backdrop"] != "white" else float(rng.uniform(1.0, 1.1))  # white paper may clip
    clean = _backdrop(h, w, colour, bottom, P["gradient"], angle, P["vignette"], exposure).astype(np.float32)
    # the sweep's bend: wall and floor lit differently, a soft band behind the product (its own random
    # stream, so adding it left the rest of every scene as it was)
    bend = np.random.default_rng([seed, CLASSES.index(cls), 1])
    if bend.random() < 0.35:
        at, width, wall = bend.uniform(0.3, 0.65), bend.uniform(0.05, 0.25), bend.uniform(0.8, 1.2)
        t = np.clip((np.linspace(0.0, 1.0, h, dtype=np.float32) - at) / width + 0.5, 0, 1)
        clean *= (wall + (1 - wall) * t * t * (3 - 2 * t))[:, None, None]
        P["bend"] = [round(float(at), 3), round(float(width), 3), round(float(wall), 3)]

    # product
    shape = str(rng.choice(THIN_SHAPES if cls == "thin-parts-holes" else GLASS_SHAPES if cls == "transparent"
                           else SOLID_SHAPES))
    cov, cx, base, ph = _parts(shape, rng, h, w, ss)
    P.update(shape=shape, product_height=round(ph / h, 3))
    coverage = np.clip(sum(cov.values()), 0, 1)
    mask = coverage >= 0.5
    ys, xs = np.nonzero(coverage > 0)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    bh, bw = y1 - y0, x1 - x0
    local = clean[y0:y1, x0:x1][mask[y0:y1, x0:x1]].mean(axis=0)  # the backdrop behind the product

    tone = cls in TONE_CLASSES
    materials: dict[str, np.ndarray] = {}
    if tone:
        P["target_delta_e"] = round(float(rng.uniform(3.0, 12.0)), 2)
        target = _near_colour(rng, local, P["target_delta_e"])
        amp = float(rng.uniform(0.02, 0.12))
        body, P["texture"] = _tone_material(rng, bh, bw, target, amp)
        materials = {"body": body}
        if rng.random() < 0.5:  # a cap, handle or sole of a slightly different tone
            materials["accent"] = _tone_material(rng, bh, bw, _near_colour(rng, local, rng.uniform(3, 12)), amp)[0]
    else:
        for _ in range(12):
            body, P["texture"] = _plain_material(rng, bh, bw)
            if cls == "transparent" or delta_e(body.reshape(-1, 3).mean(0), local) >= MIN_CONTRAST:
                break
        else:  # nothing contrasted: darken (light backdrop) or lighten (dark one) the last try
            body = np.clip(body * (0.25 if lin_to_lab(local)[0] > 50 else 4.0), 0, 1)
        materials = {"body": body}
        if rng.random() < 0.5:
            materials["accent"] = _plain_material(rng, bh, bw)[0]
    # a print on the shapes that have one; on most tone-on-tone products there is none
    materials["label"] = materials["body"] if tone and rng.random() < 0.7 else _plain_material(rng, bh, bw)[0]

    # shading: key light across the product, roundness, darker rims, faces of a box, a highlight
    yy = np.linspace(-0.5, 0.5, bh, dtype=np.float32)[:, None]
    xx = np.linspace(-0.5, 0.5, bw, dtype=np.float32)[None, :]
    key = float(rng.uniform(0, 2 * math.pi))
    P["key_strength"] = float(rng.uniform(0.1, 0.5))
    shade = 1.0 + P["key_strength"] * (xx * math.cos(key) + yy * math.sin(key))
    if shape in ROUND:
        shade = shade * (1.0 - float(rng.uniform(0.1, 0.35)) * (2 * xx) ** 2)
    dist = cv2.distanceTransform(mask[y0:y1, x0:x1].astype(np.uint8), cv2.DIST_L2, 3)
    rim = float(rng.uniform(0.05, 0.3))
    shade = shade * (1.0 - rim * np.exp(-dist / max(1.0, 0.012 * ph)))
    shade = (shade / shade[mask[y0:y1, x0:x1]].mean()).astype(np.float32)
    faces = {"top": float(rng.uniform(1.05, 1.25)), "side": float(rng.uniform(0.6, 0.85))}
    glossy = shape in ROUND and rng.random() < 0.6
    spec = np.zeros((bh, bw), np.float32)
    if glossy:
        centre, width = rng.uniform(-0.3, 0.3), rng.uniform(0.02, 0.08)
        spec = float(rng.uniform(0.1, 0.6)) * np.exp(-((xx - centre) / width) ** 2) * np.ones_like(yy)
    P["glossy"] = bool(glossy)

    glass = cls == "transparent"
    fg = np.zeros((bh, bw, 3), np.float32)  # premultiplied linear colour
    alpha = np.zeros((h, w), np.float32)
    a_loc = alpha[y0:y1, x0:x1]
    if glass:
        tint = _random_hue(rng, (0.0, 0.6), (0.5, 1.0)).astype(np.float32)
        P["opacity"] = round(float(rng.uniform(0.15, 0.55)), 3)
        edge = np.exp(-dist / max(1.0, 0.02 * ph))
        opacity = (P["opacity"] + (float(rng.uniform(0.6, 0.95)) - P["opacity"]) * edge).astype(np.float32)
        colour_glass = tint[None, None, :] * shade[:, :, None] * float(rng.uniform(0.2, 0.8))
    for part, c in cov.items():
        c = c[y0:y1, x0:x1]
        mat = materials["accent" if part == "accent" and "accent" in materials else
                        "label" if part == "label" and not glass else "body"]
        col = mat * (shade * faces.get(part, 1.0))[:, :, None] + spec[:, :, None]
        if glass and part != "label":
            op = np.maximum(opacity, np.clip(spec * 2, 0, 1))
            col = colour_glass + spec[:, :, None]
        else:
            op = np.ones_like(c)
        fg += (c * op)[:, :, None] * col
        a_loc += c * op
    alpha = np.clip(alpha, 0, 1)
    fg = np.minimum(fg, alpha[y0:y1, x0:x1, None] * 1.2)  # a highlight may clip, no more

    # shadows: multiply the backdrop only
    matte = np.ones((h, w), np.float32)
    dim = float(np.mean(alpha[mask])) if glass else 1.0  # glass lets light through
    contact_dark = float(rng.uniform(0.5, 0.9) if cls == "contact-shadow" else
                         rng.uniform(0.25, 0.6) if rng.random() < 0.6 else 0.0)
    if contact_dark:
        tight = cls == "contact-shadow"
        s = _contact(coverage, base, ph, rng.uniform(0.01, 0.03) if tight else rng.uniform(0.02, 0.08),
                     rng.uniform(0.004, 0.012) if tight else rng.uniform(0.01, 0.03), f)
        matte *= 1.0 - contact_dark * dim * s
    cast_dark = float(rng.uniform(0.5, 0.75) if cls == "hard-cast-shadow" else
                      rng.uniform(0.2, 0.45) if rng.random() < 0.35 else 0.0)
    if cast_dark:
        hard = cls == "hard-cast-shadow"
        wall = rng.random() < 0.25
        blur = float(rng.uniform(0.003, 0.012) if hard else rng.uniform(0.02, 0.08))
        # a hard class's shadow falls sideways (up to 60 degrees off), so the product does not hide it
        direction = float(rng.uniform(-math.pi / 3, math.pi / 3) + math.pi * rng.integers(0, 2) if hard
                          else rng.uniform(0, 2 * math.pi))
        s = _cast(coverage, base, ph, direction, float(rng.uniform(0.3, 1.1)), wall, blur, f)
        matte *= 1.0 - cast_dark * dim * s
        P.update(cast_wall=bool(wall), cast_blur=round(blur, 4))
    P.update(contact=round(contact_dark, 3), cast=round(cast_dark, 3))

    lin = clean * matte[:, :, None]
    P["reflection"] = 0.0
    if cls == "glossy-floor":  # the floor mirrors the product below its base, fading out
        P["reflection"] = round(float(rng.uniform(0.15, 0.5)), 3)
        b = int(base)
        span = min(h - 1 - b, int(bh * rng.uniform(0.2, 0.5)))
        if span > 1:
            rows = np.arange(b + 1, b + 1 + span)
            src = np.clip(2 * b - rows - y0, 0, bh - 1)
            fade = (P["reflection"] * (1 - (rows - b) / span) ** 1.5).astype(np.float32)[:, None]
            blur = float(rng.uniform(0.0, 0.01)) * ph
            ref_a = alpha[y0:y1, x0:x1][src] * fade
            ref_c = fg[src] * fade[:, :, None]
            if blur > 0.5:
                ref_a, ref_c = _blur(ref_a, blur), _blur(ref_c, blur)
            region = lin[rows, x0:x1]
            lin[rows, x0:x1] = region * (1 - ref_a[:, :, None]) + ref_c

    lin[y0:y1, x0:x1] = fg + lin[y0:y1, x0:x1] * (1 - alpha[y0:y1, x0:x1, None])
    P["noise"] = round(float(rng.uniform(0.002, 0.015)), 4)
    srgb = _to_srgb(lin)
    srgb += rng.standard_normal(srgb.shape, dtype=np.float32) * np.float32(P["noise"])
    rgb8 = np.clip(np.rint(srgb * 255), 0, 255).astype(np.uint8)
    P["quality"] = int(rng.integers(60, 96))
    image = _jpeg(rgb8, P["quality"])
    P["delta_e"] = round(delta_e(lin[mask].mean(0), local * matte[mask].mean()), 2)
    name = f"{cls} #{seed}: {shape} ({P['texture']}) on {P['backdrop']}, {w}x{h}"
    return Scene(name, image, mask, alpha.astype(np.float32), matte, clean, cls, seed, P)


def corpus(n: int, seed: int = 0, size: Size = (800, 600),
           classes: tuple[str, ...] = CLASSES) -> list[Scene]:
    """n scenes cycling through ``classes`` evenly (scene i has class i mod len(classes))."""
    return list(iter_corpus(n, seed, size, classes))


def corpus_ids(n: int, seed: int = 0, classes: tuple[str, ...] = CLASSES) -> list[tuple[int, str]]:
    """The (scene seed, class) of each of ``corpus``'s scenes: ``make_scene`` makes one from them."""
    return [(seed * 1_000_003 + i, classes[i % len(classes)]) for i in range(n)]


def iter_corpus(n: int, seed: int = 0, size: Size = (800, 600), classes: tuple[str, ...] = CLASSES):
    """The scenes of ``corpus`` one at a time (a large corpus need not sit in memory)."""
    for scene_seed, cls in corpus_ids(n, seed, classes):
        yield make_scene(scene_seed, cls, size)
