"""A tiny random-weight FLUX.2 [klein] in the hub's on-disk layout, for tests.

``save_flux2_klein_folder`` writes a folder laid out like black-forest-labs/FLUX.2-klein-4B:
model_index.json, transformer/ (Flux2Transformer2DModel), vae/ (AutoencoderKLFlux2), text_encoder/
(Qwen3ForCausalLM), tokenizer/ (Qwen2Tokenizer, a byte-level BPE built offline with a chat template)
and scheduler/ (FlowMatchEulerDiscreteScheduler), all weights as safetensors. It loads through
``packshot.core.generation.engines.flux2_klein.load_flux2_klein``, the function that loads the real weights.

Sizes: a 64 px canvas is 4 x 4 = 16 image tokens; the text encoder has 28 layers so the pipeline's
default hidden-state layers (9, 18, 27) exist, each 16 wide (the transformer reads 3 x 16 = 48).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.factories.diffusion import _byte_chars

TEXT_WIDTH = 16
TEXT_LAYERS = 28  # hidden states 9, 18 and 27 are what the pipeline stacks
LATENT_CHANNELS = 4

TINY_TRANSFORMER = dict(
    patch_size=1, in_channels=LATENT_CHANNELS * 4, num_layers=1, num_single_layers=1, attention_head_dim=16,
    num_attention_heads=2, joint_attention_dim=3 * TEXT_WIDTH, timestep_guidance_channels=32, mlp_ratio=2.0,
    axes_dims_rope=(4, 4, 4, 4), guidance_embeds=False,
)
# 4 blocks: 8x downsampling like the real FLUX.2 VAE; the pipeline patchifies 2x2 on top (16 px per token).
TINY_VAE = dict(
    block_out_channels=(8, 8, 16, 16), layers_per_block=1, latent_channels=LATENT_CHANNELS, norm_num_groups=4,
    sample_size=64,
)
# The FLUX.2 pipelines pass ``mu`` to set_timesteps, which needs dynamic shifting.
SCHEDULER = dict(num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
                 base_image_seq_len=256, max_image_seq_len=4096, time_shift_type="exponential")

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>")
# Qwen3's chat layout (user turn, assistant header, an empty think block when thinking is off), shortened.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}{% endif %}"
)


def write_tokenizer(folder: Path) -> Path:
    """A Qwen2 tokenizer folder built offline: byte-level vocabulary, no merges, Qwen's special tokens."""
    from transformers import Qwen2Tokenizer

    vocab = {ch: i for i, ch in enumerate(_byte_chars())}
    for token in SPECIAL_TOKENS:
        vocab[token] = len(vocab)
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=[], additional_special_tokens=list(SPECIAL_TOKENS[1:]))
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = 512
    tokenizer.save_pretrained(str(folder))
    return Path(folder)


def model_index(distilled: bool = True) -> dict:
    return {
        "_class_name": "Flux2KleinPipeline",
        "_diffusers_version": "0.42.1",
        "is_distilled": distilled,
        "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
        "text_encoder": ["transformers", "Qwen3ForCausalLM"],
        "tokenizer": ["transformers", "Qwen2TokenizerFast"],
        "transformer": ["diffusers", "Flux2Transformer2DModel"],
        "vae": ["diffusers", "AutoencoderKLFlux2"],
    }


def save_flux2_klein_folder(folder: Path, *, seed: int = 0, distilled: bool = True) -> Path:
    """Write a tiny random FLUX.2 [klein] folder (safetensors) and return it."""
    import torch
    from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2Transformer2DModel
    from transformers import Qwen3Config, Qwen3ForCausalLM

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = write_tokenizer(folder / "tokenizer")
    vocab_size = len(json.loads((tokenizer / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"])
    torch.manual_seed(seed)
    Flux2Transformer2DModel(**TINY_TRANSFORMER).save_pretrained(folder / "transformer", safe_serialization=True)
    vae = AutoencoderKLFlux2(**TINY_VAE)
    # Published VAEs carry trained latent statistics; a fresh BatchNorm's (0, 1) would hide a mix-up.
    gen = torch.Generator().manual_seed(seed + 1)
    vae.bn.running_mean.copy_(torch.randn(vae.bn.running_mean.shape, generator=gen) * 0.1)
    vae.bn.running_var.copy_(torch.rand(vae.bn.running_var.shape, generator=gen) + 0.5)
    vae.save_pretrained(folder / "vae", safe_serialization=True)
    config = Qwen3Config(vocab_size=vocab_size, hidden_size=TEXT_WIDTH, intermediate_size=32,
                         num_hidden_layers=TEXT_LAYERS, num_attention_heads=2, num_key_value_heads=1, head_dim=8,
                         max_position_embeddings=1024, tie_word_embeddings=True)
    # Sharded with an index, as the hub's text_encoder/model-0000N-of-00002.safetensors are.
    Qwen3ForCausalLM(config).save_pretrained(folder / "text_encoder", safe_serialization=True, max_shard_size="100KB")
    FlowMatchEulerDiscreteScheduler(**SCHEDULER).save_pretrained(folder / "scheduler")
    (folder / "model_index.json").write_text(json.dumps(model_index(distilled), indent=2), encoding="utf-8")
    return folder
