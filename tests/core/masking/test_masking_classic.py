"""The classic (no-weights) masker on synthetic products and real photos with known masks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from packshot.core.errors import ModelMissingError
from packshot.core.images import Photo, load_photo
from packshot.core.masking import build_masker
from packshot.core.runtime import Runtime
from tests.core.masking import scenes as S


@pytest.fixture(scope="module")
def classic():
    return build_masker("classic")


def _textured(name: str, colour: tuple[int, int, int]):
    return lambda: S.product_on_texture(name, colour=colour)


def _low_chroma():
    rng = np.random.default_rng(3)
    mask = S.bottle_mask(360, 480)
    bg = S.with_shadow(S.plain_background(360, 480, rng, level=245), mask)
    return S.compose(bg, S.shade(mask, (150, 150, 155), rng), mask), mask


# Thresholds sit a few points under what the masker measured. On the studio sweeps (0.99-1.00)
# the backdrop model keeps the contact shadow out; they were 0.91-0.95 with colour alone, the
# misses being that shadow. Textured surfaces are no studio backdrop and take the colour path
# (0.94-0.96).
SCENES = {
    "bottle on studio sweep": (lambda: S.product_on_plain(), 0.96),
    "mug with handle": (lambda: S.product_on_plain(shape="mug"), 0.96),
    "grey bottle on white": (_low_chroma, 0.96),
    # its colours pollute the border model, so it is found but trusted less
    "bottle cut by the frame": (lambda: S.product_cut_by_frame(), 0.95, 0.45),
    "product filling the frame": (lambda: S.large_product(), 0.96),
    "bottle on brick (real texture)": (_textured("brick", (200, 40, 40)), 0.88),
    "bottle on gravel (real texture)": (_textured("gravel", (40, 140, 60)), 0.88),
    "bottle on grass (real texture)": (_textured("grass", (230, 200, 40)), 0.90),
    "logo cut-out on sweep": (lambda: S.logo_on(S.plain_background(600, 700, np.random.default_rng(1))), 0.97),
    "logo cut-out on gravel": (lambda: S.logo_on(S.texture_background("gravel", 600, 700, (0.8, 0.75, 0.7))), 0.97),
}


@pytest.mark.parametrize("name", list(SCENES))
def test_classic_mask_matches_known_product(classic, name):
    make, threshold, *min_score = SCENES[name]
    image, truth = make()
    result = classic.compute(Photo(pixels=image))
    assert result.source == "classic"
    assert result.mask.shape == truth.shape and result.alpha.shape == truth.shape
    assert S.iou(result.mask, truth) >= threshold
    assert result.details["cue"] == ("colour" if "texture" in name or "gravel" in name else "backdrop")
    assert result.score > (min_score[0] if min_score else 0.8), "a clean separation should be trusted"


def test_classic_mask_on_real_coffee_photo(classic):
    # A hard case: the saucer has the table's colours. Colour finds the cup; the barrier cue's
    # top level adds little; growing over the lower barrier level that encloses cup and saucer
    # (GrabCut kept near that seed) gives the whole product: cup, coffee, spoon and saucer
    # (IoU 0.98 against the reference when written; 0.73 before growth). Its colours still match
    # the table's, so the score stays middling and the photo is reviewed before clean ones.
    image, reference = S.coffee_reference()
    result = classic.compute(Photo(pixels=image))
    inside = (result.mask & reference).sum() / max(1, result.mask.sum())
    covered = (result.mask & reference).sum() / reference.sum()
    assert inside >= 0.97 and covered >= 0.95
    assert S.iou(result.mask, reference) >= 0.93
    assert result.details["cue"] == "colour+barrier-grown"
    assert 0.3 < result.score < 0.75
    for x, y in [(290, 150), (110, 230), (400, 330), (365, 290)]:  # coffee, saucer left/right, spoon
        assert result.mask[y, x], f"product pixel ({x}, {y}) lost"
    for x, y in [(30, 380), (570, 200), (40, 40), (520, 60)]:  # wood table all round
        assert not result.mask[y, x], f"table pixel ({x}, {y}) kept"


def test_classic_mask_on_disc_touching_the_frame(classic):
    # the retina photo's disc reaches the frame on every side: growth must not eat into it, and
    # what touches the frame must stay product (IoU 0.99 when written)
    image, reference = S.retina_reference()
    result = classic.compute(Photo(pixels=image))
    assert S.iou(result.mask, reference) >= 0.97


def test_barrier_cue_sees_a_product_coloured_like_its_background():
    from packshot.core.masking.barrier import barrier_saliency

    rng = np.random.default_rng(0)
    lab = np.full((120, 160, 3), 128, np.float32) + rng.normal(0, 1.5, (120, 160, 3)).astype(np.float32)
    yy, xx = np.mgrid[0:120, 0:160]
    ring = np.abs(np.hypot(yy - 60, xx - 80) - 35) < 2.5
    lab[ring, 0] = 40  # only a dark rim tells the object from the backdrop
    sal = barrier_saliency(lab)
    inside = np.hypot(yy - 60, xx - 80) < 30
    outside = np.hypot(yy - 60, xx - 80) > 42
    assert np.median(sal[inside]) > 1.0 > np.percentile(sal[outside], 95)


def test_score_is_zero_when_nothing_stands_out(classic):
    noise = np.random.default_rng(0).integers(0, 255, (200, 260, 3), dtype=np.uint8)
    flat = np.full((200, 260, 3), 128, np.uint8)
    for image in (noise, flat):
        result = classic.compute(Photo(pixels=image))
        assert result.score < 0.2 and result.mask.shape == (200, 260)


@pytest.mark.parametrize("size", [(517, 361), (1603, 1201), (97, 131)])
def test_any_size_comes_back_full_resolution_and_aligned(classic, size):
    w, h = size
    image, truth = S.product_on_plain(h, w)
    result = classic.compute(Photo(pixels=image))
    assert result.mask.shape == (h, w)
    assert S.iou(result.mask, truth) >= 0.85
    ys, xs = np.nonzero(result.mask & truth)
    ty, tx = np.nonzero(truth)
    assert abs(xs.mean() - tx.mean()) < 0.01 * w + 1, "no horizontal shift"


def test_exif_rotated_photo_gets_an_upright_aligned_mask(classic, tmp_path):
    upright, truth = S.product_on_plain(300, 420)
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # what the camera wrote (portrait sensor)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif)
    photo = load_photo(path)
    assert photo.pixels.shape[:2] == (300, 420)
    result = classic.compute(photo)
    assert result.mask.shape == (300, 420)
    assert S.iou(result.mask, truth) >= 0.88


def test_16bit_photo_is_masked_from_its_8bit_view(classic):
    image, truth = S.product_on_plain(240, 320)
    photo = Photo(pixels=image.astype(np.uint16) * 257)
    assert S.iou(classic.compute(photo).mask, truth) >= 0.88


def test_auto_without_sam_weights_uses_classic_and_says_so(tmp_path):
    runtime = Runtime(tmp_path / "no-models", offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)
    masker = build_masker("auto", runtime)
    assert masker.name == "classic"
    image, _ = S.product_on_plain(120, 160)
    result = masker.compute(Photo(pixels=image))
    assert result.source == "classic"
    assert "sam-vit_b" in result.details["fallback"] and "classic" in result.details["fallback"]
    with pytest.raises(ModelMissingError, match="sam-vit_b"):
        build_masker("sam", runtime)


def test_unknown_kind_or_prior_is_a_clear_error():
    with pytest.raises(ValueError, match="kind"):
        build_masker("magic")
    with pytest.raises(ValueError, match="prior"):
        build_masker("classic", prior="u2net")
