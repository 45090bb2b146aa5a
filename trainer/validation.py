"""Measuring a model on photos: a fixed-noise denoising loss (same seed, same timesteps for every model,
so base and fine-tuned compare like for like)."""

from __future__ import annotations

import random
from pathlib import Path

from trainer.dataset import BrandDataset, Sample


def fixed_loss(folder: Path, samples: list[Sample], resolution: int, *, seed: int = 0, device: str = "cpu") -> float:
    """Mean epsilon-MSE of the model in ``folder`` over ``samples`` at spread timesteps, fixed noise."""
    import torch
    import torch.nn.functional as F

    from core.generation.components import load_components

    parts = load_components(folder, with_controlnet=True)
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
            nine = torch.cat([noisy, mask, masked], dim=1)
            down, mid = parts.controlnet(nine, t, encoder_hidden_states=text,
                                         controlnet_cond=background.repeat(1, 3, 1, 1), return_dict=False)
            pred = parts.unet(nine, t, encoder_hidden_states=text, down_block_additional_residuals=list(down),
                              mid_block_additional_residual=mid).sample
            total += F.mse_loss(pred, noise).item()
    return total / steps
