"""Output presets framed before rendering: the padding is background the engine makes, not edge repeats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from packshot.core.generation.composite import composite
from packshot.core.generation.engines import engine_for
from packshot.core.generation.engines.blur import NoBackgroundError
from packshot.core.generation.presets import frame_photo, get_preset
from packshot.core.generation.settings import GenerationSettings
from packshot.core.images import Photo, load_photo
from packshot.core.masking.result import MaskResult
from tests.core.generation.helpers import plain_engine, product_photo

SAMPLES = Path(__file__).resolve().parents[3] / "resources" / "samples"


def _mask(product: np.ndarray) -> MaskResult:
    return MaskResult(mask=product, alpha=product.astype(np.float32), score=1.0, source="edited")


def _padding_rows(framed) -> np.ndarray:
    """Rows of the canvas with no photo at all (framed.alpha 0 across the row)."""
    return np.flatnonzero((framed.alpha <= 0).all(axis=1))


def test_generative_engine_fills_the_preset_padding_with_generated_background(tiny_diffusion_runtime):
    photo, mask = product_photo(300, 100)  # wide: square-2000 pads ~500 rows above and below
    framed, framed_mask = frame_photo(photo, mask, "square-2000")
    assert framed.pixels.shape == (2000, 2000, 3) and framed_mask.alpha.shape == (2000, 2000)
    pad = _padding_rows(framed)
    top = pad[pad < 1000]
    assert top.size > 300 and top[0] == 0
    engine = engine_for(tiny_diffusion_runtime, "si2-controlnet", "cpu")
    (background,) = engine.render(framed, framed_mask, GenerationSettings(prompt="marble", steps=2, resolution=64))
    out = composite(framed, framed_mask.alpha, background)
    assert out.shape == (2000, 2000, 3)
    band = out[top].astype(int)
    edge_row = out[top[-1] + 1].astype(int)  # the photo's first row on the canvas
    # Edge replication would make every padding row equal the photo's edge row.
    assert np.abs(band - edge_row[None]).mean() > 5
    assert (band.max(axis=0) - band.min(axis=0)).mean() > 10  # rows differ from each other
    solid = framed_mask.alpha >= 1.0
    assert np.array_equal(out[solid], framed.pixels[solid])


@pytest.mark.parametrize("name, settings", [
    ("white", GenerationSettings()),
    ("color", GenerationSettings(color=(10, 200, 30))),
    ("gradient", GenerationSettings(gradient=((0, 0, 0), (255, 255, 255)))),
])
def test_plain_engines_paint_the_padding_like_the_rest(name, settings):
    photo, mask = product_photo(300, 100)
    framed, framed_mask = frame_photo(photo, mask, "square-1000")
    (background,) = plain_engine(name).render(framed, framed_mask, settings)
    out = composite(framed, framed_mask.alpha, background)
    pad = _padding_rows(framed)
    assert pad.size > 200
    if name == "gradient":  # spans the whole canvas, padding included
        assert (out[0] == 0).all() and (out[-1] == 255).all()
        assert (np.diff(out[:, 0, 0].astype(int)) >= 0).all()
    else:
        colour = (255, 255, 255) if name == "white" else settings.color
        assert (out[pad].reshape(-1, 3) == colour).all()
        assert (out[framed_mask.alpha <= 0].reshape(-1, 3) == colour).all()


@pytest.mark.parametrize("size, dtype", [((300, 100), np.uint8), ((1800, 1200), np.uint8), ((150, 230), np.uint16)])
def test_presets_resample_the_product_once_and_composite_keeps_those_pixels(size, dtype):
    """Flat product colour survives resampling exactly; the composite copies framed product pixels."""
    photo, mask = product_photo(*size, dtype=dtype)
    colour = np.array([200, 30, 40]) * (257 if dtype == np.uint16 else 1)
    photo.pixels[mask.alpha > 0] = colour
    preset = get_preset("square-1000")
    framed, framed_mask = frame_photo(photo, mask, preset)
    assert framed.pixels.dtype == dtype and framed.pixels.shape == (1000, 1000, 3)
    (white,) = plain_engine("white").render(framed, framed_mask, GenerationSettings())
    out = composite(framed, framed_mask.alpha, white)
    solid = framed_mask.alpha >= 1.0
    assert solid.sum() > 1000
    assert np.array_equal(out[solid], framed.pixels[solid])
    assert (out[solid] == colour).all()
    ys, xs = np.nonzero(framed_mask.mask)
    long_side = max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    assert abs(long_side / 1000 - preset.fill) < 0.02
    assert abs((xs.min() + xs.max()) / 2 - 500) < 3 and abs((ys.min() + ys.max()) / 2 - 500) < 3
    assert frame_photo(photo, mask, "original") == (photo, mask)


def test_blur_mirrors_the_photo_into_the_padding():
    h, w = 100, 300
    pixels = np.zeros((h, w, 3), np.uint8)
    pixels[:, :150] = (0, 0, 255)  # blue left half
    pixels[:, 150:] = (0, 255, 0)  # green right half
    yy, xx = np.mgrid[0:h, 0:w]
    product = (xx - 150) ** 2 / 60 ** 2 + (yy - 50) ** 2 / 30 ** 2 <= 1
    pixels[product] = (255, 0, 0)  # a red product
    framed, framed_mask = frame_photo(Photo(pixels=pixels), _mask(product), "square-1000")
    (bg,) = plain_engine("blur").render(framed, framed_mask, GenerationSettings(blur_sigma=0.01))
    pad = _padding_rows(framed)
    assert pad.size > 200
    band = bg[pad].astype(int)
    assert band[:, :, 0].max() <= 12  # no product red, in the padding or anywhere
    assert bg[:, :, 0].max() <= 12
    assert np.abs(band[:, :300] - (0, 0, 255)).max() <= 12  # the blue half continues upwards and downwards
    assert np.abs(band[:, -300:] - (0, 255, 0)).max() <= 12


def test_blur_refuses_a_transparent_cut_out_with_a_clear_message():
    photo = load_photo(SAMPLES / "cream_jar.png")
    assert photo.alpha is not None and (photo.alpha == 0).mean() > 0.5
    mask = MaskResult(mask=photo.alpha >= 0.5, alpha=photo.alpha, score=1.0, source="alpha-channel")
    with pytest.raises(NoBackgroundError, match="cream_jar.png is a cut-out with no background to blur; "
                                                "choose another engine"):
        plain_engine("blur").render(photo, mask, GenerationSettings())
    framed, framed_mask = frame_photo(photo, mask, "square-1000")
    with pytest.raises(NoBackgroundError, match="cut-out"):
        plain_engine("blur").render(framed, framed_mask, GenerationSettings())


def test_blur_fills_transparent_gaps_from_the_known_background():
    h, w = 120, 160
    pixels = np.zeros((h, w, 3), np.uint8)  # transparent pixels hold black, as cut-outs often do
    pixels[:] = (0, 120, 255)
    alpha = np.ones((h, w), np.float32)
    alpha[:30, :40] = 0.0
    pixels[:30, :40] = 0
    product = np.zeros((h, w), bool)
    product[50:90, 60:100] = True
    pixels[product] = (255, 0, 0)
    (bg,) = plain_engine("blur").render(Photo(pixels=pixels, alpha=alpha), _mask(product), GenerationSettings())
    assert np.abs(bg.astype(int) - (0, 120, 255)).max() <= 12  # no black corner, no red
