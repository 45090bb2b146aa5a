"""The studio corpus generator itself: its answers agree with its images, it is seeded, every class
comes out with the difficulty it names, and the shots obey the physics they claim."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests import studio_corpus as Sc
from tests.core.masking import corpus_scoring as Cs

SIZE = (480, 360)
PER_CLASS = 3


@pytest.fixture(scope="module")
def scenes() -> list[Sc.Scene]:
    return Sc.corpus(PER_CLASS * len(Sc.CLASSES), seed=5, size=SIZE)


def of(scenes: list[Sc.Scene], cls: str) -> list[Sc.Scene]:
    return [s for s in scenes if s.cls == cls]


def base_row(scene: Sc.Scene) -> int:
    return int(np.nonzero(scene.mask)[0].max())


def test_every_class_comes_out_evenly(scenes):
    assert [s.cls for s in scenes] == list(Sc.CLASSES) * PER_CLASS
    assert len({s.seed for s in scenes}) == len(scenes)


def test_same_seed_same_scene_other_seed_other_scene():
    a, b, c = Sc.make_scene(11, "tone-on-tone", SIZE), Sc.make_scene(11, "tone-on-tone", SIZE), \
        Sc.make_scene(12, "tone-on-tone", SIZE)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask) and a.params == b.params
    assert not np.array_equal(a.image, c.image)
    assert Sc.make_scene(4).cls == Sc.CLASSES[4]  # no class given: the seed picks it


def test_sizes_and_unknown_class():
    assert Sc.make_scene(1, "plain", (640, 480)).image.shape == (480, 640, 3)
    assert max(Sc.make_scene(2, "plain", 900).image.shape[:2]) == 900  # a long side, random aspect
    with pytest.raises(ValueError, match="unknown scene class 'glass'"):
        Sc.make_scene(1, "glass")


def test_answers_are_consistent(scenes):
    for s in scenes:
        h, w = s.image.shape[:2]
        assert s.image.dtype == np.uint8 and s.mask.shape == s.alpha.shape == s.matte.shape == (h, w)
        assert 0.03 < s.mask.mean() < 0.6, s.name
        assert s.alpha.min() >= 0 and s.alpha.max() <= 1 and 0 < s.matte.min() and s.matte.max() <= 1
        assert not s.mask[0].any() and not s.mask[-1].any() and not s.mask[:, 0].any() and not s.mask[:, -1].any()
        if s.cls == "transparent":  # glass: the mask is the silhouette, the alpha below it
            assert (s.alpha >= 0.5)[~s.mask].sum() == 0
            assert s.alpha[s.mask].mean() < 0.9, s.name
        else:
            assert np.array_equal(s.alpha >= 0.5, s.mask), s.name
        assert 60 <= s.params["quality"] <= 95 and 0.002 <= s.params["noise"] <= 0.015


def test_backdrop_times_matte_is_the_image_outside_the_product(scenes):
    """Shadows multiply the backdrop only: off the product (and off a glossy floor's reflection) the
    photo is the clean backdrop times the matte, up to noise and JPEG."""
    for s in scenes:
        outside = s.alpha == 0
        if s.cls == "glossy-floor":
            outside[base_row(s) + 1:] = False
        rebuilt = Sc.linear_to_srgb(s.backdrop * s.matte[:, :, None]) * 255.0
        err = np.abs(rebuilt - s.image)[outside]
        assert np.median(err) < 2.5 and np.percentile(err, 99) < 12, s.name


def test_scored_against_itself_the_true_mask_is_clean(scenes):
    for s in scenes:
        assert Cs.clean(s.mask, s.mask)
        assert not Cs.clean(np.zeros_like(s.mask), s.mask)


def test_tone_classes_are_close_to_their_backdrop_and_the_others_are_not(scenes):
    def measured(s: Sc.Scene) -> float:
        img = Sc.srgb_to_linear(s.image / 255.0)
        m = s.mask.astype(np.uint8)
        ring = cv2.dilate(m, np.ones((15, 15), np.uint8)).astype(bool) & ~cv2.dilate(m, np.ones((5, 5), np.uint8))\
            .astype(bool)
        return Sc.delta_e(np.median(img[s.mask], 0), np.median(img[ring], 0))

    for cls in Sc.TONE_CLASSES:
        for s in of(scenes, cls):
            assert 3 <= s.params["target_delta_e"] <= 12
            assert measured(s) < 16, s.name
    assert all(measured(s) > 15 for s in of(scenes, "plain") + of(scenes, "hard-cast-shadow"))
    for s in of(scenes, "white-on-white"):
        assert Sc.lin_to_lab(s.backdrop[s.mask].mean(0))[0] > 88
    for s in of(scenes, "dark-on-dark"):
        assert Sc.lin_to_lab(s.backdrop[s.mask].mean(0))[0] < 30


def test_vignetting_darkens_the_corners(scenes):
    for s in of(scenes, "vignetting"):
        assert 0.15 <= s.params["vignette"] <= 0.35
        lum = s.backdrop.mean(axis=2)
        h, w = lum.shape
        assert min(lum[0, 0], lum[0, -1], lum[-1, 0], lum[-1, -1]) < 0.88 * lum[h // 2, w // 2], s.name


def test_hard_and_contact_shadows_are_dark_and_show(scenes):
    for s in of(scenes, "hard-cast-shadow"):
        assert 0.5 <= s.params["cast"] <= 0.75 and s.params["cast_blur"] < 0.015
        visible = s.matte[~s.mask]
        assert visible.min() < 0.55 and (visible < 0.7).sum() > 0.05 * s.mask.sum(), s.name
    for s in of(scenes, "contact-shadow"):
        b = base_row(s)
        band = s.matte[b - 5:b + 10][~s.mask[b - 5:b + 10]]
        assert s.params["contact"] >= 0.5 and band.min() < 0.6, s.name


def test_glossy_floor_mirrors_the_product_below_its_base(scenes):
    for s in of(scenes, "glossy-floor"):
        b = base_row(s)
        rebuilt = Sc.linear_to_srgb(s.backdrop * s.matte[:, :, None]) * 255.0
        cols = s.mask.any(axis=0)
        below = np.abs(rebuilt - s.image)[b + 2:b + 12, cols].mean()
        assert 0.15 <= s.params["reflection"] <= 0.5 and below > 3.0, s.name
        assert not s.mask[b + 1:].any()  # the reflection is backdrop, not product


def test_thin_parts_and_holes_leave_backdrop_inside_the_outline(scenes):
    holes = 0
    for s in of(scenes, "thin-parts-holes") + of(Sc.corpus(30, seed=9, size=SIZE), "thin-parts-holes"):
        m = s.mask.astype(np.uint8)
        contours, hierarchy = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        holes += any(h[3] >= 0 for h in hierarchy[0])
        solidity = m.sum() / cv2.contourArea(cv2.convexHull(np.concatenate(contours)))
        assert solidity < 0.9, s.name
    assert holes >= 2  # mug handles, rings, straps, rungs


def test_clean_needs_both_the_iou_and_the_product_kept():
    true = np.zeros((100, 100), bool)
    true[20:80, 20:80] = True  # 3600 px
    grown = true.copy()
    grown[18:82, 18:82] = True  # IoU 3600 / 4096 = 0.88, nothing lost
    assert Cs.product_lost(grown, true) == 0.0 and not Cs.clean(grown, true)
    eaten = true.copy()
    eaten[20:80, 20:21] = False  # 60 px = 1.7 % lost, IoU 0.983
    assert Cs.iou(eaten, true) > 0.95 and not Cs.clean(eaten, true)
    nibbled = true.copy()
    nibbled[20:50, 20:21] = False  # 30 px = 0.8 % lost
    assert Cs.clean(nibbled, true)


def test_recall_and_false_flags_count_the_right_masks():
    rows = [Cs.Scored("a", 0.5, 0.3, False, True), Cs.Scored("a", 0.6, 0.2, False, False),
            Cs.Scored("a", 0.99, 0.0, True, True), Cs.Scored("a", 0.99, 0.0, True, False),
            Cs.Scored("b", 0.99, 0.0, True, False)]
    a, b, overall = Cs.by_class(rows, ["a", "b"])
    assert (a.n, a.clean_rate, a.recall, a.false_flags) == (4, 0.5, 0.5, 0.5)
    assert (b.recall, b.false_flags) == (None, 0.0)  # nothing to catch in b
    assert overall.n == 5 and overall.false_flags == pytest.approx(1 / 3)
    assert "overall" in Cs.format_table([a, b, overall])


def test_judge_runs_a_scene_the_way_the_batch_does(scenes):
    from packshot.core.masking.maskers import PriorMasker, build_masker

    scene = of(scenes, "plain")[0]
    verdict, pred = Cs.judge(build_masker("classic"), scene)
    assert pred.shape == scene.mask.shape and verdict.cls == "plain" and verdict.seconds > 0
    assert verdict.iou == pytest.approx(Cs.iou(pred, scene.mask))
    perfect, kept = Cs.judge(PriorMasker(Cs.TruePrior(scene.mask)), scene)
    assert perfect.iou > 0.9 and kept.shape == scene.mask.shape


def test_two_recorded_runs_compare_scene_by_scene():
    """``bench_masks --record`` / ``--against``: what changed between two runs of the same scenes."""
    true = np.zeros((40, 40), bool)
    true[10:30, 10:30] = True
    eaten = true.copy()
    eaten[10:30, 10:13] = False  # 15 % lost: not clean

    def run(masks_and_flags):
        rows = []
        for scene_id, (pred, flagged) in enumerate(masks_and_flags):
            verdict = Cs.score("a", pred, true, "doubt" if flagged else None)
            rows.append(Cs.record(scene_id, verdict, Cs.mask_digest(pred)))
        return rows

    before = run([(eaten, True), (true, False), (true, True), (eaten, True), (true, False)])
    after = run([(true, False), (eaten, False), (true, False), (eaten, False), (true, False)])
    lines, counts = Cs.compare(before, after)
    assert counts == {"masks changed": 2, "fixed": 1, "broken": 1, "caught": 0, "missed": 1, "false": 0,
                      "cleared": 2, "not in the record": 0}
    assert len(lines) == 4 and "FIXED" in lines[0] and "BROKEN" in lines[1]  # scene 4 did not change
    assert Cs.compare(before, before) == ([], dict.fromkeys(counts, 0))
    # the same seed with another class (a run over fewer classes) is another scene
    other = [dict(row, **{"class": "b"}) for row in after]
    assert Cs.compare(before, other) == ([], dict(dict.fromkeys(counts, 0), **{"not in the record": 5}))
    assert Cs.mask_digest(true) != Cs.mask_digest(eaten) and Cs.mask_digest(true) == Cs.mask_digest(true.copy())
