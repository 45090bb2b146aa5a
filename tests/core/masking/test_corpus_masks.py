"""The classic masker and the mask gate on a small seeded studio corpus (tests/studio_corpus.py).

The full corpus runs in the benchmark (``python -m tests.benchmarks.bench_masks --corpus N``); here a
few dozen small scenes, every class, with the targets asserted at the level the full set reaches
(the benchmark prints the table). And the invariant that post-processing never takes
product: a perfect prior (the true mask handed in where a learned prior's output goes) loses at most
0.5 % of the product on every scene, whatever the backdrop, shadow or reflection around it.
"""

from __future__ import annotations

import pytest

from packshot.core.images import Photo
from packshot.core.masking.maskers import PriorMasker
from packshot.core.masking.prior_classic import ClassicPrior
from tests import studio_corpus as C
from tests.core.masking import corpus_scoring as S

SIZE = 480  # long side: small enough for the default run
PER_CLASS = 3
# what this sample of 30 at 480 px measured (clean 83 %, recall 20 %, false flags 28 %), less a margin.
# It is weaker than the full corpus (N = 300, 800 x 600, the benchmark: clean 76 %, recall 79 %,
# false flags 12 %): here one pixel of outline is a larger share of the product, and the 5 masks that
# are not clean lose 0.7-2.1 % of it. The floors catch a regression; the benchmark carries the figures.
MIN_CLEAN = 0.75
MIN_RECALL = 0.15
MAX_FALSE_FLAGS = 0.35


@pytest.fixture(scope="module")
def scenes():
    return C.corpus(PER_CLASS * len(C.CLASSES), seed=11, size=SIZE)


def test_a_perfect_prior_loses_no_product_in_post_processing(scenes):
    for scene in scenes:
        result = PriorMasker(S.TruePrior(scene.mask)).compute(Photo(pixels=scene.image))
        lost = S.product_lost(result.mask, scene.mask)
        assert lost <= 0.005, f"{scene.name}: post-processing took {lost:.2%} of the product"


def test_classic_masks_and_the_gate_on_the_small_corpus(scenes):
    masker = PriorMasker(ClassicPrior())
    rows = [S.judge(masker, scene)[0] for scene in scenes]  # as the batch does: quantised mask, its gate
    table = S.format_table(S.by_class(rows, C.CLASSES))
    overall = S.by_class(rows, C.CLASSES)[-1]
    assert overall.clean_rate >= MIN_CLEAN, table
    assert overall.recall is None or overall.recall >= MIN_RECALL, table
    assert overall.false_flags is None or overall.false_flags <= MAX_FALSE_FLAGS, table
    # the silent failures the issue is about: a mask that is badly wrong (IoU under 0.9 or more than
    # 5 % of the product lost) is flagged, all but one in the sample
    silent = [r.name for r in rows if (r.iou < 0.9 or r.lost > 0.05) and not r.flagged]
    assert len(silent) <= 1, (silent, table)
