"""Compositing at full resolution: the product comes back bit-identical, whatever the input format."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from packshot.core.generation.composite import composite
from packshot.core.generation.engines import engine_for
from packshot.core.generation.presets import apply_preset, get_preset
from packshot.core.generation.settings import GenerationSettings
from packshot.core.generation.shadow import Shadow, shadow_map
from packshot.core.images import load_photo
from packshot.core.masking.result import MaskResult
from tests.core.generation.helpers import plain_engine, product_photo


def _mask_from(alpha: np.ndarray) -> MaskResult:
    return MaskResult(mask=alpha >= 0.5, alpha=alpha.astype(np.float32), score=1.0, source="alpha-channel")


def _assert_product_kept(photo, alpha, out):
    solid = alpha >= 1.0
    assert solid.any()
    assert out.dtype == photo.pixels.dtype and out.shape == photo.pixels.shape
    assert np.array_equal(out[solid], photo.pixels[solid])


@pytest.mark.parametrize("size", [(97, 61), (61, 97), (33, 129)])
def test_generated_background_composite_keeps_product_pixels_at_odd_sizes(tiny_diffusion_runtime, size):
    photo, mask = product_photo(*size)
    engine = engine_for(tiny_diffusion_runtime, "si2-controlnet", "cpu")
    background = engine.render(photo, mask, GenerationSettings(prompt="marble", steps=2, resolution=64))[0]
    assert background.shape == photo.pixels.shape
    out = composite(photo, mask.alpha, background)
    _assert_product_kept(photo, mask.alpha, out)
    outside = mask.alpha == 0
    assert np.array_equal(out[outside], background[outside])


def test_default_512_canvas_round_trip(tiny_diffusion_runtime):
    photo, mask = product_photo(701, 333)
    engine = engine_for(tiny_diffusion_runtime, "si2-controlnet", "cpu")
    background = engine.render(photo, mask, GenerationSettings(prompt="marble", steps=2))[0]
    assert background.shape == (333, 701, 3)
    _assert_product_kept(photo, mask.alpha, composite(photo, mask.alpha, background))


def _write_inputs(folder):
    rng = np.random.default_rng(1)
    h, w = 45, 77
    yy, xx = np.mgrid[0:h, 0:w]
    alpha8 = np.where((xx - 38) ** 2 / 400 + (yy - 22) ** 2 / 150 <= 1, 255, 0).astype(np.uint8)
    alpha8[(alpha8 == 0) & ((xx - 38) ** 2 / 500 + (yy - 22) ** 2 / 190 <= 1)] = 128  # soft rim
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(np.dstack([rgb, alpha8]), "RGBA").save(folder / "rgba.png")
    Image.fromarray(rgb[:, :, 0], "L").save(folder / "grey.png")
    wide = rng.integers(0, 65536, (h, w, 3), dtype=np.uint16)
    cv2.imwrite(str(folder / "wide.png"), wide)
    grey16 = rng.integers(0, 65536, (h, w), dtype=np.uint16)
    cv2.imwrite(str(folder / "grey16.png"), grey16)
    return alpha8.astype(np.float32) / 255.0


@pytest.mark.parametrize("name", ["rgba.png", "grey.png", "wide.png", "grey16.png"])
def test_product_bit_identical_for_rgba_grey_and_16_bit_inputs(tmp_path, tiny_diffusion_runtime, name):
    alpha = _write_inputs(tmp_path)
    photo = load_photo(tmp_path / name)
    expected_dtype = np.uint16 if "16" in name or "wide" in name else np.uint8
    assert photo.pixels.dtype == expected_dtype
    if photo.alpha is not None:
        alpha = photo.alpha
    mask = _mask_from(alpha)
    engine = engine_for(tiny_diffusion_runtime, "si2-controlnet", "cpu")
    background = engine.render(photo, mask, GenerationSettings(prompt="wood", steps=2, resolution=64))[0]
    out = composite(photo, mask.alpha, background, shadow=Shadow())
    _assert_product_kept(photo, mask.alpha, out)


def test_soft_edge_blends_and_16_bit_background_is_scaled_exactly():
    photo, mask = product_photo(40, 30, dtype=np.uint16)
    background = np.full((30, 40, 3), 255, np.uint8)
    out = composite(photo, mask.alpha, background, decontaminate=False)
    assert out.dtype == np.uint16
    assert (out[mask.alpha == 0] == 65535).all()
    edge = (mask.alpha > 0) & (mask.alpha < 1)
    assert edge.any()
    a = mask.alpha[edge][:, None]
    expected = np.rint(photo.pixels[edge] * a + 65535.0 * (1 - a))
    assert np.abs(out[edge].astype(np.int64) - expected).max() <= 1
    # By default the edge blends the estimated foreground instead; the ends of the range stay exact.
    clean = composite(photo, mask.alpha, background)
    assert not np.array_equal(clean[edge], out[edge])
    assert np.array_equal(clean[mask.alpha >= 1], photo.pixels[mask.alpha >= 1])
    assert (clean[mask.alpha == 0] == 65535).all()


def test_shadows_darken_only_the_background_near_the_product():
    photo, mask = product_photo(120, 90)
    white = np.full((90, 120, 3), 255, np.uint8)
    for shadow in (Shadow(kind="drop", angle=90, distance=0.05, opacity=0.6), Shadow(kind="contact", opacity=0.6)):
        out = composite(photo, mask.alpha, white, shadow=shadow)
        _assert_product_kept(photo, mask.alpha, out)
        strength = shadow_map(mask.alpha, shadow)
        assert strength.max() > 0.2 and strength.max() <= 0.6 + 1e-6
        below = out[80:, 40:80][~mask.mask[80:, 40:80]]
        assert below.mean() < 250  # shaded under the product (shadows fall downwards here)
        assert (out[:3, :3] == 255).all()  # far corner untouched
    with pytest.raises(ValueError):
        Shadow(opacity=1.5)


def test_white_engine_is_pure_white_and_presets_place_the_product():
    photo, mask = product_photo(300, 200)
    white = plain_engine("white").render(photo, mask, GenerationSettings(variants=2))
    assert len(white) == 2 and all((w == 255).all() for w in white)
    out = composite(photo, mask.alpha, white[0])
    framed = apply_preset(out, mask.alpha, "square-1000")
    assert framed.shape == (1000, 1000, 3)
    resized_mask = apply_preset(mask.alpha, mask.alpha, "square-1000") > 0.5
    ys, xs = np.nonzero(resized_mask)
    long_side = max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    assert abs(long_side / 1000 - get_preset("square-1000").fill) < 0.02
    assert abs((xs.min() + xs.max()) / 2 - 500) < 3 and abs((ys.min() + ys.max()) / 2 - 500) < 3
    assert (framed[:5, :5] == 255).all()  # canvas beyond the photo continues the white background
    assert apply_preset(out, mask.alpha, "original") is out
    with pytest.raises(ValueError, match="Unknown output preset"):
        apply_preset(out, mask.alpha, "poster")


def test_composite_rejects_mismatched_sizes():
    photo, mask = product_photo(40, 30)
    with pytest.raises(ValueError, match="must match"):
        composite(photo, mask.alpha, np.zeros((31, 40, 3), np.uint8))
