"""QualityGate: flags over the threshold, retries with new seeds, keeps the lowest expansion."""

from __future__ import annotations

import numpy as np
import pytest

from packshot.core.errors import Cancelled
from packshot.core.progress import CancelToken
from packshot.core.quality.metric import expansion
from packshot.core.quality.qc import QCSettings, QualityGate, retry_seed
from packshot.core.quality.resegment import MaskerResegmenter
from tests.core.quality.qc_helpers import ColourKeyMasker, product_mask, seeded_generate


def independent_score(seed: int) -> float:
    """The expansion of seed's image, computed without the gate."""
    masker = ColourKeyMasker()
    from packshot.core.images import Photo

    return expansion(product_mask(), masker.compute(Photo(pixels=seeded_generate(seed))).mask).expansion_object


@pytest.fixture()
def reseg() -> MaskerResegmenter:
    return MaskerResegmenter(ColourKeyMasker())


def test_retry_seeds_are_distinct_and_deterministic():
    seeds = [retry_seed(7, k) for k in range(5)]
    assert seeds[0] == 7 and len(set(seeds)) == 5
    assert seeds == [retry_seed(7, k) for k in range(5)]
    assert all(0 <= s < 2**32 for s in [retry_seed(2**32 - 1, 3)])


def test_check_scores_without_regenerating(reseg):
    img = seeded_generate(3)
    res = QualityGate(reseg, QCSettings(threshold=0.0)).check(img, product_mask(), seed=3)
    assert res.attempts == 1 and res.seed == 3 and res.image is img
    assert res.expansion_object == pytest.approx(independent_score(3))
    assert res.flagged == (independent_score(3) > 0.0)
    assert set(res.record()) >= {"expansion", "signed", "iou", "flagged", "seed", "attempts"}
    assert res.record()["score"] == res.expansion_object  # the value compared with the threshold


def base_seed_where_all_grow(n: int) -> int:
    """A base seed whose first n retry seeds all produce growth (so none passes a 0 threshold)."""
    return next(b for b in range(200) if all(independent_score(retry_seed(b, k)) > 0 for k in range(n)))


def test_retries_keep_the_lowest_expansion_result(reseg):
    seeds_tried: list[int] = []

    def generate(seed: int) -> np.ndarray:
        seeds_tried.append(seed)
        return seeded_generate(seed)

    base = base_seed_where_all_grow(5)
    gate = QualityGate(reseg, QCSettings(threshold=0.0, retries=4, measure="object"))
    res = gate.run(generate, product_mask(), seed=base)
    expected = [retry_seed(base, k) for k in range(5)]
    assert seeds_tried == expected and res.attempts == 5 and res.flagged
    scores = {s: independent_score(s) for s in expected}
    assert len(set(scores.values())) > 1  # the seeds really differ, so the choice matters
    best = min(expected, key=lambda s: (scores[s], expected.index(s)))
    assert res.seed == best
    assert res.expansion_object == pytest.approx(scores[best])
    np.testing.assert_array_equal(res.image, seeded_generate(best))
    assert [a.seed for a in res.history] == expected


def test_stops_at_first_passing_result_and_reuses_first_image(reseg):
    calls: list[int] = []

    def generate(seed: int) -> np.ndarray:
        calls.append(seed)
        return seeded_generate(seed)

    # threshold between the scores so that some seed passes
    cand = [retry_seed(5, k) for k in range(6)]
    scores = [independent_score(s) for s in cand]
    threshold = float(np.median(scores))
    gate = QualityGate(reseg, QCSettings(threshold=threshold, retries=5))
    res = gate.run(generate, product_mask(), seed=5, first_image=seeded_generate(5))
    first_pass = next(k for k, v in enumerate(scores) if v <= threshold)
    assert res.attempts == first_pass + 1
    assert calls == cand[1:first_pass + 1]  # seed 5 itself came from first_image
    assert not res.flagged and res.seed == cand[first_pass]


def test_flagged_when_no_retry_helps(reseg):
    base = base_seed_where_all_grow(2)
    gate = QualityGate(reseg, QCSettings(threshold=0.0, retries=1, measure="image"))
    res = gate.run(seeded_generate, product_mask(), seed=base)
    assert res.flagged and res.attempts == 2 and res.measure == "image"


def test_cancel_stops_before_generating(reseg):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        QualityGate(reseg).run(seeded_generate, product_mask(), seed=0, cancel=token)


def test_empty_product_mask_is_a_clear_error(reseg):
    from packshot.core.errors import PackshotError

    with pytest.raises(PackshotError, match="mask is empty"):
        QualityGate(reseg).check(seeded_generate(0), np.zeros((64, 64), bool), seed=0)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="measure"):
        QCSettings(measure="area")
    with pytest.raises(ValueError, match="retries"):
        QCSettings(retries=-1)
