"""The mask gate's own evidence (core/quality/mask_evidence.py): the photo, not the masker's confidence.

Each test hands the gate a wrong mask of a known kind on a studio shot whose true mask is known
(tests/studio_scenes.py, tests/studio_corpus.py), with a score of 1.0 so that only the evidence can
flag it, and checks the reason names what is wrong; true masks pass.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from packshot.core.masking.result import MaskResult
from packshot.core.quality.mask_evidence import mask_evidence
from packshot.core.quality.mask_gate import mask_doubt
from tests import studio_scenes as St


def _result(mask: np.ndarray, source: str = "classic", **details) -> MaskResult:
    return MaskResult(mask, mask.astype(np.float32), 1.0, source, details)


@pytest.fixture(scope="module")
def scenes():
    return {name: St.shot(name) for name in St.SHOTS}


@pytest.mark.parametrize("name", list(St.SHOTS))
def test_true_masks_pass(scenes, name):
    scene = scenes[name]
    evidence = mask_evidence(scene.image, scene.mask)
    assert evidence.findings == [], evidence.findings
    assert mask_doubt(_result(scene.mask), 0.5, image=scene.image) is None


def test_a_kept_shadow_is_named(scenes):
    scene = scenes["bottle of coffee on white"]
    shadow = (scene.matte < 0.8) & ~scene.mask
    assert shadow.sum() > 0.1 * scene.mask.sum()
    doubt = mask_doubt(_result(scene.mask | shadow), 0.5, image=scene.image)
    assert doubt and "shadow is kept as product" in doubt


def test_a_corner_of_the_backdrop_is_named():
    scene = St.studio_shot("box", "coffee", "white", vignette=0.3, contact=0.3, cast=0.0)
    h, w = scene.mask.shape
    wedge = np.zeros_like(scene.mask)
    cv2.fillPoly(wedge.view(np.uint8), [np.array([[0, h - 1], [0, h // 2], [w // 3, h - 1]])], 1)
    ys, xs = np.nonzero(scene.mask)
    bridge = np.zeros_like(wedge)  # joined to the product along the floor, as a flood leaves it
    bridge[ys.max() - 10: ys.max(), w // 6: xs.min() + 5] = True
    doubt = mask_doubt(_result(scene.mask | wedge | bridge), 0.5, image=scene.image)
    assert doubt and ("corner of the backdrop" in doubt or "backdrop kept" in doubt), doubt


def test_a_cut_product_is_named(scenes):
    scene = scenes["box of chelsea on blue"]
    ys, xs = np.nonzero(scene.mask)
    cut = scene.mask.copy()
    cut[:, (xs.min() + xs.max()) // 2:] = False  # the right half painted over
    doubt = mask_doubt(_result(cut), 0.5, image=scene.image)
    # a textured product's cut has edges of its own; then the painted-over half's outline tells
    assert doubt and "on the right" in doubt, doubt
    assert "does not follow the product's outline" in doubt or "part of the product may be missing" in doubt
    smooth = St.studio_shot("box", "grass", "white", tint=(0.2, 0.3, 0.8))  # a plain blue box
    cut = smooth.mask.copy()
    ys, xs = np.nonzero(cut)
    cut[:, (xs.min() + xs.max()) // 2:] = False
    doubt = mask_doubt(_result(cut), 0.5, image=smooth.image)
    assert doubt and "on the right" in doubt, doubt


def test_an_empty_mask_and_a_stray_patch_are_named(scenes):
    scene = scenes["mug of brick on beige"]
    assert "no product was found" in mask_doubt(_result(np.zeros_like(scene.mask)), 0.5, image=scene.image)
    patch = scene.mask.copy()
    patch[:40, :60] = True  # a corner of the frame, not joined to the product
    doubt = mask_doubt(_result(patch), 0.5, image=scene.image)
    assert doubt and ("edge of the frame" in doubt or "corner of the backdrop" in doubt), doubt


def test_the_shadow_step_taking_much_is_named(scenes):
    scene = scenes["mug of brick on beige"]
    doubt = mask_doubt(_result(scene.mask, shadow_removed_fraction=0.3), 0.5, image=scene.image)
    assert doubt and "the shadow step took 30% of the mask" in doubt


def test_maskers_store_their_evidence_and_the_gate_uses_it(scenes):
    from packshot.core.images import Photo
    from packshot.core.masking import build_masker

    scene = scenes["box of chelsea on blue"]
    result = build_masker("classic").compute(Photo(pixels=scene.image))
    assert result.details["evidence"]["findings"] == []
    assert "outline_off_edges" in result.details["evidence"]
    # stored findings are reported without the photo (the job passes only the result)
    result.details["evidence"]["findings"] = ["a corner of the backdrop is kept as product (bottom left)"]
    assert mask_doubt(result, 0.5) == "a corner of the backdrop is kept as product (bottom left)"


def test_files_and_edits_are_not_judged_by_the_photo(scenes):
    scene = scenes["mug of brick on beige"]
    empty = np.zeros_like(scene.mask)
    for source in ("file", "edited", "alpha-channel"):
        assert mask_doubt(_result(empty, source), 0.5, image=scene.image) is None


def test_evidence_is_cheap_at_full_size():
    # the evidence runs on a 400 px copy: a 2000 x 1500 photo costs about what a small one does
    scene = St.shot("stool of brick on blue, cast only", h=1500, w=2000, seed=4)
    evidence = mask_evidence(scene.image, scene.mask)
    assert evidence.findings == [] and evidence.numbers["coverage"] > 0.05


def test_a_product_the_colour_of_its_backdrop_is_named_as_such():
    # a white ball on white paper: even its true mask cannot be checked against the photo, and the
    # gate says that, not that a shadow or a corner was kept
    from tests import studio_corpus as C

    scene = C.make_scene(12, "white-on-white", (800, 600))
    doubt = mask_doubt(_result(scene.mask), 0.5, image=scene.image)
    assert doubt and "has the backdrop's colour" in doubt, doubt


def _box_on_paper(product: tuple[int, int, int], paper=(228, 226, 222), seed: int = 3):
    """A plain box on plain paper with sensor noise and JPEG, and its true mask."""
    import io

    from PIL import Image

    rng = np.random.default_rng(seed)
    img = np.empty((360, 480, 3), np.float32)
    img[:] = paper
    mask = np.zeros((360, 480), bool)
    mask[90:290, 150:330] = True
    img[mask] = product
    img += rng.normal(0, 1.5, img.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=85)
    return np.asarray(Image.open(buf).convert("RGB")), mask


def test_an_outline_barely_different_from_the_backdrop_is_named():
    from packshot.core.quality.mask_evidence import LOW_SEPARATION_SHARE

    # a white box on white paper, about 2 ΔE apart: a pixel of outline lost or gained there is
    # invisible to every other cue, so the outline cannot be vouched for
    image, mask = _box_on_paper((231, 230, 227))
    evidence = mask_evidence(image, mask)
    assert evidence.numbers["outline_low_separation"] > 0.5
    doubt = mask_doubt(_result(mask), 0.5, image=image)
    assert doubt and ("ΔE" in doubt or "backdrop's colour" in doubt), doubt
    # the same box in a colour the eye tells apart: its outline is trusted
    image, mask = _box_on_paper((150, 110, 80))
    evidence = mask_evidence(image, mask)
    assert evidence.numbers["outline_low_separation"] <= LOW_SEPARATION_SHARE
    assert mask_doubt(_result(mask), 0.5, image=image) is None


def test_a_dark_patch_enclosed_by_the_product_is_not_named_a_kept_shadow():
    # what a glass shows of the backdrop behind it: uniform, darker, but product all round it; a
    # kept shadow reaches the mask's outline
    image, mask = _box_on_paper((150, 110, 80))
    image = image.copy()
    image[150:230, 210:270] = (np.array((228, 226, 222)) * 0.6).astype(np.uint8)
    doubt = mask_doubt(_result(mask), 0.5, image=image)
    assert doubt is None or "shadow is kept" not in doubt, doubt
    image, mask = _box_on_paper((150, 110, 80))  # a shadow beside the box, kept: it reaches the outline
    image = image.copy()
    image[200:290, 330:380] = (np.array((228, 226, 222)) * 0.6).astype(np.uint8)
    mask[200:290, 330:380] = True
    doubt = mask_doubt(_result(mask), 0.5, image=image)
    assert doubt and "shadow is kept as product" in doubt, doubt


def test_the_gate_judges_the_mask_the_batch_stores():
    """The masker's binary mask and its soft alpha (the guided edge) differ by a pixel here and there;
    the batch keeps alpha >= 0.5 (the 8-bit PNG), so that is the mask the evidence must be about."""
    from packshot.core.images import Photo
    from packshot.core.jobs.masks import quantize_mask
    from packshot.core.masking.maskers import build_masker
    from tests import studio_corpus as Sc

    scene = Sc.make_scene(11_000_091, "thin-parts-holes", (800, 600))
    result = build_masker("classic").compute(Photo(pixels=scene.image))
    stored = quantize_mask(result).mask
    assert (stored != result.mask).any()  # the case this is about: the two masks differ
    details = {k: v for k, v in result.details.items() if k != "evidence"}
    # the classic masker's second reading (core/quality/evidence_scale.py), as it stores it
    from packshot.core.masking.maskers import prior_to_full_mask, reading_before_shape_steps
    from packshot.core.masking.prior_classic import ClassicPrior
    from packshot.core.masking.result import stored_mask
    from packshot.core.quality.evidence_scale import second_work_side

    second = stored_mask(prior_to_full_mask(ClassicPrior(work_side=second_work_side(400))(scene.image),
                                            scene.image)[1])
    # the second reading skips the symmetry step, so it is compared with the mask before that step
    first = reading_before_shape_steps(ClassicPrior()(scene.image), scene.image)
    assert result.details["evidence"] == mask_evidence(scene.image, stored, details, second_reading=second,
                                                       first_reading=first).to_json()
