"""Random-weight SD2 base (+ 4-channel ControlNet) folders in the real on-disk format, for the ablation.

``save_sd2_base_folder`` writes a folder laid out like stabilityai/stable-diffusion-2-base (model_index.json
naming StableDiffusionPipeline, a PNDM scheduler config as published, a 4-channel UNet, VAE, CLIP text
encoder and tokenizer); ``save_sd2_controlnet_folder`` the same plus a 4-channel ``controlnet/``, laid out as
``packshot train --mode sd2-controlnet`` writes it. Both load through ``packshot.core.generation.sd2_components``,
the loader the real weights go through. Tiny shapes for tests, full SD2-base shapes for benchmarks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from packshot.trainer.train import TRAINED_MARKER
from tests.factories.diffusion import (
    FULL_CONDITIONING,
    FULL_TEXT,
    FULL_UNET,
    FULL_VAE,
    TINY_CONDITIONING,
    TINY_TEXT,
    TINY_UNET,
    TINY_VAE,
    _randomise_zero_convs,
    load_test_tokenizer,
    write_tokenizer,
)

# As published in stabilityai/stable-diffusion-2-base/scheduler/scheduler_config.json (epsilon prediction).
SD2_BASE_SCHEDULER = dict(
    _class_name="PNDMScheduler", beta_end=0.012, beta_schedule="scaled_linear", beta_start=0.00085,
    clip_sample=False, num_train_timesteps=1000, prediction_type="epsilon", set_alpha_to_one=False,
    skip_prk_steps=True, steps_offset=1, trained_betas=None,
)
TINY_SD2_UNET = {**TINY_UNET, "in_channels": 4}
FULL_SD2_UNET = {**FULL_UNET, "in_channels": 4}  # SD2 base's UNet: the SI2 one with 4 input channels


def build_sd2_components(size: str = "tiny", *, with_controlnet: bool = True, seed: int = 0,
                         tokenizer_dir: Path | None = None, prediction_type: str = "epsilon") -> Any:
    """Random-weight SD2-base ``DiffusionComponents`` (4-channel UNet; 4-channel ControlNet from it)."""
    import tempfile

    import torch
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from packshot.core.generation.components import DiffusionComponents

    full = size == "full"
    torch.manual_seed(seed)
    tokenizer_dir = tokenizer_dir or write_tokenizer(Path(tempfile.mkdtemp(prefix="packshot-tok-")))
    tokenizer = load_test_tokenizer(tokenizer_dir)
    unet = UNet2DConditionModel(**(FULL_SD2_UNET if full else TINY_SD2_UNET))
    vae = AutoencoderKL(**(FULL_VAE if full else TINY_VAE))
    text_cfg = CLIPTextConfig(**FULL_TEXT) if full else CLIPTextConfig(
        vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, **TINY_TEXT)
    text_encoder = CLIPTextModel(text_cfg)
    controlnet = None
    if with_controlnet:
        controlnet = ControlNetModel.from_unet(
            unet, conditioning_embedding_out_channels=FULL_CONDITIONING if full else TINY_CONDITIONING)
        if not full:
            _randomise_zero_convs(controlnet, seed)  # a trained ControlNet's outputs are not exact zeros
    for module in (unet, vae, text_encoder, controlnet):
        if module is not None:
            module.eval().requires_grad_(False)
    scheduler_config = {k: v for k, v in SD2_BASE_SCHEDULER.items() if not k.startswith("_")}
    scheduler_config["prediction_type"] = prediction_type
    return DiffusionComponents(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                               scheduler_config=scheduler_config, controlnet=controlnet)


def _model_index(with_controlnet: bool) -> dict:
    index = {
        "_class_name": "StableDiffusionControlNetPipeline" if with_controlnet else "StableDiffusionPipeline",
        "_diffusers_version": "0.8.0",
        "requires_safety_checker": False,
        "feature_extractor": [None, None],
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "PNDMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    }
    if with_controlnet:
        index["controlnet"] = ["diffusers", "ControlNetModel"]
    return index


def _save(components: Any, folder: Path, with_controlnet: bool) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    components.unet.save_pretrained(folder / "unet", safe_serialization=True)
    components.vae.save_pretrained(folder / "vae", safe_serialization=True)
    components.text_encoder.save_pretrained(folder / "text_encoder", safe_serialization=True)
    write_tokenizer(folder / "tokenizer")
    (folder / "scheduler").mkdir(exist_ok=True)
    config = {**SD2_BASE_SCHEDULER, **components.scheduler_config, "_class_name": "PNDMScheduler"}
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(config, indent=2))
    if with_controlnet:
        components.controlnet.save_pretrained(folder / "controlnet", safe_serialization=True)
    (folder / "model_index.json").write_text(json.dumps(_model_index(with_controlnet), indent=2))
    return folder


def save_sd2_base_folder(folder: Path, components: Any | None = None) -> Path:
    """A tiny folder like stabilityai/stable-diffusion-2-base (no ControlNet)."""
    components = components or build_sd2_components("tiny", with_controlnet=False)
    return _save(components, folder, with_controlnet=False)


def save_sd2_controlnet_folder(folder: Path, components: Any | None = None) -> Path:
    """A tiny SD2 base + 4-channel ControlNet folder, laid out as the trainer's sd2-controlnet mode writes it
    (including its marker, so the store lists it as the user's model)."""
    components = components or build_sd2_components("tiny", with_controlnet=True)
    folder = _save(components, folder, with_controlnet=True)
    (folder / TRAINED_MARKER).write_text(json.dumps({"base": "stable-diffusion-2-base",
                                                              "mode": "sd2-controlnet", "trained": "controlnet"}))
    return folder
