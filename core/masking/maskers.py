"""Automatic maskers: salient prior -> SAM prompts -> SAM, or a salient prior alone.

``build_masker`` picks one; every masker has ``.name`` and ``.compute(photo, cancel) -> MaskResult``
and can open an interactive ``MaskSession`` on a photo. A photo whose file carried an alpha
channel is masked by that alpha (source "alpha-channel") whatever the masker. The prior is the
learned IS-Net where its weights are present, else the classic OpenCV one (``prior="auto"``);
every result names the prior it used in ``details["prior"]``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Protocol

import numpy as np

from packshot.core.images import Photo
from packshot.core.masking.postprocess import finish_mask, snap_to_edges
from packshot.core.masking.prior import CHOICES as PRIOR_CHOICES
from packshot.core.masking.prior import PRIORS, PriorResult, SalientPrior, get_prior, resolve_prior
from packshot.core.masking.prompts import prompts_at_work_size
from packshot.core.masking.result import MaskResult, stored_mask
from packshot.core.progress import CancelToken, ProgressCallback, check, no_progress
from packshot.core.quality.mask_evidence import mask_evidence
from packshot.core.quality.metric import iou as _iou

if TYPE_CHECKING:
    from packshot.core.masking.embedding import EmbeddingCache
    from packshot.core.masking.sam_models import LoadedSam
    from packshot.core.masking.session import MaskSession
    from packshot.core.runtime import Runtime

log = logging.getLogger(__name__)


class Masker(Protocol):
    name: str

    def compute(self, photo: Photo, cancel: Optional[CancelToken] = None) -> MaskResult: ...

    def session(self, photo: Photo, initial: Optional[MaskResult] = None) -> MaskSession: ...

    def precompute(self, photos: Iterable[Photo | Path | str], cancel: Optional[CancelToken] = None,
                   progress: ProgressCallback = no_progress) -> int: ...


def from_alpha_channel(photo: Photo) -> Optional[MaskResult]:
    """The photo's own transparency as its mask (a cut-out needs no segmentation), else None."""
    if photo.alpha is None:
        return None
    alpha = np.clip(photo.alpha.astype(np.float32), 0.0, 1.0)
    mask = alpha >= 0.5
    return MaskResult(mask, alpha, 1.0, "alpha-channel", {"coverage": round(float(mask.mean()), 4)})


class PriorMasker:
    """A salient prior alone, no SAM (the classic OpenCV prior or the learned IS-Net), snapped to edges.

    ``name`` and every result's ``source`` are the prior's name ("classic" or "isnet").
    """

    def __init__(self, prior: Optional[SalientPrior] = None, fallback_reason: Optional[str] = None,
                 prior_fallback: Optional[str] = None) -> None:
        self.prior = prior or get_prior("classic")
        self.fallback_reason = fallback_reason  # why there is no SAM (kind "auto")
        self.prior_fallback = prior_fallback  # why the prior is not the learned one (prior "auto")

    @property
    def name(self) -> str:
        return self.prior.name

    def compute(self, photo: Photo, cancel: Optional[CancelToken] = None) -> MaskResult:
        check(cancel)
        if (own := from_alpha_channel(photo)) is not None:
            return own
        start = time.perf_counter()
        rgb = photo.rgb8
        prior = self.prior(rgb)
        check(cancel)
        mask, alpha = prior_to_full_mask(prior, rgb)
        details = dict(prior.details, prior=self.prior.name)
        if self.prior.name != "classic":  # the classic prior models the backdrop itself
            shadow, note = studio_shadow(rgb)
            trimmed = _without_shadow(mask, shadow, rgb)
            if trimmed is not None:
                removed = 1.0 - trimmed.sum() / max(1, mask.sum())
                mask, alpha = finish_mask(trimmed, rgb)
                details.update(backdrop=note, shadow_removed=True, shadow_removed_fraction=round(float(removed), 4))
        doubt = _no_studio_doubt(details)
        # a photo with no studio backdrop is doubtful as it is: a second reading would not change that
        second = None if doubt else self._second_reading(rgb, cancel)
        first = None if second is None else reading_before_shape_steps(prior, rgb)
        details["evidence"] = mask_evidence(rgb, stored_mask(alpha), details, second_reading=second,
                                            first_reading=first).to_json()
        details["seconds"] = round(time.perf_counter() - start, 3)
        if self.fallback_reason:
            details["fallback"] = self.fallback_reason
        if self.prior_fallback:
            details["prior_fallback"] = self.prior_fallback
        return MaskResult(mask, alpha, prior.score, self.prior.name, details, doubt=doubt)

    def _second_reading(self, rgb: np.ndarray, cancel: Optional[CancelToken]) -> Optional[np.ndarray]:
        """The prior's mask from a smaller copy of the photo, for the gate (core/quality/evidence_scale.py);
        None for a prior that has no working size to change (a learned one reads at its network's size)."""
        at_work_side = getattr(self.prior, "at_work_side", None)
        if at_work_side is None:
            return None
        from packshot.core.quality.evidence_scale import second_work_side

        check(cancel)
        other = at_work_side(second_work_side(self.prior.work_side))
        return stored_mask(prior_to_full_mask(other(rgb), rgb)[1])

    def session(self, photo: Photo, initial: Optional[MaskResult] = None) -> MaskSession:
        from packshot.core.masking.session import GrabCutBackend, MaskSession

        return MaskSession(photo, GrabCutBackend(photo), initial=initial)

    def precompute(self, photos: Iterable[Photo | Path | str], cancel: Optional[CancelToken] = None,
                   progress: ProgressCallback = no_progress) -> int:
        """Nothing to prepare without SAM (GrabCut clicks need no embedding); returns 0."""
        return 0


def _no_studio_doubt(details: dict) -> Optional[str]:
    """Why the classic prior's mask of a photo without a studio backdrop needs a look (None otherwise).

    Off a seamless backdrop it can only go by colour, which busy scenes (lifestyle shots) defeat."""
    if details.get("prior") != "classic" or not str(details.get("cue", "")).startswith("colour"):
        return None
    reason = details.get("backdrop")
    if not reason or not str(reason).startswith("no studio backdrop"):
        return None
    return (f"{reason}; the classic mask goes by colour alone here (a learned prior, BiRefNet, or SAM "
            "separates a product from a busy scene)")


def reading_before_shape_steps(prior: PriorResult, rgb: np.ndarray) -> Optional[np.ndarray]:
    """The stored mask the prior would give without its shape step (the classic prior's mirror
    symmetry): what the gate's second reading, which does not take that step, is compared with.
    None when the step changed nothing (the prior's own mask is then the first reading)."""
    if prior.unmirrored is None:
        return None
    return stored_mask(prior_to_full_mask(dataclasses.replace(prior, mask=prior.unmirrored), rgb)[1])


def prior_to_full_mask(prior: Any, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The prior's mask (computed at its work size) snapped to the photo's edges, cleaned, with soft alpha."""
    work_w = prior.details.get("work_size", [rgb.shape[1]])[0]
    scale = rgb.shape[1] / max(1, work_w)
    snapped = scale > 1.5 and prior.details.get("outline") != "unmixed"  # the classic prior unmixes its own
    mask = snap_to_edges(prior.mask, rgb, int(np.ceil(scale))) if snapped else prior.mask
    return finish_mask(mask, rgb)


ClassicMasker = PriorMasker  # its name before learned priors existed; build_masker("classic") makes one


class SamMasker:
    """The paper's recipe: prior -> points and box -> SAM, scored by SAM's IoU and stability."""

    def __init__(self, sam: LoadedSam, prior: Optional[SalientPrior] = None,
                 cache: Optional[EmbeddingCache] = None, n_points: int = 3,
                 prior_fallback: Optional[str] = None) -> None:
        from packshot.core.masking.embedding import EmbeddingCache

        self.sam = sam
        self.prior = prior or get_prior("classic")
        self.prior_fallback = prior_fallback
        self.cache = cache if cache is not None else EmbeddingCache(sam)
        self.n_points = n_points

    @property
    def name(self) -> str:
        return self.sam.name

    def compute(self, photo: Photo, cancel: Optional[CancelToken] = None) -> MaskResult:
        from packshot.core.masking.embedding import predictor_for
        from packshot.core.masking.sam_predict import predict

        check(cancel)
        if (own := from_alpha_channel(photo)) is not None:
            return own
        start = time.perf_counter()
        rgb = photo.rgb8
        prior = self.prior(rgb)
        check(cancel)
        shadow, backdrop_note = studio_shadow(rgb)
        prompts = prompts_at_work_size(prior.mask, self.n_points, shadow=shadow)
        embedding = self.cache.get(photo, cancel)
        check(cancel)
        predictor = predictor_for(self.sam, embedding)
        first = predict(predictor, embedding, prompts, multimask=True, prior=prior.mask)
        # SAM's own refinement step: the same prompts again with its low-res logits as mask input
        pred = predict(predictor, embedding, prompts, mask_input=first.low_res_logits, multimask=False)
        if pred.score < first.score:
            pred = first
        agreement = _iou(pred.mask, prior.mask) if prior.mask.any() else 0.0
        # SAM sure of itself but at odds with a confident prior (a label instead of the bottle,
        # say) is worth a look: the disagreement lowers the score by up to half
        score = pred.score * (1.0 - 0.5 * prior.score * (1.0 - agreement))
        source = self.sam.name
        removed = None
        if not pred.mask.any() and prior.mask.any():  # SAM kept nothing: the prior's mask beats no mask
            mask, alpha = prior_to_full_mask(prior, rgb)
            source, score = self.prior.name, prior.score
        else:
            # SAM likes to take the contact shadow along with the product: the backdrop model says where it is
            trimmed = _without_shadow(pred.mask, shadow, rgb)
            mask, alpha = finish_mask(pred.mask if trimmed is None else trimmed, rgb)
            if trimmed is not None:
                backdrop_note = f"{backdrop_note}; its shadow was taken out of SAM's mask"
                removed = round(float(1.0 - trimmed.sum() / max(1, pred.mask.sum())), 4)
        details = {
            "model_id": self.sam.model_id, "prior": self.prior.name, "prior_score": round(prior.score, 4),
            "prior_agreement": round(agreement, 4), "predicted_iou": round(pred.predicted_iou, 4),
            "stability": round(pred.stability, 4), "candidates": first.candidates,
            "prompts": prompts.to_json(), "embedding_seconds": round(embedding.seconds, 3),
            "seconds": round(time.perf_counter() - start, 3),
        }
        if not prior.mask.any():
            details["prior_empty"] = True
        if removed is not None:
            details["shadow_removed_fraction"] = removed
        details["evidence"] = mask_evidence(rgb, stored_mask(alpha), details).to_json()
        if backdrop_note:
            details["backdrop"] = backdrop_note
        if self.prior_fallback:
            details["prior_fallback"] = self.prior_fallback
        if source != self.sam.name:
            details["sam_rejected"] = f"SAM's mask scored {pred.score:.2f}; the {self.prior.name} prior's mask is used"
        return MaskResult(mask, alpha, score, source, details)

    def session(self, photo: Photo, initial: Optional[MaskResult] = None) -> MaskSession:
        from packshot.core.masking.session import MaskSession, SamBackend

        return MaskSession(photo, SamBackend(self.sam, photo, self.cache), initial=initial)

    def precompute(self, photos: Iterable[Photo | Path | str], cancel: Optional[CancelToken] = None,
                   progress: ProgressCallback = no_progress) -> int:
        """Encode the next photos into the shared cache (call from a worker thread); returns how many."""
        return self.cache.precompute(photos, cancel, progress)


def build_masker(kind: str = "auto", runtime: Optional[Runtime] = None, sam_variant: str = "vit_b",
                 device: str = "auto", *, prior: str = "auto", cache_size: int = 8) -> Masker:
    """A masker by kind: "sam" (raises ModelMissingError without weights), "classic", or "auto".

    SAM and the learned prior's session come from ``runtime`` (None only when no weights are needed:
    ``kind="classic", prior="classic"``). ``kind`` says whether SAM refines the prior: "auto" uses SAM when the
    runtime's store has the
    ``sam-<variant>`` weights, else the prior alone, and says so in every result's
    ``details["fallback"]`` and in the log. ``prior`` picks the salient prior that seeds SAM (or
    stands alone): "auto" = the learned IS-Net when ``isnet-general-use`` is in the store, else
    "classic" (reason in ``details["prior_fallback"]``); "isnet" (raises ModelMissingError without
    weights); "classic". ``kind="classic"`` means no model weights at all, so its "auto" prior is
    the classic one; ``kind="classic", prior="isnet"`` is the learned prior alone.
    """
    if kind not in ("auto", "sam", "classic"):
        raise ValueError(f"unknown masker kind {kind!r}; use auto, sam or classic")
    if kind == "classic" and prior == "auto":
        prior = "classic"
    if prior not in PRIOR_CHOICES:
        resolve_prior(prior, None)  # raises ValueError naming the known priors
    if kind == "classic" and prior == "classic":
        return PriorMasker(get_prior("classic"))
    if runtime is None:
        raise ValueError(f"A {kind!r} masker with the {prior!r} prior may load models: pass the caller's Runtime.")
    store = runtime.store
    sam_missing: Optional[str] = None
    if kind != "classic":
        from packshot.core.masking.sam_models import model_id_for

        sam_id = model_id_for(sam_variant)
        if kind == "sam":
            store.path(sam_id)  # missing SAM fails before the prior's model is loaded
        elif store.locate(sam_id) is None:
            sam_missing = store.missing_message(sam_id)
    concrete, prior_fallback = resolve_prior(prior, store, device)
    if prior_fallback:
        log.info("%s", prior_fallback)
    salient = PRIORS[concrete](runtime=runtime, device=device)
    if kind == "classic" or sam_missing:
        reason = None
        if sam_missing:
            reason = f"{sam_missing} Using the {salient.name} mask instead."
            log.info("%s", reason)
        return PriorMasker(salient, fallback_reason=reason, prior_fallback=prior_fallback)
    from packshot.core.masking.embedding import EmbeddingCache
    from packshot.core.masking.sam_models import sam_for

    sam = sam_for(runtime, sam_variant, device)
    return SamMasker(sam, salient, EmbeddingCache(sam, cache_size), prior_fallback=prior_fallback)


def studio_shadow(rgb: np.ndarray, side: int = 400) -> tuple[Optional[np.ndarray], Optional[str]]:
    """The backdrop's shadow on a studio shot (bool, at a copy ``side`` px long) and the backdrop's
    description; (None, None) when the photo has no studio backdrop."""
    import cv2

    from packshot.core.masking.backdrop import backdrop_regions, estimate_backdrop

    h, w = rgb.shape[:2]
    factor = min(1.0, side / max(h, w))
    small = rgb if factor >= 1.0 else cv2.resize(rgb, (max(8, round(w * factor)), max(8, round(h * factor))),
                                                 interpolation=cv2.INTER_AREA)
    backdrop = estimate_backdrop(small, work_side=256)
    if not backdrop.is_studio:
        return None, None
    return backdrop_regions(small, backdrop, 1.0 / factor).shadow, backdrop.reason


def _without_shadow(mask: np.ndarray, shadow: Optional[np.ndarray], rgb: np.ndarray,
                    least: float = 0.5) -> Optional[np.ndarray]:
    """``mask`` minus the backdrop's shadow where the mask ends in it, or None when that changes nothing
    or would take away more than ``1 - least`` of the mask (then the shadow map is not to be trusted).

    The shadow map says what looks like shaded backdrop; a tone-on-tone product can look so too. A
    shadow that a mask swallowed has the mask's outline running over it smoothly (the shadow goes on
    outside), while a product's outline is an edge in the photo. So a piece of shadow inside the
    mask is taken out only where most of the mask's outline along it runs over no edge.
    """
    import cv2

    from packshot.core.masking.postprocess import drop_specks, resize_mask
    from packshot.core.quality.mask_evidence import outline_off_edges

    if shadow is None or not mask.any():
        return None
    size = (shadow.shape[1], shadow.shape[0])
    small = cv2.resize(np.ascontiguousarray(rgb[:, :, :3]), size, interpolation=cv2.INTER_AREA)
    m_small = resize_mask(mask, size)
    overlap = m_small & shadow
    if overlap.sum() < 0.002 * max(1, m_small.sum()):
        return None
    smooth_outline = outline_off_edges(small, m_small)
    outline = m_small & ~cv2.erode(m_small.astype(np.uint8), np.ones((3, 3), np.uint8),
                                   borderType=cv2.BORDER_REPLICATE).astype(bool)
    count, labels = cv2.connectedComponents(overlap.astype(np.uint8), connectivity=8)
    near = np.ones((5, 5), np.uint8)
    take = np.zeros(count, bool)
    for c in range(1, count):
        piece = labels == c
        grown = cv2.dilate(piece.astype(np.uint8), near).astype(bool)
        rim = grown & outline
        beyond = grown & ~m_small  # a swallowed shadow goes on past the mask's outline
        if rim.sum() >= 3 and (rim & smooth_outline).sum() >= 0.6 * rim.sum() \
                and (beyond & shadow).sum() >= 0.5 * max(1, int(beyond.sum())):
            take[c] = True
    if not take.any():
        return None
    shade = resize_mask(take[labels], (mask.shape[1], mask.shape[0]))
    # the piece was found at the work size: where it meets the product it may cover a work pixel
    # of product at full size, so a band of that width along what stays is given back
    band = int(np.ceil(mask.shape[1] / max(1, size[0]))) + 1
    kept = (mask & ~shade).astype(np.uint8)
    shade &= ~cv2.dilate(kept, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))).astype(bool)
    trimmed = drop_specks(mask & ~shade)
    return trimmed if trimmed.sum() >= least * mask.sum() else None


__all__ = ["Masker", "PriorMasker", "ClassicMasker", "SamMasker", "build_masker", "from_alpha_channel"]
