"""Random-weight diffusion models in the real on-disk formats, tiny for tests and full-size for benchmarks.

``save_si2_folder`` writes a folder laid out like stabilityai/stable-diffusion-2-inpainting and
``save_si2_controlnet_folder`` one laid out like yahoo-inc/photo-background-generation (including
a stray ``pipeline.py`` that leaves a marker file and raises if anything ever executes it). Both
load through ``packshot.core.generation.components.load_components``, the function that loads real weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PIPELINE_MARKER = "PIPELINE_PY_WAS_EXECUTED"

# The stray file mimics the hub repo's custom pipeline: code that must never run. If it runs it
# leaves a marker beside itself and then fails the way the real one does on current diffusers.
STRAY_PIPELINE_PY = f'''"""Custom pipeline shipped in the model repository (test stand-in). Never execute."""
from pathlib import Path

Path(__file__).with_name("{PIPELINE_MARKER}").write_text("executed")
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_inpaint import prepare_mask_and_masked_image  # noqa
raise RuntimeError("pipeline.py from a model folder was executed")
'''

# As published in yahoo-inc/photo-background-generation/scheduler/scheduler_config.json.
SCHEDULER_CONFIG = dict(
    num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
    prediction_type="epsilon", timestep_spacing="linspace", steps_offset=1, solver_order=2,
    solver_type="bh2", predict_x0=True, lower_order_final=True, disable_corrector=[],
    thresholding=False, sample_max_value=1.0, clip_sample=False, set_alpha_to_one=False,
    skip_prk_steps=True,
)

TINY_UNET = dict(
    block_out_channels=(32, 64), layers_per_block=1, in_channels=9, out_channels=4, sample_size=64,
    cross_attention_dim=32, attention_head_dim=(2, 4), use_linear_projection=True,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
)
# 4 blocks: 8x downsampling like SD's VAE, so a 512 canvas gives 64 x 64 latents.
TINY_VAE = dict(
    block_out_channels=(8, 16, 32, 32), norm_num_groups=8, layers_per_block=1, latent_channels=4,
    in_channels=3, out_channels=3, sample_size=512,
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
)
TINY_TEXT = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=5, num_attention_heads=4,
                 max_position_embeddings=77, projection_dim=32, hidden_act="gelu")
TINY_CONDITIONING = (8, 16, 32, 32)  # 4 entries: the control image is downsampled 8x like the VAE

# Exactly the shapes of stabilityai/stable-diffusion-2-inpainting and the paper's ControlNet.
FULL_UNET = dict(
    act_fn="silu", attention_head_dim=(5, 10, 20, 20), block_out_channels=(320, 640, 1280, 1280),
    center_input_sample=False, cross_attention_dim=1024,
    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",), downsample_padding=1,
    flip_sin_to_cos=True, freq_shift=0, in_channels=9, layers_per_block=2, mid_block_scale_factor=1,
    norm_eps=1e-5, norm_num_groups=32, out_channels=4, sample_size=64,
    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, use_linear_projection=True,
)
FULL_VAE = dict(
    act_fn="silu", block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
    in_channels=3, latent_channels=4, layers_per_block=2, norm_num_groups=32, out_channels=3, sample_size=768,
    up_block_types=("UpDecoderBlock2D",) * 4, scaling_factor=0.18215,
)
FULL_TEXT = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=23, num_attention_heads=16,
                 max_position_embeddings=77, projection_dim=512, vocab_size=49408, hidden_act="gelu",
                 bos_token_id=0, eos_token_id=2, pad_token_id=1)
FULL_CONDITIONING = (16, 32, 96, 256)


def _byte_chars() -> list[str]:
    """GPT-2/CLIP byte-level alphabet: one printable character per byte value."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    extra = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    return [chr(c) for c in cs]


def write_tokenizer(folder: Path) -> Path:
    """A CLIP tokenizer folder built offline: byte-level vocab (+ word-end forms), no merges."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab: dict[str, int] = {}
    for suffix in ("", "</w>"):
        for ch in _byte_chars():
            vocab[ch + suffix] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
               "unk_token": "<|endoftext|>"}
    (folder / "special_tokens_map.json").write_text(json.dumps(special), encoding="utf-8")
    config = dict(special, model_max_length=77, tokenizer_class="CLIPTokenizer", do_lower_case=True)
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def load_test_tokenizer(folder: Path) -> Any:
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(str(folder), local_files_only=True)


def build_components(size: str = "tiny", *, with_controlnet: bool = True, seed: int = 0,
                     tokenizer_dir: Path | None = None) -> Any:
    """Random-weight ``DiffusionComponents`` of the ``tiny`` or ``full`` architecture (fp32, CPU)."""
    import tempfile

    import torch
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel, UniPCMultistepScheduler
    from transformers import CLIPTextConfig, CLIPTextModel

    from packshot.core.generation.components import DiffusionComponents

    full = size == "full"
    torch.manual_seed(seed)
    tokenizer_dir = tokenizer_dir or write_tokenizer(Path(tempfile.mkdtemp(prefix="packshot-tok-")))
    tokenizer = load_test_tokenizer(tokenizer_dir)
    unet = UNet2DConditionModel(**(FULL_UNET if full else TINY_UNET))
    vae = AutoencoderKL(**(FULL_VAE if full else TINY_VAE))
    if full:
        text_cfg = CLIPTextConfig(**FULL_TEXT)
    else:
        text_cfg = CLIPTextConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                                  eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                                  **TINY_TEXT)
    text_encoder = CLIPTextModel(text_cfg)
    controlnet = None
    if with_controlnet:
        # from_unet keeps in_channels 9, as the paper initialised its ControlNet from the SI2 UNet.
        controlnet = ControlNetModel.from_unet(
            unet, conditioning_embedding_out_channels=FULL_CONDITIONING if full else TINY_CONDITIONING)
        if not full:
            _randomise_zero_convs(controlnet, seed)
    for module in (unet, vae, text_encoder, controlnet):
        if module is not None:
            module.eval().requires_grad_(False)
    scheduler_config = dict(UniPCMultistepScheduler(**_known_kwargs(UniPCMultistepScheduler)).config)
    return DiffusionComponents(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                               scheduler_config=scheduler_config, controlnet=controlnet)


def _known_kwargs(cls) -> dict:
    import inspect

    params = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in SCHEDULER_CONFIG.items() if k in params}


def _randomise_zero_convs(controlnet, seed: int) -> None:
    """A fresh ControlNet's zero convolutions output exactly 0; trained ones do not. Give them weights."""
    import torch

    gen = torch.Generator().manual_seed(seed + 1)
    zero_convs = list(controlnet.controlnet_down_blocks) + [controlnet.controlnet_mid_block,
                                                            controlnet.controlnet_cond_embedding.conv_out]
    for conv in zero_convs:
        conv.weight.data = torch.randn(conv.weight.shape, generator=gen) * 0.05
        conv.bias.data = torch.randn(conv.bias.shape, generator=gen) * 0.05


def _model_index(class_name: str, with_controlnet: bool) -> dict:
    index = {
        "_class_name": class_name,
        "_diffusers_version": "0.27.0",
        "requires_safety_checker": False,
        "feature_extractor": [None, None],
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "UniPCMultistepScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    }
    if with_controlnet:
        index["controlnet"] = ["diffusers", "ControlNetModel"]
    return index


def save_components(components: Any, folder: Path, *, class_name: str, stray_pipeline: bool = False) -> Path:
    """Write ``components`` as a diffusers folder (safetensors weights, model_index.json)."""
    from diffusers import UniPCMultistepScheduler

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with_controlnet = class_name == "StableDiffusionControlNetInpaintPipeline"
    components.unet.save_pretrained(folder / "unet", safe_serialization=True)
    components.vae.save_pretrained(folder / "vae", safe_serialization=True)
    components.text_encoder.save_pretrained(folder / "text_encoder", safe_serialization=True)
    write_tokenizer(folder / "tokenizer")
    UniPCMultistepScheduler.from_config(components.scheduler_config).save_pretrained(folder / "scheduler")
    if with_controlnet:
        components.controlnet.save_pretrained(folder / "controlnet", safe_serialization=True)
    (folder / "model_index.json").write_text(json.dumps(_model_index(class_name, with_controlnet), indent=2))
    if stray_pipeline:
        (folder / "pipeline.py").write_text(STRAY_PIPELINE_PY, encoding="utf-8")
    return folder


def save_si2_folder(folder: Path, components: Any | None = None) -> Path:
    """A tiny SD2-inpainting folder (like stabilityai/stable-diffusion-2-inpainting)."""
    components = components or build_components("tiny", with_controlnet=False)
    return save_components(components, folder, class_name="StableDiffusionInpaintPipeline")


def save_si2_controlnet_folder(folder: Path, components: Any | None = None) -> Path:
    """A tiny SI2 + 9-channel ControlNet folder like yahoo-inc/photo-background-generation."""
    components = components or build_components("tiny", with_controlnet=True)
    return save_components(components, folder, class_name="StableDiffusionControlNetInpaintPipeline",
                           stray_pipeline=True)


def build_models_dir(models_dir: Path) -> Path:
    """``<models_dir>/photo-background-generation`` and ``<models_dir>/sd2-inpainting`` sharing SI2 weights."""
    components = build_components("tiny", with_controlnet=True)
    save_si2_controlnet_folder(Path(models_dir) / "photo-background-generation", components)
    save_si2_folder(Path(models_dir) / "sd2-inpainting", components)
    return Path(models_dir)


TINY_TAESD = dict(encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
                  num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1), latent_channels=4)


def save_taesd_folder(folder: Path, seed: int = 0) -> Path:
    """A tiny random TAESD (diffusers ``AutoencoderTiny``) laid out like hub ``madebyollin/taesd``."""
    import torch
    from diffusers import AutoencoderTiny

    torch.manual_seed(seed)
    AutoencoderTiny(**TINY_TAESD).save_pretrained(str(folder), safe_serialization=True)
    return Path(folder)
