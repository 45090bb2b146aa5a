"""The 800 px edge-beside-the-outline cue (core/quality/evidence_rim.py) on thin products: stripes
running close inside a stool's or a ring's edges are not a rim of backdrop kept (the offset averaged
over the whole outline is small), while a mask whose edge really runs off the product is still
flagged. Development seed 7 corpus scenes, the classic masker as a batch runs it."""

from __future__ import annotations

import pytest

from packshot.core.masking.maskers import build_masker
from tests import studio_corpus as C
from tests.core.masking import corpus_scoring as S

RIM_WORDS = "runs beside the product's outline"


@pytest.mark.parametrize("seed", [7000149, 7000209, 7000239])
def test_a_clean_thin_product_mask_is_not_flagged_for_its_inner_stripes(seed):
    scene = C.make_scene(seed, "thin-parts-holes", (800, 600))
    row, _ = S.judge(build_masker("classic"), scene)
    assert row.clean, f"{scene.name}: IoU {row.iou:.3f}"
    assert RIM_WORDS not in (row.doubt or ""), row.doubt


def test_a_mask_whose_edge_runs_off_the_product_is_still_flagged():
    scene = C.make_scene(7000255, "vignetting", (800, 600))  # loses 1.6 % along one side
    row, _ = S.judge(build_masker("classic"), scene)
    assert not row.clean
    assert RIM_WORDS in (row.doubt or ""), row.doubt
