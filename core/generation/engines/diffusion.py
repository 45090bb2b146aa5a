"""The generative engines: ``si2-controlnet`` (the paper) and ``si2`` (SD2 inpainting alone)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from packshot.core.errors import ModelMissingError
from packshot.core.generation.engines.base import BackgroundEngine, object_mask
from packshot.core.generation.engines.upscaled import LearnedUpscale
from packshot.core.generation.framing import Letterbox
from packshot.core.generation.settings import GenerationSettings
from packshot.core.progress import CancelToken, Progress, ProgressCallback, check, preview_every

if TYPE_CHECKING:
    from packshot.core.runtime import Runtime

PAPER_MODEL = "photo-background-generation"
SI2_MODEL = "sd2-inpainting"


class DiffusionEngine(LearnedUpscale, BackgroundEngine):
    """SD2 inpainting (+ the paper's ControlNet); backgrounds reach the photo's size through ``LearnedUpscale``."""

    needs_models = True

    def __init__(self, name: str, runtime: Runtime, device: str = "auto", max_batch: int | None = None,
                 model_id: str | None = None) -> None:
        self.name = name
        self.runtime = runtime  # owns the loaded models; the engine only knows which ones it needs
        self.store = runtime.store
        self.device_preference = device
        self.max_batch = max_batch  # None: automatic (see batch_size)
        self.use_controlnet = name == "si2-controlnet"
        self.controlnet_model = model_id or PAPER_MODEL

    @property
    def model_ids(self) -> tuple[str, ...]:
        """The model this engine runs on now (what pre-flight checks and recipes name)."""
        return (self.resolve_model_id(),)

    def resolve_model_id(self) -> str:
        """``si2`` takes SD2 inpainting, or the paper folder's SI2 weights when SD2 inpainting is absent."""
        if self.use_controlnet:
            return self.controlnet_model
        for model_id in (SI2_MODEL, PAPER_MODEL):
            if self.store.locate(model_id) is not None:
                return model_id
        return SI2_MODEL

    def resolve_folder(self) -> Path:
        model_id = self.resolve_model_id()
        if model_id == SI2_MODEL and not self.use_controlnet and self.store.locate(SI2_MODEL) is None:
            raise ModelMissingError(self.store.missing_message(SI2_MODEL)
                                    + f" ('{PAPER_MODEL}' also holds these weights and would do.)")
        return self.store.path(model_id)

    def available(self) -> bool:
        try:
            self.resolve_folder()
        except ModelMissingError:
            return False
        return True

    def models(self):
        """This engine's models, loaded by its runtime on first use (shared with its other engines)."""
        from packshot.core.devices import default_dtype, pick_device
        from packshot.core.generation.loaded import diffusion_models

        device = pick_device(self.device_preference)
        loaded = diffusion_models(self.runtime, self.resolve_folder(), device, default_dtype(device))
        if self.use_controlnet:
            loaded.ensure_controlnet()
        return loaded

    @property
    def pipeline(self):
        return self.models().pipeline

    def batch_size(self, loaded: Any) -> int | None:
        """Variants per denoising batch: all of them on a GPU with room; one at a time otherwise.

        On the CPU batching buys little (the work is compute-bound) and a variant computed alone is
        bit-identical to its replay from a recipe (seed, settings); in a batch, kernel blocking
        changes the float rounding. With CPU offload (small GPUs) memory is the limit.
        """
        if self.max_batch:
            return self.max_batch
        if loaded.offloaded or getattr(loaded.device, "type", "cpu") != "cuda":
            return 1
        return None

    def render(self, photo: Any, mask: Any, settings: GenerationSettings,
               progress: Optional[ProgressCallback] = None,
               cancel: Optional[CancelToken] = None) -> list[np.ndarray]:
        settings = self.with_resolved_detail(settings.validate())  # "auto": the detail pass on a GPU
        check(cancel)
        loaded = self.models()
        max_batch = self.batch_size(loaded)
        scale = settings.controlnet_scale if self.use_controlnet else 0.0
        return render_background(loaded.pipeline, photo, mask, settings, controlnet_scale=scale,
                                 max_batch=max_batch, progress=progress, cancel=cancel, label=self.name,
                                 tiny_decoder=self.tiny_decoder(loaded), upscaler=self.upscaler_for(settings))

    def tiny_decoder(self, loaded: Any) -> Any:
        """TAESD for previews and live previews, when its weights are present (else None)."""
        from packshot.core.generation import preview

        return preview.tiny_decoder(self.runtime, loaded.device, loaded.dtype)


def object_map(mask: Any, shape: tuple[int, int]) -> np.ndarray:
    """The product as a soft H x W float32 map in [0, 1]: the mask's alpha, else its binary mask."""
    alpha = getattr(mask, "alpha", None)
    if alpha is None:
        return object_mask(mask, shape).astype(np.float32)
    alpha = np.clip(np.asarray(alpha, dtype=np.float32), 0.0, 1.0)
    if alpha.shape != tuple(shape):
        raise ValueError(f"Mask is {alpha.shape[1]} x {alpha.shape[0]} but the photo is {shape[1]} x {shape[0]}.")
    return alpha


def render_background(pipeline: Any, photo: Any, mask: Any, settings: GenerationSettings, *,
                      controlnet_scale: float, max_batch: int | None = None,
                      progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None,
                      label: str = "generate", tiny_decoder: Any = None, upscaler: Any = None) -> list[np.ndarray]:
    """Letterbox the photo onto the model canvas, run ``pipeline``, return full-size backgrounds.

    ``settings.quality`` decides the work (``packshot.core.generation.preview.plan_quality``): the final
    quality runs the settings as given; a preview runs fewer steps on a smaller canvas, with
    guidance on the first steps only, decoded by ``tiny_decoder`` when there is one.
    ``upscaler`` (``packshot.core.generation.upscale.Upscaler``, final quality only) enlarges the background to
    the photo's size; None: bicubic.
    """
    import cv2

    from packshot.core.generation.preview import LivePreview, plan_quality

    plan = plan_quality(settings.quality, settings.steps, settings.resolution)
    height, width = photo.pixels.shape[:2]
    product = object_map(mask, (height, width))
    box = Letterbox.fit(width, height, plan.resolution)
    canvas = box.to_canvas(photo.rgb8, fill=0)
    # Area-averaged onto the canvas, as the authors resize their maps: the edge stays soft. The
    # padded band counts as background: it is generated and then cut away.
    product_canvas = box.to_canvas(product, fill=0.0, interpolation=cv2.INTER_AREA)
    generate = np.clip(1.0 - product_canvas, 0.0, 1.0)  # soft; the pipeline binarises the UNet's copy
    seeds = settings.variant_seeds()
    batches = -(-len(seeds) // (max_batch or len(seeds)))
    total = plan.steps * batches
    report = progress or (lambda _p: None)
    every = preview_every(progress)
    live = LivePreview(every=every, decoder=tiny_decoder) if every else None

    def on_step(_pipe, step, t, state):
        image = live(step, t, state) if live is not None else None
        report(Progress("generate", step + 1, total, f"{label}: step {step + 1} of {total}", image=image))
        check(cancel)  # raises Cancelled between steps

    out = pipeline(
        canvas, generate, prompt=settings.prompt, negative_prompt=settings.negative_prompt, seeds=seeds,
        steps=plan.steps, guidance=settings.guidance, controlnet_scale=controlnet_scale,
        scheduler=settings.scheduler, max_batch=max_batch, callback_on_step_end=on_step,
        guidance_steps=plan.guidance_steps, decoder=tiny_decoder if plan.tiny_decoder else None)
    if upscaler is not None:
        report(Progress("generate", total, total, f"{label}: enlarging the background ({upscaler.model_id})"))
        enlarge = partial(upscaler, cancel=cancel)  # cancel is checked between tiles
    else:
        enlarge = None
    backgrounds = [box.from_canvas(image, enlarge) for image in out]
    if upscaler is not None and str(settings.detail) == "repaint":
        from packshot.core.generation.detail import repaint, supports_repaint

        if supports_repaint(pipeline):
            backgrounds = [repaint(pipeline, photo.rgb8, product, bg, settings, seed, controlnet_scale=controlnet_scale,
                                   tile=plan.resolution, cancel=cancel, report=report, label=label)
                           for bg, seed in zip(backgrounds, seeds)]
    return backgrounds
