"""The mask gate on development-seed corpus scenes (tests/studio_corpus.py, seeds 5 and 7; not the
test seed 11 or the confirmation seed 0), session 6's cues:

- a hard cast shadow kept at the product's base (the true mask plus the scene's own shadow) is
  flagged and named, beside a coloured product; the true masks of the same scenes pass (before
  this cue the gate passed 7 of these 8 kept shadows);
- a glass product's true mask passes: its body has the backdrop's colour, but its outline is seen
  all round, so "the mask cannot be checked" is not said (before: all 5 flagged);
- a barely visible stretch of outline is not flagged when a one-pixel slip along it would move
  under 0.5 % of the product (a vase whose outline is barely visible along 8 % of its length);
- a glossy floor's reflection (the product's edges flipped under its base, fainter) is not taken
  for a part of the product left outside the mask (before: all 4 true masks flagged);
- a mask two pixels too wide all round (a rim of backdrop kept) on thin products is flagged: the
  outline cue at 800 px (core/quality/evidence_rim.py) sees the photo's outline inside it.
The score is 1.0, so only the photo's evidence can flag a mask.
"""

from __future__ import annotations

import numpy as np
import pytest

from packshot.core.masking.result import MaskResult
from packshot.core.quality.mask_evidence import mask_evidence
from packshot.core.quality.mask_gate import mask_doubt
from tests import studio_corpus as Sc

SIZE = (800, 600)
SHADOW_SCENES = (5000040, 5000100, 5000170, 7000026)  # hard-cast-shadow, coloured products
GLASS_SCENES = (5000034, 5000214, 5000274, 7000120, 7000260)  # transparent


def _doubt(scene, mask: np.ndarray):
    return mask_doubt(MaskResult(mask, mask.astype(np.float32), 1.0, "classic"), 0.5, image=scene.image)


@pytest.fixture(scope="module")
def shadow_scenes():
    return [Sc.make_scene(seed, "hard-cast-shadow", SIZE) for seed in SHADOW_SCENES]


@pytest.mark.parametrize("darkness", [0.6, 0.8])
def test_a_kept_cast_shadow_at_the_base_is_flagged(shadow_scenes, darkness):
    for scene in shadow_scenes:
        kept = scene.mask | (scene.matte < darkness)  # the shadow where it keeps < 60 % (80 %) of the light
        assert (kept & ~scene.mask).sum() > 0.05 * scene.mask.sum(), scene.name
        doubt = _doubt(scene, kept)
        assert doubt is not None and "shadow is kept as product" in doubt, (scene.name, doubt)


def test_the_true_masks_of_the_shadow_scenes_pass(shadow_scenes):
    for scene in shadow_scenes:
        assert _doubt(scene, scene.mask) is None, scene.name


@pytest.mark.parametrize("seed", GLASS_SCENES)
def test_a_glass_with_its_outline_seen_all_round_passes(seed):
    scene = Sc.make_scene(seed, "transparent", SIZE)
    evidence = mask_evidence(scene.image, scene.mask)
    assert sum(evidence.numbers.get(f"{kind}_inside", 0) for kind in ("shadow", "backdrop", "mirrored")) > 0.2, \
        "the glass's body has the backdrop's colour (the case this test is about)"
    assert _doubt(scene, scene.mask) is None, scene.name


def test_a_glass_cut_in_half_is_still_flagged():
    scene = Sc.make_scene(5000214, "transparent", SIZE)
    ys = np.nonzero(scene.mask)[0]
    half = scene.mask.copy()
    half[: (ys.min() + ys.max()) // 2] = False  # the top half of the glass left out
    assert _doubt(scene, half) is not None


def test_a_short_barely_visible_stretch_on_a_big_product_passes():
    scene = Sc.make_scene(5000037, "white-on-white", SIZE)  # a vase on white paper
    evidence = mask_evidence(scene.image, scene.mask)
    assert evidence.numbers["outline_low_separation"] > 0.08, "over the share that used to be flagged"
    assert evidence.numbers["outline_low_separation_at_risk"] < 0.005
    assert _doubt(scene, scene.mask) is None


GLOSSY_SCENES = (5000082, 7000078, 13000186, 13000236)


@pytest.mark.parametrize("seed", GLOSSY_SCENES)
def test_a_glossy_floors_reflection_is_not_a_missing_part(seed):
    """The true mask passes (the faint mirror image under the base is the floor's, not product);
    the same mask with the bottom 15 % of the product cut off is still flagged."""
    scene = Sc.make_scene(seed, "glossy-floor", SIZE)
    assert _doubt(scene, scene.mask) is None, scene.name
    ys = np.nonzero(scene.mask)[0]
    cut = scene.mask.copy()
    cut[ys.max() - int(0.15 * (ys.max() - ys.min())):] = False
    assert _doubt(scene, cut) is not None, scene.name


@pytest.mark.parametrize("seed, cls", [(5000175, "plain"), (5000053, "thin-parts-holes")])
def test_a_rim_of_backdrop_two_pixels_wide_is_flagged(seed, cls):
    """A tube and a stool whose mask goes on two pixels past the outline all round (IoU 0.93 and
    0.86; the 400 px cues see one pixel): flagged, with the reason; the true masks pass."""
    import cv2

    scene = Sc.make_scene(seed, cls, SIZE)
    grown = cv2.dilate(scene.mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert scene.mask.sum() / grown.sum() < 0.95
    doubt = _doubt(scene, grown)
    assert doubt is not None and "beside the product's outline" in doubt, doubt
    assert _doubt(scene, scene.mask) is None
