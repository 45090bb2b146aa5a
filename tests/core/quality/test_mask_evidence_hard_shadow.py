"""The gate's hedge on a large hard shadow the masker cut off: said beside a grey or glass product
(a neutral, darker region could be part of it), not beside a coloured one (it cannot be)."""

from __future__ import annotations

import numpy as np
import pytest

from packshot.core.quality.mask_evidence import mask_evidence

HEDGE = "was taken for its shadow"


def _studio_shot(product_rgb: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    h, w = 300, 400
    rng = np.random.default_rng(3)
    ramp = np.linspace(0.97, 1.0, h)[:, None, None]  # a softbox's gentle fall-off
    image = np.clip(np.full((h, w, 3), 222.0) * ramp + rng.normal(0, 1.2, (h, w, 3)), 0, 255)
    mask = np.zeros((h, w), bool)
    mask[80:220, 140:260] = True
    image[mask] = product_rgb
    return image.astype(np.uint8), mask


@pytest.mark.parametrize("colour, hedged", [((190, 40, 35), False), ((120, 120, 120), True)])
def test_the_hard_shadow_hedge_is_for_grey_products_only(colour, hedged):
    image, mask = _studio_shot(colour)
    findings = mask_evidence(image, mask, {"hard_shadow": 0.45}).findings
    assert any(HEDGE in f for f in findings) is hedged, findings


def test_a_small_hard_shadow_is_never_hedged():
    image, mask = _studio_shot((120, 120, 120))
    assert not any(HEDGE in f for f in mask_evidence(image, mask, {"hard_shadow": 0.1}).findings)
