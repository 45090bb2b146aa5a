"""Round 14 of the gate's evidence (core/quality/mask_evidence.py): a darker, backdrop-coloured region
inside a mirror-symmetric mask whose mirror image is product too is the product's own (a glass
body, a shaded face, a dark neck), not a shadow the mask kept. A cast shadow beside a product makes
its mask lopsided, and that is still flagged (tests/core/quality/test_mask_evidence_round6.py).

The true masks below were flagged "the backdrop's shadow is kept as product" before: the score is
1.0 and there is no second reading, so only the photo's evidence can flag them.
"""

from __future__ import annotations

import numpy as np
import pytest

from packshot.core.masking.result import MaskResult
from packshot.core.quality.mask_evidence import mask_evidence
from packshot.core.quality.mask_gate import mask_doubt
from tests import studio_corpus as Sc

SIZE = (800, 600)


def _doubt(scene, mask: np.ndarray):
    return mask_doubt(MaskResult(mask, mask.astype(np.float32), 1.0, "classic"), 0.5, image=scene.image)


@pytest.mark.parametrize("seed, cls", [
    (5000294, "transparent"),  # a glass bottle on white: its clear body reads as the paper, darker
    (7000070, "transparent"),
    (13000248, "transparent"),
    (5000150, "hard-cast-shadow"),  # a brown bottle's dark neck, "above the product"
    (5000102, "glossy-floor"),  # a vase's grey neck
])
def test_a_darker_region_the_product_mirrors_is_not_a_kept_shadow(seed, cls):
    scene = Sc.make_scene(seed, cls, SIZE)
    assert _doubt(scene, scene.mask) is None, scene.name


def test_a_shadow_kept_on_one_side_of_a_symmetric_product_is_still_flagged():
    """The glass bottle above with the paper beside it kept as a darker patch: lopsided, flagged."""
    scene = Sc.make_scene(5000294, "transparent", SIZE)
    ys, xs = np.nonzero(scene.mask)
    y0, y1, x1 = (ys.min() + ys.max()) // 2, ys.max(), xs.max()
    kept = scene.mask.copy()
    kept[y0:y1 + 1, x1 + 1:x1 + 1 + (xs.max() - xs.min()) // 2] = True
    image = scene.image.copy()
    image[kept & ~scene.mask] = (image[kept & ~scene.mask] * 0.6).astype(np.uint8)  # a shadow there
    evidence = mask_evidence(image, kept)
    assert any("shadow is kept as product" in f for f in evidence.findings), evidence.findings
