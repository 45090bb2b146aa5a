"""The one object every masking path returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np


def stored_mask(alpha: np.ndarray) -> np.ndarray:
    """The mask a batch keeps and uses: the soft alpha as its 8-bit PNG reads back (alpha >= 0.5).

    It can differ from the masker's own binary mask by a pixel where the soft edge follows the
    photo, so the gate judges this one: the mask the product is protected by."""
    return np.asarray(alpha) >= 0.5


@dataclass
class MaskResult:
    """A product mask at the photo's full resolution.

    ``mask`` is True on the product (the pixels kept untouched); ``alpha`` is the soft edge used
    for compositing (exactly 1.0 well inside the product, 0.0 well outside). ``score`` in [0, 1]
    says how far the mask can be trusted so a review queue can show doubtful ones first.
    ``source`` names the path that made it ("sam-vit_b", "sam-tiny", "classic", "alpha-channel",
    "file", "edited"); ``details`` holds JSON-friendly facts (prompts, SAM IoU, fallbacks).
    ``doubt``: set by a masker that knows its mask is suspect, and why (e.g. no studio backdrop found);
    the batch's mask gate (``packshot.core.quality.mask_gate``) reports it and may hold the photo for review.
    """

    mask: np.ndarray
    alpha: np.ndarray
    score: float
    source: str
    details: dict = field(default_factory=dict)
    doubt: Optional[str] = None

    def __post_init__(self) -> None:
        if self.mask.ndim != 2 or self.mask.dtype != bool:
            raise ValueError(f"MaskResult.mask must be a 2-D bool array, got {self.mask.dtype} {self.mask.shape}")
        if self.alpha.shape != self.mask.shape:
            raise ValueError(f"alpha {self.alpha.shape} and mask {self.mask.shape} differ in shape")
        self.alpha = self.alpha.astype(np.float32, copy=False)
        self.score = float(min(1.0, max(0.0, self.score)))

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) like ``Photo.size``."""
        return self.mask.shape[1], self.mask.shape[0]

    @property
    def coverage(self) -> float:
        """Fraction of the image covered by the product."""
        return float(self.mask.mean()) if self.mask.size else 0.0
