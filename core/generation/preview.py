"""Preview quality and live previews: a believable background quickly, the final one later.

A preview runs the same models with the same seed and less work: fewer UniPC steps, a smaller
canvas, classifier-free guidance on the first steps only, and the tiny TAESD decoder instead of
the full VAE (the full VAE still encodes the masked photo, so the product's context is exact).
The final quality is the paper's settings, unchanged. A preview's recipe says it is one, and
``packshot replay OUTPUT --quality final`` renders the same seed at final quality.

Live previews decode the model's current estimate of the clean image every few steps: with
TAESD when it is present (a few milliseconds), else with a fixed linear map from SD latents to
RGB (blurry, but free).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from packshot.core.generation.settings import Quality

if TYPE_CHECKING:
    from packshot.core.runtime import Runtime

log = logging.getLogger(__name__)

TINY_DECODER_MODEL = "taesd"


@dataclass(frozen=True)
class PreviewRecipe:
    """What a preview changes. Chosen by ``tests/benchmarks/bench_generation`` on a 2-core CPU."""

    steps: int = 8
    resolution: int = 384
    guidance_fraction: float = 0.5  # guidance on the first half of the steps
    tiny_decoder: bool = True

    def guidance_steps(self, steps: int) -> int:
        return max(1, round(steps * self.guidance_fraction))


PREVIEW = PreviewRecipe()


@dataclass(frozen=True)
class QualityPlan:
    """The denoising work one quality asks for."""

    quality: Quality
    steps: int
    resolution: int
    guidance_steps: Optional[int]  # None: guidance on every step
    tiny_decoder: bool


def plan_quality(quality: Quality | str, steps: int, resolution: int, recipe: PreviewRecipe = PREVIEW
                 ) -> QualityPlan:
    """Final keeps the caller's steps and canvas; preview caps them at the preview recipe's."""
    quality = Quality(quality)
    if quality is Quality.FINAL:
        return QualityPlan(quality, steps, resolution, None, False)
    preview_steps = min(steps, recipe.steps)
    side = min(resolution, recipe.resolution)
    return QualityPlan(quality, preview_steps, side - side % 8, recipe.guidance_steps(preview_steps),
                       recipe.tiny_decoder)


def tiny_decoder(runtime: Runtime, device: Any, dtype: Any) -> Optional[Any]:
    """TAESD for previews, once per ``runtime``, when its weights are in the store; else None
    (previews use the full VAE)."""
    from packshot.core.errors import ModelMissingError

    try:
        folder = runtime.store.path(TINY_DECODER_MODEL)
    except (ModelMissingError, KeyError):
        return None
    key = (str(Path(folder).resolve()), str(device), str(dtype))
    return runtime.cached("tiny decoders", key, lambda: load_tiny_decoder(folder, device, dtype))


def load_tiny_decoder(folder: Path, device: Any, dtype: Any) -> Any:
    """TAESD (diffusers ``AutoencoderTiny``) from its folder: safetensors only, no code run."""
    from diffusers import AutoencoderTiny

    from packshot.core.generation.components import quiet_library_logs

    with quiet_library_logs():
        model = AutoencoderTiny.from_pretrained(str(folder), use_safetensors=True, torch_dtype=dtype)
    return model.to(device).eval()


# Stable Diffusion latents -> approximate RGB in [-1, 1]: a fixed linear map, widely used for
# step previews when no decoder is at hand (coefficients published with ComfyUI / A1111 previews).
LATENT_RGB = np.array([[0.298, 0.207, 0.208], [0.187, 0.286, 0.173],
                       [-0.158, 0.189, 0.264], [-0.184, -0.271, -0.473]], dtype=np.float32)


def clean_estimate(latents: Any, noise_pred: Any, scheduler: Any, timestep: Any) -> Any:
    """x0 = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t) for an epsilon-predicting model at ``timestep``."""
    import torch

    alphas = scheduler.alphas_cumprod.to(latents.device)
    a_t = alphas[int(timestep)].to(torch.float32)
    x0 = (latents.float() - (1 - a_t).sqrt() * noise_pred.float()) / a_t.sqrt()
    return x0


def latents_to_rgb8(latents: Any, decoder: Any = None) -> np.ndarray:
    """(N, H, W, 3) uint8 preview of SD latents: TAESD when given (full size), else the linear map (1/8 size)."""
    import torch

    with torch.inference_mode():
        if decoder is not None:
            weight_dtype = next(decoder.parameters()).dtype
            images = decoder.decode(latents.to(weight_dtype), return_dict=False)[0].float()
            images = (images / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1)
        else:
            rgb = torch.einsum("nchw,cr->nhwr", latents.float(), torch.from_numpy(LATENT_RGB))
            images = (rgb / 2 + 0.5).clamp(0, 1)
    return (images.cpu().numpy() * 255).round().astype(np.uint8)


PreviewSink = Callable[[int, np.ndarray], None]  # (step, N x H x W x 3 uint8)


class LivePreview:
    """A step callback that makes a preview of the background forming every ``every`` steps.

    It runs on the worker thread that runs the pipeline (never the UI thread); the GUI receives the
    small image through its progress signal.
    """

    def __init__(self, sink: Optional[PreviewSink] = None, every: int = 4, decoder: Any = None) -> None:
        self.sink, self.every, self.decoder = sink, max(1, every), decoder
        self.sent = 0

    def __call__(self, step: int, timestep: Any, state: dict) -> Optional[np.ndarray]:
        """The preview made at this step (also handed to ``sink``), or None between previews."""
        if (step + 1) % self.every:
            return None
        scheduler, eps = state.get("scheduler"), state.get("noise_pred")
        previous = state.get("previous_latents")
        if scheduler is not None and eps is not None and previous is not None and hasattr(scheduler, "alphas_cumprod"):
            estimate = clean_estimate(previous, eps, scheduler, timestep)
        else:
            estimate = state["latents"]
        images = latents_to_rgb8(estimate, self.decoder)
        if self.sink is not None:
            self.sink(step, images)
        self.sent += 1
        return images
