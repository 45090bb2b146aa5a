"""Interactive sessions: history semantics, brush, clicks that move the mask the right way.

Direction is tested on the GrabCut backend (a real, weight-free algorithm); with the random tiny
SAM we test what can be true of any SAM: one encoder run per photo, prompts mapped and passed,
previous low-res logits fed back as ``mask_input``.
"""

from __future__ import annotations

import numpy as np
import pytest

from packshot.core.images import Photo
from packshot.core.masking import build_masker
from packshot.core.masking.result import MaskResult
from packshot.core.masking.session import GrabCutBackend, MaskSession
from tests.core.masking import scenes as S


def _result(mask: np.ndarray, source: str = "classic", score: float = 0.7) -> MaskResult:
    return MaskResult(mask, mask.astype(np.float32), score, source, {})


@pytest.fixture
def bottle():
    image, truth = S.product_on_plain(300, 400)
    return Photo(pixels=image), truth


def test_brush_undo_redo_reset(bottle):
    photo, truth = bottle
    session = MaskSession(photo, GrabCutBackend(photo), initial=_result(truth))
    assert not session.edited and not session.can_undo
    added = session.brush([(20, 20), (60, 20)], radius=5)
    assert added[20, 40] and added.sum() > truth.sum()
    erased = session.brush([(200, 200)], radius=10, erase=True)
    assert not erased[200, 200] and erased[20, 40]
    assert session.undo() and session.mask[200, 200] == truth[200, 200] and session.mask[20, 40]
    assert session.undo() and np.array_equal(session.mask, truth)
    assert not session.undo() and session.redo() and session.mask[20, 40]
    session.brush([(300, 50)], radius=3)  # a new edit drops the redo branch
    assert not session.can_redo
    assert np.array_equal(session.reset(), truth) and session.result().source == "classic"
    assert session.undo() and session.mask[50, 300], "reset itself can be undone"
    edited = session.result()
    assert edited.source == "edited" and edited.details["strokes"] == 2 and edited.mask.shape == truth.shape
    assert edited.score == 0.7, "brushing keeps the trust of the mask it edits"


def test_positive_click_adds_the_missed_part(bottle):
    photo, truth = bottle
    missing = truth.copy()
    missing[: int(0.33 * 300)] = False  # the neck and cap were missed
    session = MaskSession(photo, GrabCutBackend(photo), initial=_result(missing))
    neck = truth & ~missing
    mask = session.add_click(200, 60, positive=True)  # on the neck
    assert mask[60, 200]
    assert (mask & neck).sum() > 0.8 * neck.sum(), "the whole neck joins, not just the clicked spot"
    assert S.iou(mask, truth) > S.iou(missing, truth)
    assert "score_basis" in session.result().details, "GrabCut has no score of its own: it says so"


def test_negative_click_removes_a_wrong_region(bottle):
    photo, truth = bottle
    blob = np.zeros_like(truth)
    blob[20:70, 20:90] = True  # a patch of backdrop wrongly marked as product
    session = MaskSession(photo, GrabCutBackend(photo), initial=_result(truth | blob))
    mask = session.add_click(55, 45, positive=False)
    assert not mask[45, 55]
    assert (mask & blob).sum() < 0.1 * blob.sum()
    assert (mask & truth).sum() > 0.95 * truth.sum(), "the product itself stays"


def test_box_limits_the_mask_and_brush_survives_later_clicks(bottle):
    photo, truth = bottle
    session = MaskSession(photo, GrabCutBackend(photo))
    mask = session.set_box(120, 20, 280, 270)
    assert mask.any() and not mask[:, :118].any() and not mask[:, 283:].any()
    assert S.iou(mask, truth) > 0.8
    session.brush([(10, 290)], radius=4)
    after = session.add_click(200, 150, positive=True)
    assert after[290, 10], "brush strokes stay on top of later model updates"
    assert session.box == (120.0, 20.0, 280.0, 270.0) and session.clicks == [(200.0, 150.0, True)]


def test_bad_edits_are_refused_clearly(bottle):
    photo, truth = bottle
    session = MaskSession(photo, GrabCutBackend(photo), initial=_result(truth))
    with pytest.raises(ValueError, match="outside"):
        session.add_click(400, 10)
    with pytest.raises(ValueError, match="box is empty"):
        session.set_box(10, 10, 10, 50)
    with pytest.raises(ValueError, match="radius"):
        session.brush([(1, 1)], radius=0)
    with pytest.raises(ValueError, match="initial mask"):
        MaskSession(photo, GrabCutBackend(photo), initial=_result(truth[:-1]))


def test_sam_session_encodes_once_and_feeds_logits_back(tiny_runtime, encoder_calls):
    masker = build_masker("sam", tiny_runtime, device="cpu")
    image, _ = S.product_on_plain(241, 333)
    photo = Photo(pixels=image)
    auto = masker.compute(photo)
    session = masker.session(photo, initial=auto)
    session.prepare()
    calls = []
    predictor = session.backend._predictor
    real_predict = predictor.predict
    predictor.predict = lambda **kw: calls.append(kw) or real_predict(**kw)

    session.add_click(166, 120, positive=True)
    session.add_click(20, 20, positive=False)
    session.set_box(80, 10, 260, 230)
    session.brush([(5, 5)], radius=3)
    for i in range(6):
        session.add_click(100 + 10 * i, 150, positive=i % 2 == 0)
    assert len(encoder_calls) == 1, "one encoder run for the automatic mask and every click"
    assert len(calls) == 9

    auto_points = len(auto.details["prompts"]["points"])
    first, second = calls[0], calls[1]
    assert first["mask_input"] is None, "the first click starts from the automatic prompts"
    assert len(first["point_coords"]) == auto_points + 1 and first["point_labels"][-1] == 1
    sx = 1024 / 333  # the photo is encoded at long side 1024
    assert first["point_coords"][-1] == pytest.approx([(166 + 0.5) * sx - 0.5, (120 + 0.5) * sx - 0.5], abs=0.6)
    assert second["point_labels"][-1] == 0
    # the second click refines the first click's mask: its low-res logits come back as mask_input
    assert second["mask_input"].shape[-2:] == (256, 256)
    session.undo()
    assert session.result().details["clicks"] == 7 and session.result().source == "edited"

    again = masker.session(photo)  # a second session on the same photo: cached embedding
    again.add_click(150, 120)
    assert len(encoder_calls) == 1 and masker.cache.hits >= 1


def test_sam_click_feedback_is_the_previous_steps_logits(tiny_runtime):
    masker = build_masker("sam", tiny_runtime, device="cpu")
    image, _ = S.product_on_plain(200, 200)
    session = masker.session(Photo(pixels=image))
    session.add_click(100, 100)
    logits_after_first = session._current.feedback
    seen = []
    predictor = session.backend._predictor
    real_predict = predictor.predict
    predictor.predict = lambda **kw: seen.append(kw["mask_input"]) or real_predict(**kw)
    session.add_click(120, 100)
    assert np.array_equal(seen[0], logits_after_first)
    session.undo()  # undo restores the earlier step's logits for the next click
    session.add_click(80, 100, positive=False)
    assert np.array_equal(seen[1], logits_after_first)


def test_sam_session_on_a_mask_from_file_prompts_with_that_mask(tiny_runtime):
    masker = build_masker("sam", tiny_runtime, device="cpu")
    image, truth = S.product_on_plain(180, 240)
    photo = Photo(pixels=image)
    session = masker.session(photo, initial=_result(truth, source="file", score=1.0))
    session.prepare()
    seen = []
    predictor = session.backend._predictor
    real_predict = predictor.predict
    predictor.predict = lambda **kw: seen.append(kw) or real_predict(**kw)
    session.add_click(120, 100)
    box, points = seen[0]["box"], seen[0]["point_coords"]
    assert box is not None and len(points) == 4, "box and inner points of the file mask, plus the click"
    ys, xs = np.nonzero(truth)
    s = 1024 / 240
    assert box[0] == pytest.approx((xs.min() - 0.03 * (xs.max() - xs.min() + 1)) * s, abs=3 * s)
    # the classic session needs no prompts: its base mask is GrabCut's starting point
    assert len(MaskSession(photo, GrabCutBackend(photo), initial=_result(truth))._current.auto.points) == 0
