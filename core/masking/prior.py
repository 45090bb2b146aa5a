"""Salient-object priors: where is the product, before SAM refines it.

A prior maps an 8-bit RGB image to a coarse product mask plus a confidence. It is pluggable:
``PRIORS`` maps a concrete name to a factory ``(runtime, device) -> prior``, and the automatic masker
samples SAM prompts from whatever prior it is given. The priors:

- "classic": OpenCV only, no weights, always available;
- "birefnet" / "birefnet-lite": BiRefNet (ONNX; Swin-L ``birefnet-general`` / Swin-T
  ``birefnet-general-lite``), the best open salient-object model, when its weights are in the store;
- "isnet": IS-Net (ONNX, ``isnet-general-use``), when its weights are in the store.

What a user may ask for (``CHOICES``): the names above, where "birefnet" means "the BiRefNet variant
for this device" (the lite one on the CPU, the full one on a GPU, whichever is present if only one
is), and "auto": BiRefNet as "birefnet", else IS-Net, else classic (saying why).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional, Protocol

import numpy as np

if TYPE_CHECKING:
    from packshot.core.models.store import ModelStore
    from packshot.core.runtime import Runtime

log = logging.getLogger(__name__)
LEARNED_MODEL_ID = "isnet-general-use"  # IS-Net's id (kept for callers that predate BiRefNet)
MODEL_IDS = {"birefnet": "birefnet-general", "birefnet-lite": "birefnet-general-lite", "isnet": LEARNED_MODEL_ID}


@dataclass
class PriorResult:
    """A coarse product mask at the image's size and the evidence behind it."""

    mask: np.ndarray  # H x W bool
    score: float  # 0..1: how clearly the product separates from its background
    details: dict = field(default_factory=dict)
    # the mask before a shape step that reads no more of the photo (the classic prior's mirror
    # symmetry), when that step changed it: the gate's second reading, which does not take the step
    # (both readings would agree on what it adds), is compared with this
    unmirrored: Optional[np.ndarray] = None


class SalientPrior(Protocol):
    name: str

    def __call__(self, rgb8: np.ndarray) -> PriorResult: ...


def _classic(runtime: Optional[Runtime] = None, device: str = "auto") -> SalientPrior:
    from packshot.core.masking.prior_classic import ClassicPrior

    return ClassicPrior()


def _isnet(runtime: Optional[Runtime] = None, device: str = "auto") -> SalientPrior:
    from packshot.core.masking.prior_learned import IsNetPrior  # onnxruntime is imported only here

    return IsNetPrior(runtime, device)


def _birefnet(runtime: Optional[Runtime] = None, device: str = "auto") -> SalientPrior:
    from packshot.core.masking.prior_learned import BiRefNetPrior

    return BiRefNetPrior(runtime, device, lite=False)


def _birefnet_lite(runtime: Optional[Runtime] = None, device: str = "auto") -> SalientPrior:
    from packshot.core.masking.prior_learned import BiRefNetPrior

    return BiRefNetPrior(runtime, device, lite=True)


PRIORS: dict[str, Callable[..., SalientPrior]] = {
    "classic": _classic, "isnet": _isnet, "birefnet": _birefnet, "birefnet-lite": _birefnet_lite}
CHOICES = ("auto", "classic", "isnet", "birefnet", "birefnet-lite")  # CLI --prior, build_masker(prior=...)


def _present(store: ModelStore, prior: str) -> bool:
    from packshot.core.errors import ModelMissingError

    try:
        return store.locate(MODEL_IDS[prior]) is not None
    except ModelMissingError:  # a manifest without the entry (an old resources/models.json)
        return False


def _gpu(device: str) -> bool:
    if (device or "auto").lower() == "cpu":
        return False  # decided without importing onnxruntime
    from packshot.core.masking.prior_learned import runs_on_gpu

    return runs_on_gpu(device)


def birefnet_variant(store: ModelStore, device: str = "auto") -> Optional[str]:
    """The BiRefNet prior for ``device`` among those in ``store``: "birefnet-lite" on the CPU (about 4x
    fewer operations than the Swin-L model), "birefnet" on a GPU; the one present if only one is;
    None when neither is."""
    present = [v for v in ("birefnet-lite", "birefnet") if _present(store, v)]
    if len(present) < 2:
        return present[0] if present else None
    return "birefnet" if _gpu(device) else "birefnet-lite"


def resolve_prior(name: str, store: Optional[ModelStore], device: str = "auto") -> tuple[str, Optional[str]]:
    """The concrete prior ``name`` stands for on ``device``, and why "auto" fell back to classic (else None).

    "auto" is BiRefNet (variant per device, see ``birefnet_variant``) when the store has it, else
    "isnet" when it has IS-Net, else "classic"; "birefnet" is the variant for the device (the one the
    device prefers when neither is present, so that building it raises the store's clear message);
    other names map to themselves (ValueError naming the known ones for an unknown name). Never
    downloads. ``store`` is only needed for "auto" and "birefnet" (where the weights are looked for).
    """
    if name not in CHOICES:
        raise ValueError(f"unknown salient prior {name!r}; known: {', '.join(CHOICES)}")
    if name not in ("auto", "birefnet"):
        return name, None
    if store is None:
        raise ValueError(f"the {name!r} prior depends on which weights are here: give the model store")
    variant = birefnet_variant(store, device)
    if name == "birefnet":
        return variant or ("birefnet" if _gpu(device) else "birefnet-lite"), None
    if variant:
        return variant, None
    if _present(store, "isnet"):
        return "isnet", None
    return "classic", _no_learned_prior(store)


def _no_learned_prior(store: ModelStore) -> str:
    from packshot.core.errors import ModelMissingError
    from packshot.core.models.manifest import human_bytes

    try:
        lite = store.missing_message(MODEL_IDS["birefnet-lite"])
        sizes = {p: human_bytes(store.spec(MODEL_IDS[p]).approx_bytes) for p in ("birefnet", "isnet")}
    except ModelMissingError as exc:  # a manifest without the entries
        return f"{exc} Using the classic (OpenCV) prior instead."
    return (f"No learned salient-object model is on this machine. {lite} On a GPU the full BiRefNet is better "
            f"(`packshot models download {MODEL_IDS['birefnet']}`, {sizes['birefnet']}); IS-Net also works "
            f"(`packshot models download {MODEL_IDS['isnet']}`, {sizes['isnet']}). "
            "Using the classic (OpenCV) prior instead.")


def check_prior_weights(name: str, store: ModelStore, device: str = "auto") -> None:
    """Raise the store's ModelMissingError (size and fix) if an explicitly chosen learned prior has no
    weights; "auto" and "classic" never raise (auto falls back)."""
    if name in ("auto", "classic"):
        return
    concrete, _ = resolve_prior(name, store, device)
    store.path(MODEL_IDS[concrete])


def get_prior(name: str = "classic", runtime: Optional[Runtime] = None, device: str = "auto") -> SalientPrior:
    """Build the prior ``name`` stands for on ``device`` (see ``resolve_prior``), its model from
    ``runtime`` (None only for a prior that needs no weights: "classic").

    An explicit learned prior without its weights raises the store's ModelMissingError (size and fix).
    """
    if name != "classic" and runtime is None:
        raise ValueError(f"The {name!r} prior loads its model from a runtime: pass the caller's Runtime.")
    concrete, reason = resolve_prior(name, runtime.store if runtime is not None else None, device)
    if reason:
        log.info("%s", reason)
    return PRIORS[concrete](runtime=runtime, device=device)
