"""Salient-object priors: where is the product, before SAM refines it.

A prior maps an 8-bit RGB image to a coarse product mask plus a confidence. It is pluggable:
``PRIORS`` maps a name to a factory ``(store, device) -> prior``, and the automatic masker samples
SAM prompts from whatever prior it is given. "classic" needs no weights (OpenCV only), so it is
always available; "isnet" is a learned salient-object model (IS-Net, ONNX) that needs its weights
in the model store; "auto" is isnet when those weights are present, else classic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional, Protocol

import numpy as np

if TYPE_CHECKING:
    from core.models.store import ModelStore

log = logging.getLogger(__name__)
LEARNED_MODEL_ID = "isnet-general-use"


@dataclass
class PriorResult:
    """A coarse product mask at the image's size and the evidence behind it."""

    mask: np.ndarray  # H x W bool
    score: float  # 0..1: how clearly the product separates from its background
    details: dict = field(default_factory=dict)


class SalientPrior(Protocol):
    name: str

    def __call__(self, rgb8: np.ndarray) -> PriorResult: ...


def _classic(store: Optional[ModelStore] = None, device: str = "auto") -> SalientPrior:
    from core.masking.prior_classic import ClassicPrior

    return ClassicPrior()


def _isnet(store: Optional[ModelStore] = None, device: str = "auto") -> SalientPrior:
    from core.masking.prior_learned import IsNetPrior  # onnxruntime is imported only here

    return IsNetPrior(store, device)


PRIORS: dict[str, Callable[..., SalientPrior]] = {"classic": _classic, "isnet": _isnet}
CHOICES = ("auto", *PRIORS)  # what a user may ask for (CLI --prior, build_masker(prior=...))


def resolve_prior(name: str = "auto", store: Optional[ModelStore] = None) -> tuple[str, Optional[str]]:
    """The concrete prior ``name`` stands for, and why "auto" fell back to classic (None otherwise).

    "auto" is "isnet" when the store has the IS-Net weights, else "classic"; other names map to
    themselves (ValueError naming the known ones for an unknown name). Never downloads.
    """
    if name != "auto":
        if name not in PRIORS:
            raise ValueError(f"unknown salient prior {name!r}; known: {', '.join(CHOICES)}")
        return name, None
    if store is None:
        from core.models.store import ModelStore

        store = ModelStore()
    from core.errors import ModelMissingError

    try:
        if store.locate(LEARNED_MODEL_ID) is not None:
            return "isnet", None
        reason = store.missing_message(LEARNED_MODEL_ID)
    except ModelMissingError as exc:  # a manifest without the entry (an old resources/models.json)
        reason = str(exc)
    return "classic", reason + " Using the classic (OpenCV) prior instead."


def get_prior(name: str = "classic", store: Optional[ModelStore] = None, device: str = "auto") -> SalientPrior:
    """Build the prior registered as ``name``, or "auto" (isnet when its weights are present, else classic).

    An explicit "isnet" without weights raises the store's ModelMissingError (size and fix).
    """
    concrete, reason = resolve_prior(name, store)
    if reason:
        log.info("%s", reason)
    return PRIORS[concrete](store=store, device=device)
