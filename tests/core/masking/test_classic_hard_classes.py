"""The classic masker on the studio-corpus classes where the product is hard to tell from its
backdrop (tone-on-tone, white-on-white, dark-on-dark, thin parts and holes, glass), seed 11.

The full corpus runs in the benchmark (``python -m tests.benchmarks.bench_masks --corpus N
--classes ...``); here a few small scenes per class. At this size a pixel of outline is a larger
share of the product, so the clean rate is lower than the benchmark's at 800 x 600 (here 40 %, as
without the product evidence: the outline's last pixel decides); what the evidence changes is
whether a tone-on-tone product is found at all: its median IoU was 0.83 (tone-on-tone) and 0.27
(white-on-white) without it, 0.94 and 0.90 with it. The bounds sit under what was measured.
"""

from __future__ import annotations

import statistics

import pytest

from packshot.core.masking.maskers import PriorMasker
from packshot.core.masking.prior_classic import ClassicPrior
from tests import studio_corpus as C
from tests.core.masking import corpus_scoring as S

CLASSES = ("tone-on-tone", "white-on-white", "dark-on-dark", "thin-parts-holes", "transparent")
PER_CLASS = 4
SIZE = (480, 360)
MIN_CLEAN = 0.3  # measured 0.4 on this sample
MIN_TONE_IOU = 0.85  # median IoU on each tone class; measured 0.90-0.98


@pytest.fixture(scope="module")
def rows():
    scenes = C.corpus(PER_CLASS * len(CLASSES), seed=11, size=SIZE, classes=CLASSES)
    masker = PriorMasker(ClassicPrior())
    return [S.judge(masker, scene)[0] for scene in scenes]


def test_the_hard_classes_are_mostly_clean(rows):
    table = S.format_table(S.by_class(rows, CLASSES))
    assert sum(r.clean for r in rows) / len(rows) >= MIN_CLEAN, table


def test_a_tone_on_tone_product_is_not_taken_for_its_backdrop(rows):
    table = S.format_table(S.by_class(rows, CLASSES))
    for cls in C.TONE_CLASSES:
        assert statistics.median(r.iou for r in rows if r.cls == cls) >= MIN_TONE_IOU, (cls, table)
