"""The product-evidence pass over the backdrop's flood (core/masking/flood_evidence.py) on a clear
product: it takes back a pale face the flood took, never the product's hard cast shadow.

Development seed 7, scene 7000053: a brown stool leg on a beige-to-green sweep with a hard cast
shadow beside it. The gradient's misfit gave the shadow a little chroma, the pass took the whole
shadow back as product (IoU 0.62) and the gate did not flag it.
"""

from __future__ import annotations

from packshot.core.masking.maskers import build_masker
from tests import studio_corpus as C
from tests.core.masking import corpus_scoring as S


def test_a_hard_cast_shadow_beside_a_clear_product_is_not_taken_back_as_product():
    scene = C.make_scene(7000053, "hard-cast-shadow", (800, 600))
    row, _ = S.judge(build_masker("classic"), scene)
    assert row.iou >= 0.95, f"{scene.name}: IoU {row.iou:.3f}"
