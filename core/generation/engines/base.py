"""The interface every background engine offers, generative or not."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from packshot.core.generation.settings import GenerationSettings
from packshot.core.progress import CancelToken, ProgressCallback


class BackgroundEngine:
    """Makes backgrounds for a photo; the product is put back later by ``composite``.

    ``render`` returns one H x W x 3 uint8 background per variant at the photo's full resolution.
    """

    name: str = ""
    needs_models: bool = False
    model_ids: tuple[str, ...] = ()

    def available(self) -> bool:
        """True when everything ``render`` needs is on this machine."""
        return True

    def render(self, photo: Any, mask: Any, settings: GenerationSettings,
               progress: Optional[ProgressCallback] = None,
               cancel: Optional[CancelToken] = None) -> list[np.ndarray]:
        raise NotImplementedError

    # The learned upscale (``packshot.core.generation.engines.upscaled.LearnedUpscale`` overrides these): an engine
    # that paints at the photo's own size never upscales.
    def upscaler_id(self, settings: GenerationSettings) -> Optional[str]:
        """The upscaler that enlarges this engine's backgrounds for ``settings``; None: none."""
        return None

    def upscaler_for(self, settings: GenerationSettings) -> Any:
        """The loaded upscaler for ``settings``, or None."""
        return None

    def upscaler_record(self, settings: GenerationSettings, device_type: Optional[str] = None) -> dict:
        """The recipe's record of the upscaler; {} for none."""
        return {}

    def upscale_note(self, settings: GenerationSettings) -> Optional[str]:
        """What a final render says about its upscale; None: nothing."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def object_mask(mask: Any, shape: tuple[int, int]) -> np.ndarray:
    """The product as an H x W bool array from a MaskResult (or any object with .mask/.alpha)."""
    arr = getattr(mask, "mask", None)
    if arr is None:
        arr = np.asarray(mask.alpha) >= 0.5
    arr = np.asarray(arr).astype(bool)
    if arr.shape != tuple(shape):
        raise ValueError(f"Mask is {arr.shape[1]} x {arr.shape[0]} but the photo is {shape[1]} x {shape[0]}.")
    return arr
