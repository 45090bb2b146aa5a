"""Loading the diffusion components of a model folder one by one, never its pipeline code.

A folder laid out like yahoo-inc/photo-background-generation (model_index.json naming
StableDiffusionControlNetInpaintPipeline, plus a ``pipeline.py``) or like
stabilityai/stable-diffusion-2-inpainting. We read model_index.json as data, load each component
with its own ``from_pretrained(subfolder=...)`` offline, and assemble them ourselves: nothing in
the folder is imported or executed.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from packshot.core.errors import ModelMissingError, PackshotError

INPAINT_PIPELINES = ("StableDiffusionInpaintPipeline", "StableDiffusionControlNetInpaintPipeline")
BASE_PARTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")


class IncompatibleModelError(PackshotError):
    """A model folder is present but is not an SD2-inpainting (+ 9-channel ControlNet) model."""


@dataclass
class DiffusionComponents:
    """The loaded modules; ``controlnet`` is None for SD2 inpainting alone."""

    unet: Any
    vae: Any
    text_encoder: Any
    tokenizer: Any
    scheduler_config: dict
    controlnet: Optional[Any] = None
    folder: Optional[Path] = None

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    def modules(self) -> list:
        """Torch modules in the order a step uses them (the order CPU offload chains them)."""
        mods = [self.text_encoder, self.controlnet, self.unet, self.vae]
        return [m for m in mods if m is not None]


# Libraries whose warnings at load time are noise for our users (e.g. diffusers' "should be kept in
# float32: []" on every .to(dtype)); their errors still show, and ours are raised, not logged.
QUIET_LIBRARIES = ("diffusers", "transformers")


@contextlib.contextmanager
def quiet_library_logs(level: int = logging.ERROR):
    """Within the block, the libraries' loggers drop records below ``level``; restored afterwards."""
    loggers = [logging.getLogger(name) for name in QUIET_LIBRARIES]
    saved = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(max(level, lg.getEffectiveLevel()))
        yield
    finally:
        for lg, old in zip(loggers, saved):
            lg.setLevel(old)


def model_index_json(folder: Path, error: Optional[type[Exception]] = None) -> dict:
    """A diffusers folder's model_index.json as data (never code); ``error`` (default
    ``IncompatibleModelError``) names a folder without one, or one that is not JSON."""
    error = error or IncompatibleModelError
    index = Path(folder) / "model_index.json"
    if not index.is_file():
        raise error(f"{folder} has no model_index.json: not a diffusers model folder.")
    try:
        return json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise error(f"{index} is not readable JSON ({exc}).") from exc


def read_model_index(folder: Path) -> dict:
    data = model_index_json(folder)
    name = data.get("_class_name")
    if name not in INPAINT_PIPELINES:
        hint = " (SD2 base + a ControlNet: use it with --engine sd2-controlnet)" \
            if name == "StableDiffusionControlNetPipeline" else ""
        raise IncompatibleModelError(
            f"{folder} holds a '{name}' model{hint}; Packshot needs SD2 inpainting "
            f"({' or '.join(INPAINT_PIPELINES)})."
        )
    return data


def _has_safetensors(folder: Path) -> Optional[bool]:
    # True forces safetensors; None lets the library fall back to .bin, which diffusers and
    # transformers read with torch.load(weights_only=True).
    return True if any(folder.glob("*.safetensors")) else None


def _check_parts(folder: Path, parts: tuple[str, ...]) -> None:
    missing = [p for p in parts if not (folder / p).is_dir()]
    if missing:
        raise ModelMissingError(
            f"{folder} lacks the component folder(s) {', '.join(missing)}; download the model again "
            f"(packshot models download) or point Packshot to a complete copy."
        )


def load_components(folder: Path, *, with_controlnet: bool, dtype: Any = None) -> DiffusionComponents:
    """Load unet, vae, text_encoder, tokenizer, scheduler config (and controlnet) from ``folder``."""
    with quiet_library_logs():
        return _load_components(Path(folder), with_controlnet=with_controlnet, dtype=dtype)


def _load_components(folder: Path, *, with_controlnet: bool, dtype: Any) -> DiffusionComponents:
    import torch
    from diffusers import UNet2DConditionModel

    read_model_index(folder)
    _check_parts(folder, BASE_PARTS)
    dtype = dtype or torch.float32

    def model(cls, sub):
        return cls.from_pretrained(str(folder), subfolder=sub, local_files_only=True, torch_dtype=dtype,
                                   use_safetensors=_has_safetensors(folder / sub))

    unet = model(UNet2DConditionModel, "unet")
    if unet.config.in_channels != 9:
        raise IncompatibleModelError(
            f"{folder}/unet takes {unet.config.in_channels} input channels; an inpainting UNet takes 9.")
    if (folder / "lora").is_dir():  # a brand-style LoRA from the trainer, merged into the UNet once at load
        unet.load_lora_adapter(str(folder / "lora"), prefix=None, local_files_only=True, use_safetensors=True)
        unet.fuse_lora()
        unet.unload_lora()
    controlnet = load_controlnet(folder, dtype=dtype) if with_controlnet else None
    return with_text_and_vae(folder, unet, controlnet, dtype)


def with_text_and_vae(folder: Path, unet: Any, controlnet: Any, dtype: Any) -> DiffusionComponents:
    """The components of ``folder`` around an already-checked UNet (and ControlNet): its VAE, CLIP text
    encoder, tokenizer and scheduler config, everything frozen (SI2 and the SD2-base ablation alike)."""
    from diffusers import AutoencoderKL
    from diffusers.schedulers import UniPCMultistepScheduler
    from transformers import CLIPTextModel, CLIPTokenizer

    text_encoder = CLIPTextModel.from_pretrained(
        str(folder), subfolder="text_encoder", local_files_only=True, dtype=dtype,
        use_safetensors=_has_safetensors(folder / "text_encoder"))
    tokenizer = CLIPTokenizer.from_pretrained(str(folder), subfolder="tokenizer", local_files_only=True)
    # Only the config's beta schedule and prediction type matter: packshot.core.generation.schedulers builds the
    # chosen sampler (UniPC by default) from them, whatever scheduler the folder ships (SD2 base: PNDM).
    scheduler_config = dict(UniPCMultistepScheduler.load_config(str(folder), subfolder="scheduler",
                                                                local_files_only=True))
    vae = AutoencoderKL.from_pretrained(str(folder), subfolder="vae", local_files_only=True, torch_dtype=dtype,
                                        use_safetensors=_has_safetensors(folder / "vae"))
    for module in (unet, vae, text_encoder, controlnet):
        if module is not None:
            module.eval().requires_grad_(False)
    return DiffusionComponents(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                               scheduler_config=scheduler_config, controlnet=controlnet, folder=folder)


def load_controlnet(folder: Path, *, dtype: Any = None) -> Any:
    """The paper's ControlNet from ``folder/controlnet``; it must take the UNet's 9 channels."""
    with quiet_library_logs():
        return _load_controlnet(Path(folder), dtype=dtype)


def _load_controlnet(folder: Path, *, dtype: Any) -> Any:
    import torch
    from diffusers import ControlNetModel

    if "controlnet" not in read_model_index(folder):
        raise IncompatibleModelError(f"{folder} has no ControlNet (model_index.json lists none).")
    _check_parts(folder, ("controlnet",))
    controlnet = ControlNetModel.from_pretrained(
        str(folder), subfolder="controlnet", local_files_only=True, torch_dtype=dtype or torch.float32,
        use_safetensors=_has_safetensors(folder / "controlnet"))
    if controlnet.config.in_channels != 9:
        raise IncompatibleModelError(
            f"{folder}/controlnet takes {controlnet.config.in_channels} input channels; the paper's ControlNet "
            "takes the inpainting UNet's 9 (latents + mask + masked-image latents).")
    return controlnet.eval().requires_grad_(False)
