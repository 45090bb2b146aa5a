"""The ``sd2-controlnet`` engine: the paper's ablation, SD2 base + a 4-channel cut-out ControlNet.

It runs a ControlNet the user trained with ``packshot train --mode sd2-controlnet`` (no such weights are
published), named with ``--model ID`` or, when exactly one such model is in the models folder, that one.
Framing, seeds, steps, guidance, previews and the paste-back of the product are those of the other
generative engines (``render_background``, the learned upscale of ``packshot.core.generation.upscale``, then
``packshot.core.generation.composite``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from packshot.core.errors import ModelMissingError, PackshotError
from packshot.core.generation.engines.diffusion import DiffusionEngine, render_background
from packshot.core.generation.sd2_components import CONTROLNET_PIPELINE, loaded_sd2_controlnet
from packshot.core.generation.settings import GenerationSettings
from packshot.core.progress import CancelToken, ProgressCallback, check

ENGINE_NAME = "sd2-controlnet"
TRAIN_HINT = "packshot train PHOTOS --name NAME --mode sd2-controlnet"


def sd2_controlnet_models(store: Any) -> list[str]:
    """Ids of the user's SD2 + ControlNet models (the folders ``packshot train --mode sd2-controlnet`` writes)."""
    return [s.id for s in store.list_models()
            if s.user and s.kind == "diffusers" and s.extra.get("pipeline") == CONTROLNET_PIPELINE]


def engine_for_model(store: Any, model_id: str) -> str:
    """The generative engine that runs ``model_id``: ``sd2-controlnet`` for an SD2 + ControlNet folder, else
    ``si2-controlnet`` (the paper's layout)."""
    try:
        pipeline = store.spec(model_id).extra.get("pipeline")
    except ModelMissingError:
        pipeline = None
    return ENGINE_NAME if pipeline == CONTROLNET_PIPELINE else "si2-controlnet"


class SD2ControlNetEngine(DiffusionEngine):
    """Same engine life cycle as ``DiffusionEngine`` (lazy, shared models), on SD2 base + a cut-out ControlNet."""

    def __init__(self, runtime: Any, device: str = "auto", max_batch: int | None = None,
                 model_id: str | None = None) -> None:
        super().__init__(ENGINE_NAME, runtime, device, max_batch=max_batch, model_id=model_id)
        self.use_controlnet = True
        self.controlnet_model = model_id  # None: the one trained SD2 ControlNet, if there is exactly one

    def resolve_model_id(self) -> str:
        if self.controlnet_model:
            return self.controlnet_model
        found = sd2_controlnet_models(self.store)
        if len(found) == 1:
            return found[0]
        if not found:
            raise ModelMissingError(
                "The sd2-controlnet engine (the paper's SD2 + ControlNet ablation) runs a ControlNet you train; "
                f"none is in your models folder. Train one with `{TRAIN_HINT}`, then pass --model NAME.")
        # Missing in the sense that no one model is named: the app shows it where it shows missing weights.
        raise ModelMissingError(f"Several SD2 ControlNet models are in your models folder ({', '.join(found)}); "
                                "choose one with --model (eval: sd2-controlnet@NAME).")

    def resolve_folder(self) -> Path:
        return self.store.path(self.resolve_model_id())

    def available(self) -> bool:
        try:
            self.resolve_folder()
        except PackshotError:
            return False
        return True

    def models(self):
        """The runtime's SD2 base + ControlNet of this engine's model (loaded on first use)."""
        from packshot.core.devices import default_dtype, pick_device

        device = pick_device(self.device_preference)
        return loaded_sd2_controlnet(self.runtime, self.resolve_folder(), device, default_dtype(device))

    def render(self, photo: Any, mask: Any, settings: GenerationSettings,
               progress: Optional[ProgressCallback] = None,
               cancel: Optional[CancelToken] = None) -> list[np.ndarray]:
        settings.validate()
        check(cancel)
        loaded = self.models()
        return render_background(loaded.pipeline, photo, mask, settings, controlnet_scale=settings.controlnet_scale,
                                 max_batch=self.batch_size(loaded), progress=progress, cancel=cancel,
                                 label=self.name, tiny_decoder=self.tiny_decoder(loaded),
                                 upscaler=self.upscaler_for(settings))
