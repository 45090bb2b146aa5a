"""Loading the paper's ablation, SD2 base + a 4-channel ControlNet, component by component.

The ablation (Eshratifar et al., Table 3) is a standard text-to-image ControlNet on
stabilityai/stable-diffusion-2-base: the UNet and ControlNet see only the 4 noisy-latent channels,
and the ControlNet's control image is the object cut-out. No such weights are published, so the
ControlNet is one the user trains (``packshot train --mode sd2-controlnet``), written as a diffusers
folder: SD2 base's components plus ``controlnet/``, model_index.json naming
StableDiffusionControlNetPipeline. As for the paper's folder, model_index.json is read as data and
each component is loaded with its own ``from_pretrained``; nothing in the folder is executed.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packshot.core.errors import ModelMissingError
from packshot.core.generation.components import (
    BASE_PARTS,
    DiffusionComponents,
    IncompatibleModelError,
    _check_parts,
    _has_safetensors,
    quiet_library_logs,
    with_text_and_vae,
)

if TYPE_CHECKING:
    from packshot.core.runtime import Runtime

TEXT_TO_IMAGE_PIPELINE = "StableDiffusionPipeline"  # SD2 base, as published
CONTROLNET_PIPELINE = "StableDiffusionControlNetPipeline"  # SD2 base + a trained 4-channel ControlNet
SD2_BASE_MODEL = "stable-diffusion-2-base"
LATENT_CHANNELS = 4


def read_text_to_image_index(folder: Path) -> dict:
    """model_index.json of an SD2-base (+ ControlNet) folder; inpainting folders are named as such."""
    from packshot.core.generation.components import model_index_json

    data = model_index_json(folder)
    name = data.get("_class_name")
    if name not in (TEXT_TO_IMAGE_PIPELINE, CONTROLNET_PIPELINE):
        hint = " (an SI2 inpainting model: use it with --engine si2-controlnet)" if "Inpaint" in str(name) else ""
        raise IncompatibleModelError(
            f"{folder} holds a '{name}' model{hint}; the sd2-controlnet engine needs SD2 base with a 4-channel "
            f"ControlNet ({CONTROLNET_PIPELINE}, what `packshot train --mode sd2-controlnet` writes).")
    return data


def load_sd2_components(folder: Path, *, with_controlnet: bool, dtype: Any = None) -> DiffusionComponents:
    """unet, vae, text_encoder, tokenizer, scheduler config (and the 4-channel controlnet) of ``folder``."""
    with quiet_library_logs():
        return _load(Path(folder), with_controlnet=with_controlnet, dtype=dtype)


def _load(folder: Path, *, with_controlnet: bool, dtype: Any) -> DiffusionComponents:
    import torch
    from diffusers import ControlNetModel, UNet2DConditionModel

    index = read_text_to_image_index(folder)
    _check_parts(folder, BASE_PARTS)
    dtype = dtype or torch.float32

    def model(cls, sub):
        return cls.from_pretrained(str(folder), subfolder=sub, local_files_only=True, torch_dtype=dtype,
                                   use_safetensors=_has_safetensors(folder / sub))

    unet = model(UNet2DConditionModel, "unet")
    if unet.config.in_channels != LATENT_CHANNELS:
        raise IncompatibleModelError(
            f"{folder}/unet takes {unet.config.in_channels} input channels; SD2 base's UNet takes {LATENT_CHANNELS} "
            "(an inpainting UNet takes 9: use --engine si2-controlnet).")
    controlnet = None
    if with_controlnet:
        if "controlnet" not in index:
            raise ModelMissingError(
                f"{folder} has no ControlNet (model_index.json lists none): train one with "
                f"`packshot train PHOTOS --name NAME --mode sd2-controlnet` and pass --model NAME.")
        _check_parts(folder, ("controlnet",))
        controlnet = model(ControlNetModel, "controlnet")
        if controlnet.config.in_channels != LATENT_CHANNELS:
            raise IncompatibleModelError(
                f"{folder}/controlnet takes {controlnet.config.in_channels} input channels; the ablation's "
                f"ControlNet takes SD2 base's {LATENT_CHANNELS} noisy-latent channels.")
    return with_text_and_vae(folder, unet, controlnet, dtype)


class LoadedSD2ControlNet:
    """One SD2-base + ControlNet folder on one device: components, placement and the pipeline over them.

    Built once per (folder, device, dtype) and runtime by ``loaded_sd2_controlnet``.
    """

    def __init__(self, folder: Path, device: Any, dtype: Any, offload: bool | None = None) -> None:
        from packshot.core.generation.placement import place
        from packshot.core.generation.sd2_pipeline import CutoutControlNetPipeline

        self.folder, self.device, self.dtype = Path(folder), device, dtype
        self.components = load_sd2_components(self.folder, with_controlnet=True, dtype=dtype)
        self.hooks = place(self.components, device, dtype, offload)
        self.pipeline = CutoutControlNetPipeline(self.components, device, dtype)
        self._lock = threading.Lock()

    @property
    def offloaded(self) -> bool:
        return bool(self.hooks)


def loaded_sd2_controlnet(runtime: Runtime, folder: Path, device: Any, dtype: Any) -> LoadedSD2ControlNet:
    """SD2 base + the 4-channel cut-out ControlNet of ``folder`` (the ``sd2-controlnet`` ablation), once
    per ``runtime``."""
    key = (str(Path(folder).resolve()), str(device), str(dtype))
    return runtime.cached("SD2 ControlNet models", key, lambda: LoadedSD2ControlNet(Path(folder), device, dtype))
