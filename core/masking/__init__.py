"""Product masks: automatic (salient prior -> SAM, or the prior alone), interactive, files.

Public API (imported lazily: ``import packshot.core.masking`` loads neither torch nor OpenCV):

- ``MaskResult(mask, alpha, score, source, details)``: full-resolution bool mask, soft float32
  alpha, trust score in [0, 1], source "sam-vit_b" | "sam-vit_l" | "sam-vit_h" | "sam-tiny" |
  "classic" | "alpha-channel" | "file" | "edited" ("empty": a session with no initial mask, unedited).
- ``build_masker(kind="auto", runtime=None, sam_variant="vit_b", device="auto", *, prior="auto",
  cache_size=8) -> Masker``: ``.name``, ``.compute(photo, cancel=None) -> MaskResult``,
  ``.session(photo, initial=None) -> MaskSession``, ``.precompute(photos_or_paths, cancel=None,
  progress=no_progress) -> int`` (worker thread; 0 for classic); SAM maskers also expose ``.cache``.
- ``MaskSession``: ``add_click(x, y, positive=True)``, ``set_box(x0, y0, x1, y1)``, ``clear_box()``,
  ``brush(points, radius, erase=False)``, ``undo()``, ``redo()``, ``reset()``, ``.mask``,
  ``result() -> MaskResult``, ``prepare(cancel)`` (embedding now, e.g. on a worker thread).
- ``EmbeddingCache(sam, capacity=8)``: ``get(photo)``,
  ``precompute(photos_or_paths, cancel, progress)``; thread-safe (a session itself is not: one
  thread at a time per session).
- ``load_mask_png(path, size)``, ``save_mask_png(path, mask_or_alpha)``, ``mask_path_for(photo_path,
  masks_dir)``.
- Post-processing: ``fill_holes``, ``drop_specks``, ``clean_mask``, ``soft_alpha``, ``snap_to_edges``,
  ``resize_mask``, ``resize_alpha``.
- SAM loading: ``sam_for(runtime, variant, device) -> LoadedSam`` (``packshot.core.masking.sam_models``; one
  per runtime, checkpoint and device), ``load_sam_checkpoint``, ``SAM_BUILDERS``, ``infer_arch``.
- Priors: ``get_prior(name, runtime)``, ``resolve_prior(name, store)``, ``PRIORS``, ``CHOICES``,
  ``ClassicPrior`` (OpenCV, no weights), ``IsNetPrior`` (IS-Net ONNX, when its weights are present).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "MaskResult": "packshot.core.masking.result",
    "build_masker": "packshot.core.masking.maskers",
    "Masker": "packshot.core.masking.maskers",
    "ClassicMasker": "packshot.core.masking.maskers",
    "PriorMasker": "packshot.core.masking.maskers",
    "resolve_prior": "packshot.core.masking.prior",
    "CHOICES": "packshot.core.masking.prior",
    "IsNetPrior": "packshot.core.masking.prior_learned",
    "SamMasker": "packshot.core.masking.maskers",
    "from_alpha_channel": "packshot.core.masking.maskers",
    "MaskSession": "packshot.core.masking.session",
    "GrabCutBackend": "packshot.core.masking.session",
    "SamBackend": "packshot.core.masking.session",
    "EmbeddingCache": "packshot.core.masking.embedding",
    "load_mask_png": "packshot.core.masking.maskio",
    "save_mask_png": "packshot.core.masking.maskio",
    "mask_path_for": "packshot.core.masking.maskio",
    "fill_holes": "packshot.core.masking.postprocess",
    "drop_specks": "packshot.core.masking.postprocess",
    "clean_mask": "packshot.core.masking.postprocess",
    "soft_alpha": "packshot.core.masking.postprocess",
    "snap_to_edges": "packshot.core.masking.postprocess",
    "resize_mask": "packshot.core.masking.postprocess",
    "resize_alpha": "packshot.core.masking.postprocess",
    "load_sam_checkpoint": "packshot.core.masking.sam_models",
    "LoadedSam": "packshot.core.masking.sam_models",
    "SAM_BUILDERS": "packshot.core.masking.sam_models",
    "infer_arch": "packshot.core.masking.sam_models",
    "get_prior": "packshot.core.masking.prior",
    "PRIORS": "packshot.core.masking.prior",
    "ClassicPrior": "packshot.core.masking.prior_classic",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'packshot.core.masking' has no attribute {name!r}")
    return getattr(import_module(module), name)
