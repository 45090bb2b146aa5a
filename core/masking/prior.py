"""Salient-object priors: where is the product, before SAM refines it.

A prior maps an 8-bit RGB image to a coarse product mask plus a confidence. It is pluggable:
``PRIORS`` maps a name to a factory, and the automatic masker samples SAM prompts from whatever
prior it is given. "classic" needs no weights (OpenCV only), so it is always available.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np


@dataclass
class PriorResult:
    """A coarse product mask at the image's size and the evidence behind it."""

    mask: np.ndarray  # H x W bool
    score: float  # 0..1: how clearly the product separates from its background
    details: dict = field(default_factory=dict)


class SalientPrior(Protocol):
    name: str

    def __call__(self, rgb8: np.ndarray) -> PriorResult: ...


def _classic() -> SalientPrior:
    from core.masking.prior_classic import ClassicPrior

    return ClassicPrior()


PRIORS: dict[str, Callable[[], SalientPrior]] = {"classic": _classic}


def get_prior(name: str = "classic") -> SalientPrior:
    """Build the prior registered as ``name`` (ValueError naming the known ones otherwise)."""
    try:
        return PRIORS[name]()
    except KeyError:
        raise ValueError(f"unknown salient prior {name!r}; known: {', '.join(sorted(PRIORS))}") from None
