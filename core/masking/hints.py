"""What a run without some weights tells the user: what each missing model would improve.

Missing weights change more than the background: without a learned salient-object model (BiRefNet)
masks come from the classic OpenCV prior, which can keep old backdrop or shadow and cut into
products that look like their backdrop; without SAM nothing refines the mask's outline. The note
says so, with the command that fixes it, instead of only mentioning generated backgrounds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from packshot.core.models.store import ModelStore

BACKGROUNDS_OFF = ("Generated backgrounds are off: no weights for '{model}'. Using a white background with the "
                   "{masker} mask. To enable them: packshot models download {model}")
MASKS_CLASSIC = ("Masks come from the classic (OpenCV) prior{sam}: it can keep bits of the old backdrop or its "
                 "shadow and cut into products that look like their backdrop. Better masks: {fixes}. "
                 "To get them: packshot models download {ids}")
MASKS_NO_SAM = ("Masks come from {prior} alone: SAM would refine their outline (thin parts, edges). "
                "To get it: packshot models download {ids}")
BIREFNET_FIX = "BiRefNet finds the product itself, not the backdrop or the shadow ({model_id}, {size})"
SAM_FIX = "SAM refines the outline ({model_id}, {size})"


def _size(model_id: str) -> str:
    from packshot.core.models.manifest import load_manifest

    spec = load_manifest().get(model_id)
    return spec.size_text if spec else "unknown size"


def masker_label(prior: str, sam: bool) -> str:
    """How the mask is made, in the words of the notes: "SAM", "BiRefNet", "IS-Net" or "classic"."""
    if sam:
        return "SAM"
    return {"birefnet": "BiRefNet", "birefnet-lite": "BiRefNet", "isnet": "IS-Net"}.get(prior, "classic")


def missing_weights_notes(*, background_model: Optional[str] = None, sam_model: Optional[str] = None,
                          prior_model: Optional[str] = None, prior: str = "classic") -> list[str]:
    """The notes (one line each) for a run that lacks some weights; empty when nothing is missing.

    Each ``*_model`` is the id of a missing model (None: present, or not wanted): the generative
    background model, the SAM checkpoint, the learned prior (BiRefNet's id). ``prior`` is the
    concrete prior that will make the masks ("classic", "isnet", "birefnet", "birefnet-lite").
    """
    notes = []
    if background_model:
        notes.append(BACKGROUNDS_OFF.format(model=background_model, masker=masker_label(prior, not sam_model)))
    if prior == "classic" and (prior_model or sam_model):
        fixes, ids = [], []
        if prior_model:
            fixes.append(BIREFNET_FIX.format(model_id=prior_model, size=_size(prior_model)))
            ids.append(prior_model)
        if sam_model:
            fixes.append(SAM_FIX.format(model_id=sam_model, size=_size(sam_model)))
            ids.append(sam_model)
        notes.append(MASKS_CLASSIC.format(sam="" if sam_model else " seeding SAM", fixes="; ".join(fixes),
                                          ids=" ".join(ids)))
    elif sam_model:
        notes.append(MASKS_NO_SAM.format(prior=masker_label(prior, False), ids=sam_model))
    return notes


def mask_weights_missing(store: ModelStore, prior: str = "auto", masker: str = "auto", sam_variant: str = "vit_b",
                         device: str = "auto") -> dict:
    """``missing_weights_notes`` arguments for automatic masks made with these settings: which of SAM
    and BiRefNet an "auto" setting would use if they were there (the BiRefNet for the device: lite on
    the CPU), and the prior that will be used now."""
    from packshot.core.masking.prior import MODEL_IDS, resolve_prior

    concrete = resolve_prior(prior, store, device)[0]
    sam_model = None
    if masker == "auto":
        from packshot.core.errors import PackshotError
        from packshot.core.masking.sam_models import model_id_for

        try:
            sam_id = model_id_for(sam_variant)
            sam_model = None if store.locate(sam_id) is not None else sam_id
        except PackshotError:  # an unknown variant: the masker reports it, not this note
            sam_model = None
    prior_model = None
    if prior == "auto" and concrete == "classic":
        from packshot.core.masking.prior_learned import runs_on_gpu

        prior_model = MODEL_IDS["birefnet" if device != "cpu" and runs_on_gpu(device) else "birefnet-lite"]
    return {"sam_model": sam_model, "prior_model": prior_model, "prior": concrete}
