"""Round 18 of the gate's evidence (core/quality/mask_evidence.py): a hard shadow kept down the side
of a coloured bottle at 2000 x 1500 was let through.

Its sharp edge lies on the mask's outline, so the smooth region inside stops 3 px short of the
backdrop and a 3 px rim did not reach it; and the bottle plus the shadow is symmetric about a
shifted axis, so the shadow's mirror image was "product" and the shadow passed for the bottle's
own darker body. The mirror image must now be the same kind of body (near the backdrop's chroma,
as glass or a grey neck is), and beside a coloured product the rim is looked for 5 px round. The
round-14 cases (glass bodies, a dark neck) still pass: tests/core/quality/test_mask_evidence_round14.py,
and so does tinted glass, whose lit side is a few chroma spreads off the paper.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from packshot.core.quality.mask_evidence import mask_evidence
from tests import studio_corpus as Sc


def test_a_hard_shadow_kept_down_a_coloured_bottles_side_is_named():
    scene = Sc.make_scene(7000316, "hard-cast-shadow", (2000, 1500))  # a bottle on red paper
    near = cv2.dilate(scene.mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (121, 121)))
    kept = scene.mask | ((scene.matte < 0.8) & near.astype(bool))  # the shadow beside it, as the masker kept it
    assert scene.mask.sum() / kept.sum() < 0.75  # IoU: the mask is badly wrong
    evidence = mask_evidence(scene.image, kept)
    assert any("shadow is kept as product" in f for f in evidence.findings), evidence.findings


def test_the_bottles_true_mask_keeps_no_shadow():
    """(Without the masker's second reading the shadow's outline beside it is still said to be an
    outline outside the mask: that cue is settled by the reading, which a plain mask lacks.)"""
    scene = Sc.make_scene(7000316, "hard-cast-shadow", (2000, 1500))
    findings = mask_evidence(scene.image, scene.mask).findings
    assert not any("shadow" in f for f in findings), findings


@pytest.mark.parametrize("seed, size", [(5000114, (800, 600)), (19, (2000, 1500))])
def test_tinted_glass_mirrored_onto_its_lit_side_passes(seed, size):
    """A tinted glass's shaded side mirrors onto its lit side, which is 2.7-3.1 chroma spreads off the
    paper (not exactly its chroma): the glass's own body, not a kept shadow."""
    scene = Sc.make_scene(seed, "transparent", size)
    assert mask_evidence(scene.image, scene.mask).findings == [], scene.name
