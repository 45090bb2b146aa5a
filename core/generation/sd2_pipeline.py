"""Our denoising pipeline for the paper's ablation: SD2 base + a text-to-image ControlNet (4 channels).

One object, one ``__call__``, with the same signature, scheduler, seeds, guidance and step callback
as ``BackgroundPipeline`` (``packshot.core.generation.pipeline``), so the engines share the letterboxing,
quality plans and live previews of ``render_background``. What differs is the model's input:

- the UNet and the ControlNet see only the 4 scaled noisy-latent channels (no mask, no masked image:
  SD2 base is not an inpainting model, so the product's context reaches it only through the ControlNet);
- the ControlNet's control image is the object cut-out: the photo where the object map is 1, black
  elsewhere, in [-1, 1] (the soft map multiplies the photo, so the edge fades to black).

The product is pasted back afterwards, as for every engine (``packshot.core.generation.composite``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from packshot.core.generation.pipeline import BackgroundPipeline, StepCallback, _ConditioningOnce
from packshot.core.generation.schedulers import make_scheduler


def cutout_control(image: Any, object_map: Any) -> Any:
    """The ablation's control image from an image in [-1, 1] (N x 3 x H x W) and the object map in [0, 1].

    Photo where the object is, black (-1) elsewhere: ``(image + 1) * map - 1``, i.e. the uint8 photo
    times the map, then normalised as ``x / 127.5 - 1``. The trainer and the engine both call this.
    """
    return (image + 1.0) * object_map - 1.0


class CutoutControlNetPipeline(BackgroundPipeline):
    """Generates the background of a canvas from noise, steered by the product's cut-out (no inpainting)."""

    def prepare_control(self, image: np.ndarray, generate_mask: np.ndarray):
        """The control tensor (1 x 3 x H x W in [-1, 1]) of a canvas and its soft background map (1 = generate)."""
        import torch

        img = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 127.5 - 1.0
        product = 1.0 - torch.from_numpy(np.asarray(generate_mask, dtype=np.float32))[None, None].clamp(0.0, 1.0)
        return cutout_control(img, product)

    def __call__(
        self,
        image: np.ndarray,
        generate_mask: np.ndarray,
        *,
        prompt: str,
        negative_prompt: str = "",
        seeds: Sequence[int] = (0,),
        steps: int = 20,
        guidance: float = 7.5,
        controlnet_scale: float = 1.0,
        scheduler: str = "unipc",
        max_batch: int | None = None,
        callback_on_step_end: StepCallback | None = None,
        guidance_steps: int | None = None,
        decoder: Any = None,
    ) -> np.ndarray:
        """One background per seed, (len(seeds), H, W, 3) uint8; arguments as ``BackgroundPipeline``.

        ``image`` is the H x W x 3 uint8 canvas, ``generate_mask`` its soft inverted object map (1 = background).
        """
        import torch

        h, w = generate_mask.shape
        factor = self.components.vae_scale_factor
        if h % factor or w % factor:
            raise ValueError(f"Canvas {w} x {h} is not a multiple of {factor}.")
        seeds = list(seeds)
        max_batch = max_batch or len(seeds)
        latent_size = (h // factor, w // factor)
        with torch.inference_mode():
            cond = self.encode_prompt(prompt)
            uncond = self.encode_prompt(negative_prompt) if guidance > 1.0 else None
            control = self.prepare_control(image, generate_mask).to(self.device, self.dtype)
            outputs = []
            for start in range(0, len(seeds), max_batch):
                latents = self._denoise(seeds[start:start + max_batch], cond, uncond, control, latent_size, steps,
                                        guidance, controlnet_scale, scheduler, callback_on_step_end,
                                        step_offset=start // max_batch * steps, guidance_steps=guidance_steps)
                outputs.append(self.decode(latents, decoder))
        return np.concatenate(outputs, axis=0)

    def _denoise(self, seeds, cond, uncond, control, latent_size, steps, guidance, controlnet_scale,
                 scheduler_name, callback, step_offset=0, guidance_steps=None):
        import torch

        unet, controlnet = self.components.unet, self.components.controlnet
        n = len(seeds)
        do_cfg = uncond is not None
        sched = make_scheduler(scheduler_name, self.components.scheduler_config)
        sched.set_timesteps(steps, device=self.device)
        shape = (1, unet.config.out_channels) + tuple(latent_size)
        # One CPU generator per variant, as in BackgroundPipeline: a seed gives the same noise anywhere.
        noise = [torch.randn(shape, generator=torch.Generator("cpu").manual_seed(s)) for s in seeds]
        latents = torch.cat(noise).to(self.device, self.dtype) * sched.init_noise_sigma
        embeds = torch.cat([uncond.repeat(n, 1, 1), cond.repeat(n, 1, 1)]) if do_cfg else cond.repeat(n, 1, 1)
        control_in = control.repeat(2 * n if do_cfg else n, 1, 1, 1)
        use_controlnet = controlnet is not None and controlnet_scale > 0
        with _ConditioningOnce(controlnet if use_controlnet and self.reuse_control_embedding else None):
            return self._loop(sched, latents, embeds, None, None, control_in, guidance, controlnet_scale,
                              use_controlnet, do_cfg, callback, step_offset, n, guidance_steps)
