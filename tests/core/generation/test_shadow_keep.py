"""``--shadow keep``: the studio shot's own shadow, re-applied on a new background, neutral.

Scenes come from tests/studio_scenes.py: real scikit-image photos cut into product shapes on
seamless backdrops with a known shadow matte, JPEG-compressed. The mask is the classic masker's
(what a user without weights gets), not the true one.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from packshot.core.generation.settings import GenerationSettings
from packshot.core.generation.shadow import KeptShadow, Shadow, keep_shadow
from packshot.core.generation.shadow_matte import estimate_shadow_matte
from packshot.core.images import Photo
from packshot.core.jobs.render import make_shadow, render_images
from packshot.core.masking import build_masker
from packshot.core.masking.backdrop import srgb8_to_linear
from tests import studio_scenes as St
from tests.core.generation.helpers import plain_engine

ENGINES = {  # new backgrounds of every plain kind
    "white": GenerationSettings(),
    "color": GenerationSettings(color=(70, 140, 220)),
    "gradient": GenerationSettings(gradient=((250, 240, 200), (120, 60, 160))),
}


@pytest.fixture(scope="module")
def masker():
    return build_masker("classic")


_MASKS: dict[str, object] = {}


def _render(scene: St.StudioScene, masker, engine: str, settings: GenerationSettings, shadow):
    photo = Photo(pixels=scene.image)
    if scene.name not in _MASKS:  # one mask per scene: the same photo is rendered with and without
        _MASKS[scene.name] = masker.compute(photo)
    mask = _MASKS[scene.name]
    notes: list[str] = []
    out = render_images(plain_engine(engine), photo, mask, settings, shadow, notes=notes)[0]
    return out, mask, notes


def _darkening(with_shadow: np.ndarray, without: np.ndarray) -> np.ndarray:
    """Per-channel linear-light ratio of the shadowed output to the unshadowed one."""
    return srgb8_to_linear(with_shadow) / np.maximum(srgb8_to_linear(without), 1e-4)


def _outside(mask: np.ndarray, px: int = 3) -> np.ndarray:
    return ~cv2.dilate(mask.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)).astype(bool)


@pytest.mark.parametrize("name", list(St.SHOTS))
def test_kept_shadow_follows_the_true_matte_and_is_neutral(masker, name):
    scene = St.shot(name)
    engine = ("white", "color", "gradient")[list(St.SHOTS).index(name) % 3]
    keep, mask, notes = _render(scene, masker, engine, ENGINES[engine], "keep")
    plain, _, _ = _render(scene, masker, engine, ENGINES[engine], None)
    assert notes == [], notes  # the shadow was found and kept: nothing to report
    ratio = _darkening(keep, plain)
    outside = _outside(scene.mask) & _outside(mask.mask)
    est, true = ratio.mean(-1)[outside], scene.matte[outside]
    assert np.corrcoef(est, true)[0, 1] >= 0.85
    assert np.abs(est - true).mean() <= 0.06
    shaded = scene.matte[outside] < 0.9
    assert np.abs(est[shaded] - true[shaded]).mean() <= 0.06, "wrong inside the shadow itself"
    # neutral: the same factor in R, G and B (8-bit rounding aside), so no old backdrop hue
    spread = (ratio.max(-1) - ratio.min(-1))[outside & (plain.min(-1) > 30)]
    assert np.percentile(spread, 99) <= 0.03


@pytest.mark.parametrize("name", ["mug of brick on beige", "box of chelsea on blue"])
def test_white_background_gets_no_backdrop_chroma(masker, name):
    # a shadow kept from beige or blue paper stays grey on white: Lab chroma p99 <= 4 beyond 3 px
    scene = St.shot(name)
    keep, mask, _ = _render(scene, masker, "white", ENGINES["white"], "keep")
    lab = cv2.cvtColor(keep, cv2.COLOR_RGB2Lab).astype(np.float32)
    chroma = np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
    outside = _outside(mask.mask)
    assert np.percentile(chroma[outside], 99) <= 4
    assert keep[outside].min() < 225, "the shadow was kept (the white background is darkened somewhere)"


def test_kept_shadow_on_an_image_background(masker, tmp_path):
    scene = St.shot("stool of grass on grey")
    bg = cv2.resize(np.asarray(__import__("skimage.data", fromlist=["x"]).rocket()), scene.image.shape[1::-1])
    path = tmp_path / "bg.png"
    Image.fromarray(bg).save(path)
    settings = GenerationSettings(background_image=str(path))
    keep, mask, notes = _render(scene, masker, "image", settings, "keep")
    plain, _, _ = _render(scene, masker, "image", settings, None)
    outside = _outside(scene.mask) & _outside(mask.mask) & (plain.min(-1) > 40)
    est = _darkening(keep, plain).mean(-1)[outside]
    assert not notes and np.corrcoef(est, scene.matte[outside])[0, 1] >= 0.85


def test_a_lifestyle_photo_gets_the_synthetic_shadow_and_says_why(masker):
    image = St.lifestyle_photo("astronaut")
    photo = Photo(pixels=image)
    mask = masker.compute(photo)
    shade, note = keep_shadow(photo, mask)
    assert isinstance(shade, Shadow) and not isinstance(shade, KeptShadow)
    assert "no studio backdrop" in note and "synthetic drop shadow" in note
    assert estimate_shadow_matte(image, mask.alpha).matte is None
    notes: list[str] = []
    out = render_images(plain_engine("white"), photo, mask, GenerationSettings(), "keep", notes=notes)[0]
    synthetic = render_images(plain_engine("white"), photo, mask, GenerationSettings(), "drop")[0]
    assert notes == [note]
    assert np.array_equal(out, synthetic), "the fallback is exactly the synthetic drop shadow"


def test_a_studio_shot_without_shadow_says_so(masker):
    scene = St.studio_shot("box", "chelsea", "grey", contact=0.0, cast=0.0)
    photo = Photo(pixels=scene.image)
    shade, note = keep_shadow(photo, masker.compute(photo))
    assert isinstance(shade, Shadow) and "no shadow found" in note


def test_16bit_photo_and_a_framed_photo_keep_their_shadow(masker):
    from packshot.core.generation.presets import frame_photo

    scene = St.shot("bottle of coffee on white")
    photo16 = Photo(pixels=scene.image.astype(np.uint16) * 257)
    mask = masker.compute(Photo(pixels=scene.image))
    shade, note = keep_shadow(photo16, mask)
    assert note is None and isinstance(shade, KeptShadow)
    out = render_images(plain_engine("white"), photo16, mask, GenerationSettings(), "keep")[0]
    out8 = render_images(plain_engine("white"), Photo(pixels=scene.image), mask, GenerationSettings(), "keep")[0]
    outside = _outside(mask.mask)
    assert out.dtype == np.uint16 and out8[outside].min() < 225  # darkened, and the same in both depths:
    assert np.abs((out[outside] / 257.0) - out8[outside]).max() <= 1.5
    framed, framed_mask = frame_photo(Photo(pixels=scene.image), mask, "square-1000")
    shade, note = keep_shadow(framed, framed_mask)
    assert note is None and shade.matte.shape == framed_mask.mask.shape
    if framed.alpha is not None:  # padding is not photo: no shadow invented there
        assert (shade.matte[framed.alpha < 0.01] == 1.0).all()


def test_make_shadow_validates_its_inputs():
    assert make_shadow(None) is None and make_shadow("none") is None
    assert make_shadow("contact").kind == "contact"
    with pytest.raises(ValueError, match="keep"):
        make_shadow("keep")


def test_batch_with_shadow_keep_notes_the_lifestyle_photo(tmp_path, capsys):
    from packshot.core.cli.main import main as packshot

    src = tmp_path / "in"
    src.mkdir()
    scene = St.shot("mug of brick on beige")
    Image.fromarray(scene.image).save(src / "mug.jpg", quality=95)
    Image.fromarray(St.lifestyle_photo("astronaut")).save(src / "astronaut.jpg", quality=95)
    out = tmp_path / "out"
    assert packshot(["batch", str(src), "--out", str(out), "--shadow", "keep", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "astronaut.jpg: --shadow keep: no shadow kept: no studio backdrop" in text
    assert "mug.jpg: --shadow keep" not in text
    result = np.asarray(Image.open(out / "mug.png").convert("RGB"))
    outside = _outside(scene.mask, 4)
    est = srgb8_to_linear(result).mean(-1)[outside]  # on white, the output's own darkening
    assert np.corrcoef(est, scene.matte[outside])[0, 1] >= 0.85
    # the recipe says "keep" and replay makes the same image again (same photo, same stored mask)
    from packshot.core.jobs.replay import replay
    from packshot.core.recipe import read_recipe
    from packshot.core.runtime import Runtime

    assert read_recipe(out / "mug.png").shadow == {"kind": "keep"}
    assert np.array_equal(replay(out / "mug.png", runtime=Runtime()), result)  # the CLI's models folder


def test_kept_shadow_never_touches_solid_product_pixels_on_the_corpus():
    """On studio corpus shots with their shadows (the classic mask, as a user without weights gets it):
    the kept matte is 1 wherever the mask is solid, and there the output is the photo, bit for bit."""
    from packshot.core.generation.composite import composite
    from tests import studio_corpus as C

    classes = ("hard-cast-shadow", "contact-shadow", "tone-on-tone", "white-on-white", "plain")
    masker = build_masker("classic")
    kept = 0
    for scene in C.iter_corpus(10, seed=3, size=480, classes=classes):
        photo = Photo(pixels=scene.image)
        mask = masker.compute(photo)
        shadow, _ = keep_shadow(photo, mask)
        if not isinstance(shadow, KeptShadow):
            continue
        kept += 1
        solid = mask.alpha >= 1.0
        assert (shadow.matte[solid] == 1.0).all(), scene.name
        green = np.zeros_like(scene.image)
        green[..., 1] = 200
        out = composite(photo, mask.alpha, green, shadow)
        assert np.array_equal(out[solid], scene.image[solid]), scene.name
    assert kept >= 5, "the corpus shots must keep their shadow to test against"
