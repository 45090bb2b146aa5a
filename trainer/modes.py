"""What each training mode trains, how it predicts noise, and what it saves.

- ``controlnet``: the paper's 9-channel ControlNet; SI2 (UNet, VAE, text encoder) frozen.
- ``lora``: brand style, a LoRA on the SI2 UNet (peft); the paper's ControlNet frozen and applied as
  at inference, so the adapter learns on top of the paper's model. Saved as a few MB of safetensors.

Both see the same 9-channel input (noisy latents, background mask, masked-image latents) and the
background mask as the control image, as at inference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

MODES = ("controlnet", "lora")
DEFAULT_LR = {"controlnet": 5e-6, "lora": 1e-4}
# The transformer blocks: attention, their projections in and out and the feed-forward (as kohya-style SD LoRAs).
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2"]


class ControlNetMode:
    name = "controlnet"
    folder = "controlnet"  # the checkpoint's (and the exported model's) sub-folder for the trained part

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

    def predict(self, model, nine, t, text, control, frozen_dtype):
        down, mid = model(nine, t, encoder_hidden_states=text, controlnet_cond=control, return_dict=False)
        return self.parts.unet(nine, t, encoder_hidden_states=text,
                               down_block_additional_residuals=[d.to(frozen_dtype) for d in down],
                               mid_block_additional_residual=mid.to(frozen_dtype)).sample

    def save(self, model, folder: Path) -> None:
        model.save_pretrained(folder / self.folder, safe_serialization=True)


class LoraMode:
    name = "lora"
    folder = "lora"

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

    def predict(self, model, nine, t, text, control, frozen_dtype):
        import torch

        with torch.no_grad():  # the ControlNet is frozen and its output does not depend on the LoRA
            down, mid = self.parts.controlnet(nine, t, encoder_hidden_states=text, controlnet_cond=control,
                                              return_dict=False)
        return model(nine, t, encoder_hidden_states=text, down_block_additional_residuals=list(down),
                     mid_block_additional_residual=mid).sample

    def save(self, model, folder: Path) -> None:
        model.save_lora_adapter(str(folder / self.folder), safe_serialization=True)


def build_mode(name: str, parts, resume: Optional[Path], device: Any, frozen_dtype: Any, rank: int = 8):
    classes = {"controlnet": ControlNetMode, "lora": LoraMode}
    if name not in classes:
        from core.errors import PackshotError

        raise PackshotError(f"Unknown training mode '{name}': choose one of {', '.join(classes)}.")
    return classes[name](parts, resume, device, frozen_dtype, rank)
