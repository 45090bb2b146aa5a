"""What each training mode trains, from which base, what it sees, how it predicts noise, and what it saves.

- ``controlnet``: the paper's 9-channel ControlNet; SI2 (UNet, VAE, text encoder) frozen.
- ``lora``: brand style, a LoRA on the SI2 UNet (peft); the paper's ControlNet frozen and applied as
  at inference, so the adapter learns on top of the paper's model. Saved as a few MB of safetensors.
- ``sd2-controlnet``: the paper's ablation (their Table 3): a standard text-to-image ControlNet on SD2
  base, initialised from SD2 base's UNet (``ControlNetModel.from_unet``); UNet, VAE and text encoder frozen.

The first two see the same 9-channel input (noisy latents, background mask, masked-image latents) and the
background mask as the control image, as at inference; the ablation sees the 4 noisy-latent channels and
the object cut-out in [-1, 1] (``packshot.core.generation.sd2_pipeline.cutout_control``), as its engine does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

MODES = ("controlnet", "lora", "sd2-controlnet")
DEFAULT_LR = {"controlnet": 5e-6, "lora": 1e-4, "sd2-controlnet": 5e-6}  # the paper's 5e-6 for both ControlNets
PAPER_MODEL = "photo-background-generation"
DEFAULT_BASE = {"controlnet": PAPER_MODEL, "lora": PAPER_MODEL, "sd2-controlnet": "stable-diffusion-2-base"}
# The transformer blocks: attention, their projections in and out and the feed-forward (as kohya-style SD LoRAs).
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2"]


class _SI2Inputs:
    """What the paper's model sees, trains from and renders with (the ``controlnet`` and ``lora`` modes)."""

    inpainting = True  # the 9-channel input of SI2 (noisy latents, mask, masked-image latents)
    pipeline_class = "StableDiffusionControlNetInpaintPipeline"  # what the exported model_index.json names

    @staticmethod
    def load_parts(base: Path, seed: int = 0):
        """The base model's components, the ControlNet included (the paper's layout)."""
        from packshot.core.generation.components import load_components

        return load_components(base, with_controlnet=True)

    @staticmethod
    def control_image(image, background):
        """The soft background map (1 = generate) as 3 channels, in [0, 1]: what the paper's ControlNet sees."""
        return background.repeat(1, 3, 1, 1)

    @staticmethod
    def validation_pipeline(components, device, dtype):
        from packshot.core.generation.pipeline import BackgroundPipeline

        return BackgroundPipeline(components, device, dtype)


class ControlNetMode(_SI2Inputs):
    name = "controlnet"
    folder = "controlnet"  # the checkpoint's (and the exported model's) sub-folder for the trained part
    trains_controlnet = True

    def __init__(self, parts, resume: Optional[Path], device, frozen_dtype, rank: int = 8) -> None:
        if resume is not None:
            from diffusers import ControlNetModel

            parts.controlnet = ControlNetModel.from_pretrained(str(resume / self.folder), local_files_only=True,
                                                               use_safetensors=True)
        self.parts = parts
        for module in (parts.unet, parts.vae, parts.text_encoder):
            module.to(device, dtype=frozen_dtype)
        self.module = parts.controlnet.train().requires_grad_(True)  # trains in fp32 (fp16 autocast on CUDA)

    def trainable_parameters(self, model) -> list:
        return [p for p in model.parameters() if p.requires_grad]

    def predict(self, model, model_in, t, text, control, frozen_dtype):
        down, mid = model(model_in, t, encoder_hidden_states=text, controlnet_cond=control, return_dict=False)
        return self.parts.unet(model_in, t, encoder_hidden_states=text,
                               down_block_additional_residuals=[d.to(frozen_dtype) for d in down],
                               mid_block_additional_residual=mid.to(frozen_dtype)).sample

    def save(self, model, folder: Path) -> None:
        model.save_pretrained(folder / self.folder, safe_serialization=True)


class LoraMode(_SI2Inputs):
    name = "lora"
    folder = "lora"
    trains_controlnet = False

    def __init__(self, parts, resume: Optional[Path], device, frozen_dtype, rank: int = 8) -> None:
        import torch
        from peft import LoraConfig

        self.parts = parts
        for module in (parts.unet, parts.vae, parts.text_encoder, parts.controlnet):
            module.to(device, dtype=frozen_dtype)
        unet = parts.unet
        unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian",
                                    target_modules=LORA_TARGETS))
        if resume is not None:
            from peft import set_peft_model_state_dict
            from safetensors.torch import load_file

            state = load_file(str(resume / self.folder / "pytorch_lora_weights.safetensors"))
            set_peft_model_state_dict(unet, state, adapter_name="default")
        for p in unet.parameters():
            if p.requires_grad:  # only the adapter; it trains in fp32 even over an fp16 UNet
                p.data = p.data.to(torch.float32)
        self.module = unet.train()

    def trainable_parameters(self, model) -> list:
        return [p for p in model.parameters() if p.requires_grad]

    def predict(self, model, model_in, t, text, control, frozen_dtype):
        import torch

        with torch.no_grad():  # the ControlNet is frozen and its output does not depend on the LoRA
            down, mid = self.parts.controlnet(model_in, t, encoder_hidden_states=text, controlnet_cond=control,
                                              return_dict=False)
        return model(model_in, t, encoder_hidden_states=text, down_block_additional_residuals=list(down),
                     mid_block_additional_residual=mid).sample

    def save(self, model, folder: Path) -> None:
        model.save_lora_adapter(str(folder / self.folder), safe_serialization=True)


class SD2ControlNetMode(ControlNetMode):
    """The ablation: SD2 base frozen, a 4-channel ControlNet from its UNet, the cut-out as control image."""

    name = "sd2-controlnet"
    inpainting = False  # the 4 noisy-latent channels only
    pipeline_class = "StableDiffusionControlNetPipeline"

    @staticmethod
    def load_parts(base: Path, seed: int = 0):
        """SD2 base's components and a new ControlNet initialised from its UNet, as the authors did.

        ``from_unet`` copies the UNet's encoder and zero-initialises the output convolutions; the control
        image's small embedding network is random, drawn from ``seed`` so that every process (and every
        rerun) starts from the same weights without touching the global random state.
        """
        import torch
        from diffusers import ControlNetModel

        from packshot.core.generation.sd2_components import load_sd2_components

        parts = load_sd2_components(base, with_controlnet=False)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            parts.controlnet = ControlNetModel.from_unet(parts.unet)
        return parts

    @staticmethod
    def control_image(image, background):
        """The object cut-out in [-1, 1] from the image in [-1, 1] and the soft background map (1 = generate)."""
        from packshot.core.generation.sd2_pipeline import cutout_control

        return cutout_control(image, 1.0 - background)

    @staticmethod
    def validation_pipeline(components, device, dtype):
        from packshot.core.generation.sd2_pipeline import CutoutControlNetPipeline

        return CutoutControlNetPipeline(components, device, dtype)


MODE_CLASSES = {"controlnet": ControlNetMode, "lora": LoraMode, "sd2-controlnet": SD2ControlNetMode}


def mode_class(name: str):
    if name not in MODE_CLASSES:
        from packshot.core.errors import PackshotError

        raise PackshotError(f"Unknown training mode '{name}': choose one of {', '.join(MODE_CLASSES)}.")
    return MODE_CLASSES[name]


def build_mode(name: str, parts, resume: Optional[Path], device: Any, frozen_dtype: Any, rank: int = 8):
    return mode_class(name)(parts, resume, device, frozen_dtype, rank)
