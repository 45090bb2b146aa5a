"""Studio shots (seamless backdrops, soft contact and cast shadows, JPEG): the mask is the product only.

Every scene is built in linear light from real scikit-image photos and textures cut into product
shapes (tests/studio_scenes.py), so the true mask and the true shadow are known.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from packshot.core.images import Photo
from packshot.core.masking import build_masker
from packshot.core.masking.backdrop import backdrop_regions, estimate_backdrop, shadow_likelihood
from packshot.core.masking.maskers import studio_shadow
from packshot.core.masking.prior_classic import ClassicPrior
from packshot.core.masking.prompts import prompts_at_work_size, prompts_from_prior
from tests import studio_scenes as St


@pytest.fixture(scope="module")
def classic():
    return build_masker("classic")


@pytest.fixture(scope="module")
def scenes():
    return {name: St.shot(name) for name in St.SHOTS}


def _shadow_zone(scene: St.StudioScene, below: float = 0.85, gap: int = 4) -> np.ndarray:
    """Where the true shadow is clearly visible, a few px away from the product."""
    near = cv2.dilate(scene.mask.astype(np.uint8), np.ones((2 * gap + 1, 2 * gap + 1), np.uint8)).astype(bool)
    return (scene.matte < below) & ~near


@pytest.mark.parametrize("name", list(St.SHOTS))
def test_studio_mask_is_the_product_only(classic, scenes, name):
    scene = scenes[name]
    result = classic.compute(Photo(pixels=scene.image))
    assert result.details["cue"] == "backdrop"
    assert St.iou(result.mask, scene.mask) >= 0.95
    shadow = _shadow_zone(scene)
    assert shadow.sum() > 200, "the scene must have a visible shadow to test against"
    assert (result.mask & shadow).sum() <= 0.01 * shadow.sum(), "the old shadow is in the mask"
    assert result.score > 0.6


def test_the_old_prior_did_swallow_the_shadow(scenes):
    # the failure this fixes, measured on the same scene: the colour path keeps the contact shadow
    from packshot.core.masking.maskers import PriorMasker

    scene = scenes["mug of brick on beige"]
    old = PriorMasker(ClassicPrior(use_backdrop=False)).compute(Photo(pixels=scene.image))
    assert St.iou(old.mask, scene.mask) < 0.9


def test_gaps_between_legs_and_inside_a_handle_are_background(classic, scenes):
    stool = scenes["stool of grass on grey"]
    mask = classic.compute(Photo(pixels=stool.image)).mask
    ys, xs = np.nonzero(stool.mask)
    hull = cv2.fillPoly(np.zeros(stool.mask.shape, np.uint8), [cv2.convexHull(np.stack([xs, ys], 1))], 1) > 0
    gaps = hull & ~cv2.dilate(stool.mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert gaps.sum() > 1000 and (mask & gaps).sum() <= 0.01 * gaps.sum()
    mug = scenes["mug of coffee on white, strong vignette"]
    mask = classic.compute(Photo(pixels=mug.image)).mask
    hole = St.shape_mask("mug", *mug.mask.shape)  # the handle's hole: enclosed by product, yet backdrop
    hole_small = cv2.resize(hole, mug.mask.shape[::-1], interpolation=cv2.INTER_AREA)
    from scipy.ndimage import binary_fill_holes

    pocket = binary_fill_holes(hole_small > 0) & ~cv2.dilate(hole_small, np.ones((5, 5), np.uint8)).astype(bool)
    assert pocket.sum() > 300 and (mask & pocket).sum() <= 0.02 * pocket.sum()


def test_full_size_jpeg_studio_shot(classic):
    scene = St.shot("stool of brick on blue, cast only", h=1500, w=2000, seed=4)
    result = classic.compute(Photo(pixels=scene.image))
    assert result.mask.shape == (1500, 2000)
    assert St.iou(result.mask, scene.mask) >= 0.95


@pytest.mark.parametrize("name", list(St.SHOTS))
def test_backdrop_colour_and_shadow_likelihood(scenes, name):
    scene = scenes[name]
    backdrop = estimate_backdrop(scene.image)
    assert backdrop.is_studio, backdrop.reason
    assert backdrop.colour.shape == scene.image.shape and backdrop.colour.dtype == np.float32
    clean = (scene.matte > 0.995) & ~cv2.dilate(scene.mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    rel = np.abs(backdrop.colour - scene.backdrop).sum(-1) / scene.backdrop.sum(-1)
    assert np.median(rel[clean]) < 0.02 and np.percentile(rel, 95) < 0.06, "clean backdrop colour off"
    like = shadow_likelihood(scene.image, backdrop)
    assert np.median(like[_shadow_zone(scene, 0.8)]) > 0.8
    assert np.percentile(like[clean], 95) < 0.2
    assert np.median(like[scene.mask]) < 0.2


@pytest.mark.parametrize("photo", ["astronaut", "coffee", "chelsea"])
def test_a_lifestyle_photo_is_not_a_studio_shot(photo):
    image = St.lifestyle_photo(photo)
    backdrop = estimate_backdrop(image)
    assert not backdrop.is_studio
    assert "no studio backdrop" in backdrop.reason
    assert not shadow_likelihood(image, backdrop).any()
    assert studio_shadow(image) == (None, None)


def test_a_textured_surface_is_not_a_studio_backdrop():
    from tests.core.masking import scenes as S

    for texture in ("brick", "grass", "gravel"):
        image, _ = S.product_on_texture(texture)
        assert not estimate_backdrop(image).is_studio, texture


def test_grey_product_on_white_is_not_mistaken_for_shadow():
    # neutral and darker than the paper, like a shadow, but its outline is sharp: the flood stops there
    scene = St.studio_shot("bottle", "grass", "white", tint=(1.1, 1.1, 1.12))
    backdrop = estimate_backdrop(scene.image)
    regions = backdrop_regions(scene.image, backdrop)
    assert np.median(shadow_likelihood(scene.image, backdrop)[scene.mask]) > 0.5  # colour alone can't tell
    assert (regions.outside & scene.mask).sum() <= 0.02 * scene.mask.sum()
    assert St.iou(build_masker("classic").compute(Photo(pixels=scene.image)).mask, scene.mask) >= 0.95


def test_sam_prompts_are_not_seeded_from_shadow(scenes):
    scene = scenes["bottle of astronaut on beige gradient"]
    shadow, note = studio_shadow(scene.image)
    assert shadow is not None and "seamless backdrop" in note
    true_shadow = _shadow_zone(scene, 0.9, gap=2)
    # a prior that swallowed the shadow (the colour-only prior did) still gives prompts on the product
    swallowed = scene.mask | true_shadow
    prompts = prompts_at_work_size(swallowed, 3, shadow=shadow)
    positive = prompts.points[prompts.labels == 1].round().astype(int)
    assert len(positive) == 3
    for x, y in positive:
        assert scene.mask[y, x], f"prompt ({x}, {y}) is not on the product"
    x0, y0, x1, y1 = prompts.box
    ys, xs = np.nonzero(scene.mask)
    assert y1 <= ys.max() + 0.05 * (ys.max() - ys.min()), "the box reaches down into the shadow"
    assert x0 >= xs.min() - 0.05 * (xs.max() - xs.min())
    for x, y in prompts.points[prompts.labels == 0].round().astype(int):
        assert true_shadow[y, x] or not scene.mask[y, x]
    # without the shadow map the same prior seeds the box from the shadow (the bug)
    old = prompts_from_prior(swallowed, 3)
    assert old.box[3] > y1 + 5 or old.box[0] < x0 - 5


def test_sam_masker_records_backdrop_and_prompts_avoid_shadow(tiny_sam, scenes):
    from packshot.core.masking.maskers import SamMasker

    scene = scenes["mug of brick on beige"]
    masker = SamMasker(tiny_sam, ClassicPrior(use_backdrop=False))  # a prior that swallows the shadow
    result = masker.compute(Photo(pixels=scene.image))
    assert "seamless backdrop" in result.details["backdrop"]
    shadow = _shadow_zone(scene, 0.9, gap=2)
    pts = np.asarray(result.details["prompts"]["points"]).round().astype(int)
    labels = np.asarray(result.details["prompts"]["labels"])
    for (x, y), label in zip(pts, labels):
        if label == 1:
            assert not shadow[y, x], "a positive prompt was seeded on the shadow"


class _ShadowBlindPrior(ClassicPrior):
    """The colour-only classic prior under another name: a prior that keeps the shadow (as learned
    salient-object models often do), to show the masker takes the shadow out whatever the prior."""

    name = "shadow-blind"

    def __init__(self) -> None:
        super().__init__(use_backdrop=False)


def test_any_prior_loses_the_backdrop_shadow(scenes):
    from packshot.core.masking.maskers import PriorMasker

    scene = scenes["bottle of coffee on white"]
    blind = _ShadowBlindPrior()
    raw = blind(scene.image)
    assert (raw.mask & _shadow_zone(scene)).sum() > 0.2 * _shadow_zone(scene).sum()  # it does keep the shadow
    result = PriorMasker(blind).compute(Photo(pixels=scene.image))
    assert result.details["shadow_removed"] and "seamless backdrop" in result.details["backdrop"]
    assert (result.mask & _shadow_zone(scene)).sum() <= 0.01 * _shadow_zone(scene).sum()
    assert St.iou(result.mask, scene.mask) > St.iou(raw.mask, scene.mask) + 0.1


def test_a_noisy_jpeg_is_still_a_studio_shot(classic):
    # sensor noise of 5 levels (a phone at high ISO) must not hide the backdrop from the mask
    scene = St.studio_shot("bottle", "coffee", "grey", noise=0.02, quality=75, seed=2)
    assert estimate_backdrop(scene.image).is_studio
    result = classic.compute(Photo(pixels=scene.image))
    assert result.details["cue"] == "backdrop" and St.iou(result.mask, scene.mask) >= 0.95


def test_a_floor_reflection_stays_out_of_the_mask(classic):
    scene = St.studio_shot("box", "coffee", "white", contact=0.3, cast=0.0, reflection=0.3)
    ys = np.nonzero(scene.mask)[0]
    below = np.zeros_like(scene.mask)
    below[ys.max() + 3: ys.max() + (ys.max() - ys.min()) // 5] = True
    matt = St.studio_shot("box", "coffee", "white", contact=0.3, cast=0.0)  # the same floor, not glossy
    below &= np.abs(scene.image.astype(int) - matt.image.astype(int)).sum(-1) > 30  # the reflection shows
    assert below.sum() > 500, "the reflection must be visible to test against"
    result = classic.compute(Photo(pixels=scene.image))
    assert St.iou(result.mask, scene.mask) >= 0.95
    assert (result.mask & below).sum() <= 0.02 * below.sum()
