"""Deterministic test pieces for QC: a colour-key masker and a seeded image generator."""

from __future__ import annotations

import numpy as np

from packshot.core.masking.result import MaskResult

PRODUCT = np.array([200, 30, 30], np.uint8)


class ColourKeyMasker:
    """A real (if simple) masker: the product is every pixel near PRODUCT's colour."""

    name = "colour-key"

    def __init__(self, colour: np.ndarray = PRODUCT, tolerance: int = 40) -> None:
        self.colour = colour.astype(np.int32)
        self.tolerance = tolerance

    def compute(self, photo, cancel=None) -> MaskResult:
        diff = np.abs(photo.rgb8.astype(np.int32) - self.colour).max(axis=2)
        mask = diff <= self.tolerance
        return MaskResult(mask=mask, alpha=mask.astype(np.float32), score=1.0, source=self.name)


def product_mask(h: int = 64, w: int = 64) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[20:44, 24:40] = True
    return m


def seeded_generate(seed: int, h: int = 64, w: int = 64) -> np.ndarray:
    """A grey scene with the product and a seed-dependent product-coloured 'growth' below it."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 180, np.uint8) + rng.integers(0, 20, (h, w, 3), dtype=np.uint8)
    img[product_mask(h, w)] = PRODUCT
    growth = int(rng.integers(0, 16))  # rows of hallucinated product under it
    img[44:44 + growth, 28:36] = PRODUCT
    return img
