"""Regenerate the sample photos in this folder (README's first command runs on them).

Licence-clean by construction: ``coffee.jpg`` is scikit-image's ``data.coffee()`` (CC0, Rachel
Michetti, courtesy of Pikolo Espresso Bar); every other photo is rendered here from geometry
(no third-party pixels). Run: ``python resources/samples/make_samples.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
SS = 2  # supersampling factor for smooth edges


def _backdrop(h: int, w: int, top: tuple, bottom: tuple, rng: np.random.Generator) -> np.ndarray:
    """A seamless studio sweep: vertical gradient, slight vignette, sensor-like noise."""
    t = np.linspace(0.0, 1.0, h)[:, None, None]
    img = (1 - t) * np.array(top, float) + t * np.array(bottom, float)
    img = np.broadcast_to(img, (h, w, 3)).copy()
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((xx - w / 2) / w, (yy - h / 2) / h)
    img *= (1.0 - 0.18 * r**2)[:, :, None]
    return img + rng.normal(0, 1.2, img.shape)


def _shadow(img: np.ndarray, cx: float, cy: float, rx: float, ry: float, strength: float) -> None:
    import cv2

    h, w = img.shape[:2]
    m = np.zeros((h, w), np.float32)
    cv2.ellipse(m, (int(cx), int(cy)), (int(rx), int(ry)), 0, 0, 360, 1.0, -1)
    m = cv2.GaussianBlur(m, (0, 0), ry * 0.9 + 3)
    img *= (1.0 - strength * m)[:, :, None]


def _paint(img: np.ndarray, mask: np.ndarray, colour: np.ndarray) -> None:
    """Alpha-blend ``colour`` (H x W x 3 or 3) where ``mask`` (H x W float) is set."""
    img[:] = img * (1 - mask[:, :, None]) + colour * mask[:, :, None]


def _cylinder_shade(xx: np.ndarray, cx: float, rx: float, base: tuple, light: float = -0.35) -> np.ndarray:
    """Lambert-like shading across a vertical cylinder, with a specular streak."""
    u = np.clip((xx - cx) / rx, -1, 1)
    normal_x = u
    normal_z = np.sqrt(1 - u**2)
    lx, lz = light, np.sqrt(1 - light**2)
    diffuse = np.clip(normal_x * lx + normal_z * lz, 0, 1)
    spec = np.exp(-((u - light * 0.9) ** 2) / 0.004)
    col = np.array(base, float)[None, None, :] * (0.35 + 0.65 * diffuse[:, :, None])
    return col + 170 * spec[:, :, None]


def _finish(img: np.ndarray) -> Image.Image:
    arr = np.clip(img, 0, 255).astype(np.uint8)
    im = Image.fromarray(arr, "RGB")
    return im.resize((im.width // SS, im.height // SS), Image.Resampling.LANCZOS)


def bottle(rng: np.random.Generator) -> Image.Image:
    import cv2

    h, w = 900 * SS, 700 * SS
    img = _backdrop(h, w, (236, 238, 241), (206, 209, 214), rng)
    cx, top, bottom, rx = w / 2, 0.30 * h, 0.82 * h, 0.15 * w
    _shadow(img, cx + 0.05 * w, bottom, rx * 1.25, 0.035 * h, 0.22)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    body = np.zeros((h, w), np.float32)
    cv2.rectangle(body, (int(cx - rx), int(top)), (int(cx + rx), int(bottom - 0.02 * h)), 1.0, -1)
    cv2.ellipse(body, (int(cx), int(bottom - 0.02 * h)), (int(rx), int(0.02 * h)), 0, 0, 360, 1.0, -1)
    cv2.ellipse(body, (int(cx), int(top)), (int(rx), int(0.06 * h)), 0, 180, 360, 1.0, -1)
    _paint(img, body, _cylinder_shade(xx, cx, rx, (52, 120, 150)))
    label = ((yy > 0.48 * h) & (yy < 0.68 * h) & (np.abs(xx - cx) < rx)).astype(np.float32)
    _paint(img, label, _cylinder_shade(xx, cx, rx, (238, 232, 220)))
    for i, y in enumerate((0.53, 0.58, 0.62)):
        stripe = ((np.abs(yy - y * h) < (6 - i * 2) * SS) & (np.abs(xx - cx) < rx * (0.55 - 0.1 * i)))
        _paint(img, stripe.astype(np.float32), np.array([70, 60, 55], float))
    neck = ((yy > 0.22 * h) & (yy < 0.27 * h) & (np.abs(xx - cx) < 0.05 * w)).astype(np.float32)
    _paint(img, neck, _cylinder_shade(xx, cx, 0.05 * w, (200, 200, 205)))
    cap = ((yy > 0.14 * h) & (yy < 0.225 * h) & (np.abs(xx - cx) < 0.065 * w)).astype(np.float32)
    _paint(img, cap, _cylinder_shade(xx, cx, 0.065 * w, (30, 30, 34)))
    return _finish(img)


def mug(rng: np.random.Generator) -> Image.Image:
    import cv2

    h, w = 800 * SS, 1000 * SS
    img = _backdrop(h, w, (244, 236, 224), (222, 210, 194), rng)
    cx, top, bottom, rx = 0.45 * w, 0.30 * h, 0.78 * h, 0.17 * w
    _shadow(img, cx + 0.06 * w, bottom, rx * 1.4, 0.04 * h, 0.2)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    handle = np.zeros((h, w), np.float32)
    cv2.ellipse(handle, (int(cx + rx), int(0.53 * h)), (int(0.10 * w), int(0.13 * h)), 0, -90, 90, 1.0,
                int(0.035 * w))
    _paint(img, handle, np.array([168, 38, 40], float) * 0.85)
    body = np.zeros((h, w), np.float32)
    cv2.rectangle(body, (int(cx - rx), int(top)), (int(cx + rx), int(bottom - 0.03 * h)), 1.0, -1)
    cv2.ellipse(body, (int(cx), int(bottom - 0.03 * h)), (int(rx), int(0.03 * h)), 0, 0, 360, 1.0, -1)
    _paint(img, body, _cylinder_shade(xx, cx, rx, (190, 42, 44)))
    rim = np.zeros((h, w), np.float32)
    cv2.ellipse(rim, (int(cx), int(top)), (int(rx), int(0.045 * h)), 0, 0, 360, 1.0, -1)
    _paint(img, rim, np.array([120, 24, 26], float))
    inner = np.zeros((h, w), np.float32)
    cv2.ellipse(inner, (int(cx), int(top + 0.004 * h)), (int(rx * 0.93), int(0.038 * h)), 0, 0, 360, 1.0, -1)
    _paint(img, inner, np.array([245, 242, 236], float) * 0.8)
    return _finish(img)


def box(rng: np.random.Generator) -> Image.Image:
    """A product carton in three-quarter view; saved sideways with EXIF orientation 6."""
    import cv2

    h, w = 800 * SS, 1000 * SS
    img = _backdrop(h, w, (240, 240, 240), (214, 214, 216), rng)
    s = SS
    front = np.array([[300, 300], [560, 340], [560, 700], [300, 650]]) * s
    side = np.array([[560, 340], [720, 290], [720, 630], [560, 700]]) * s
    top_face = np.array([[300, 300], [460, 255], [720, 290], [560, 340]]) * s
    _shadow(img, 520 * s, 690 * s, 260 * s, 30 * s, 0.2)
    for poly, colour in ((front, (230, 160, 40)), (side, (180, 118, 24)), (top_face, (245, 190, 90))):
        m = np.zeros((h, w), np.float32)
        cv2.fillPoly(m, [poly.astype(np.int32)], 1.0, lineType=cv2.LINE_AA)
        _paint(img, m, np.array(colour, float))
    band = np.zeros((h, w), np.float32)
    cv2.fillPoly(band, [(np.array([[300, 470], [560, 505], [560, 560], [300, 522]]) * s).astype(np.int32)], 1.0)
    _paint(img, band, np.array([40, 60, 110], float))
    return _finish(img).transpose(Image.Transpose.ROTATE_90)  # stored sideways; EXIF 6 turns it upright


def jar_cutout(rng: np.random.Generator) -> tuple[Image.Image, Image.Image]:
    """A cosmetics jar already cut out: RGBA PNG whose alpha is the product mask."""
    import cv2

    h, w = 700 * SS, 700 * SS
    img = np.full((h, w, 3), 128.0)
    alpha = np.zeros((h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, rx = w / 2, 0.28 * w
    body = np.zeros((h, w), np.float32)
    cv2.rectangle(body, (int(cx - rx), int(0.45 * h)), (int(cx + rx), int(0.80 * h)), 1.0, -1)
    cv2.ellipse(body, (int(cx), int(0.80 * h)), (int(rx), int(0.05 * h)), 0, 0, 360, 1.0, -1)
    _paint(img, body, _cylinder_shade(xx, cx, rx, (236, 226, 214)))
    lid = np.zeros((h, w), np.float32)
    cv2.rectangle(lid, (int(cx - rx * 1.03), int(0.30 * h)), (int(cx + rx * 1.03), int(0.45 * h)), 1.0, -1)
    cv2.ellipse(lid, (int(cx), int(0.30 * h)), (int(rx * 1.03), int(0.05 * h)), 0, 0, 360, 1.0, -1)
    _paint(img, lid, _cylinder_shade(xx, cx, rx * 1.03, (200, 165, 90)))
    alpha = np.maximum(body, lid)
    rgba = np.dstack([np.clip(img, 0, 255), alpha * 255]).astype(np.uint8)
    im = Image.fromarray(rgba, "RGBA")
    return im.resize((w // SS, h // SS), Image.Resampling.LANCZOS), im


def coffee() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.coffee(), "RGB")


def main() -> None:
    rng = np.random.default_rng(7)
    bottle(rng).save(HERE / "serum bottle.jpg", quality=88)
    mug(rng).save(HERE / "red_mug.jpg", quality=88)
    sideways = box(rng)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display: the file is stored sideways like many phone photos
    sideways.save(HERE / "gift-box.jpg", quality=88, exif=exif.tobytes())
    jar_cutout(rng)[0].save(HERE / "cream_jar.png", optimize=True)
    coffee().save(HERE / "coffee_cup.jpg", quality=90)


if __name__ == "__main__":
    main()
