"""Measuring a model on photos: a fixed-noise denoising loss (same seed, same timesteps for every model,
so base and fine-tuned compare like for like)."""

from __future__ import annotations

import io
import random
from pathlib import Path

from packshot.core.images import write_atomic
from packshot.trainer.dataset import BrandDataset, Sample


def fixed_loss(folder: Path, samples: list[Sample], resolution: int, *, seed: int = 0, device: str = "cpu",
               mode: str = "controlnet") -> float:
    """Mean epsilon-MSE of the model in ``folder`` over ``samples`` at spread timesteps, fixed noise.

    ``mode``'s inputs (``packshot.trainer.modes``): SI2's 9 channels and the background map, or for ``sd2-controlnet``
    SD2 base's 4 channels and the cut-out; an SD2 base folder without a ControlNet gets the fresh one training
    starts from.
    """
    import torch
    import torch.nn.functional as F

    from packshot.trainer.modes import mode_class

    kind = mode_class(mode)
    parts = _sd2_parts(folder, seed) if mode == "sd2-controlnet" else kind.load_parts(folder, seed)
    for module in parts.modules():
        module.to(device)
    data = BrandDataset(samples, resolution, empty_caption_rate=0.0, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    scale = parts.vae.config.scaling_factor
    total = 0.0
    steps = len(samples)
    with torch.no_grad():
        for i in range(steps):
            item = data.item(i, random.Random(f"{seed}:fixed:{i}"))
            image, background = item["image"][None].to(device), item["background"][None].to(device)
            latents = parts.vae.encode(image).latent_dist.mode() * scale
            masked = parts.vae.encode(image * (background < 0.5)).latent_dist.mode() * scale
            mask = F.interpolate(background, size=latents.shape[-2:])
            ids = parts.tokenizer([item["caption"]], padding="max_length", truncation=True,
                                  max_length=parts.tokenizer.model_max_length, return_tensors="pt").input_ids
            text = parts.text_encoder(ids.to(device))[0]
            noise = torch.randn(latents.shape, generator=gen).to(device)
            t = torch.tensor([int(50 + 900 * i / max(1, steps - 1))], device=device)
            from diffusers import DDPMScheduler

            noisy = DDPMScheduler.from_config(parts.scheduler_config).add_noise(latents, noise, t)
            model_in = torch.cat([noisy, mask, masked], dim=1) if kind.inpainting else noisy
            down, mid = parts.controlnet(model_in, t, encoder_hidden_states=text,
                                         controlnet_cond=kind.control_image(image, background), return_dict=False)
            pred = parts.unet(model_in, t, encoder_hidden_states=text, down_block_additional_residuals=list(down),
                              mid_block_additional_residual=mid).sample
            total += F.mse_loss(pred, noise).item()
    return total / steps


def _sd2_parts(folder: Path, seed: int):
    """SD2 base + ControlNet of ``folder``: its trained ControlNet, or (a bare SD2 base) the fresh one."""
    import json

    from packshot.core.generation.sd2_components import load_sd2_components
    from packshot.trainer.modes import SD2ControlNetMode

    if "controlnet" in json.loads((Path(folder) / "model_index.json").read_text()):
        return load_sd2_components(folder, with_controlnet=True)
    return SD2ControlNetMode.load_parts(folder, seed)


def render_grid(parts, trained_controlnet, samples: list[Sample], out: Path, *, device, dtype, resolution: int,
                seeds: tuple[int, ...] = (0,), steps: int = 20, prompt: str | None = None,
                pipeline_factory=None) -> Path:
    """Render each held-out photo with each fixed seed through the model as it is now; one row per photo,
    the product composited back as the app does. Written atomically as a PNG.

    ``pipeline_factory(components, device, dtype)``: the mode's inference pipeline (default: SI2's)."""

    import numpy as np
    from PIL import Image

    from packshot.core.generation.components import DiffusionComponents
    from packshot.core.generation.composite import composite
    from packshot.core.generation.engines.diffusion import render_background
    from packshot.core.generation.pipeline import BackgroundPipeline
    from packshot.core.generation.settings import GenerationSettings
    from packshot.core.images import load_photo
    from packshot.core.masking import load_mask_png

    components = DiffusionComponents(unet=parts.unet, vae=parts.vae, text_encoder=parts.text_encoder,
                                     tokenizer=parts.tokenizer, scheduler_config=parts.scheduler_config,
                                     controlnet=trained_controlnet)
    pipeline = (pipeline_factory or BackgroundPipeline)(components, device, dtype)
    tile = 256
    rows = []
    for sample in samples:
        photo = load_photo(sample.photo)
        mask = load_mask_png(sample.mask_png, photo.size)
        settings = GenerationSettings(prompt=prompt if prompt is not None else sample.caption, steps=steps,
                                      resolution=resolution, seeds=tuple(seeds), variants=len(seeds))
        backgrounds = render_background(pipeline, photo, mask, settings, controlnet_scale=1.0)
        row = [photo.rgb8] + [composite(photo, mask.alpha, bg) for bg in backgrounds]
        rows.append(np.concatenate([_fit(np.asarray(im), tile) for im in row], axis=1))
    grid = np.concatenate(rows, axis=0)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.fromarray(grid).save(buffer, format="PNG")
    return write_atomic(out, buffer.getvalue())


def _fit(image, tile: int):
    """``image`` (uint8 or uint16 RGB) letterboxed into a tile x tile uint8 square."""
    import cv2
    import numpy as np

    if image.dtype != np.uint8:
        image = (image / 257).astype(np.uint8)
    h, w = image.shape[:2]
    scale = tile / max(h, w)
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    canvas = np.full((tile, tile, 3), 255, np.uint8)
    top, left = (tile - small.shape[0]) // 2, (tile - small.shape[1]) // 2
    canvas[top:top + small.shape[0], left:left + small.shape[1]] = small
    return canvas
