"""Structurally complete model folders (tiny random tensors, not loadable models) for store tests."""

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

COMPONENTS = ("unet", "controlnet", "vae", "text_encoder")


def make_diffusers_folder(root: Path) -> Path:
    """A structurally complete diffusers folder (small random tensors; not a loadable model)."""
    root.mkdir(parents=True)
    index = {"_class_name": "StableDiffusionControlNetInpaintPipeline", "requires_safety_checker": False,
             "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "UniPCMultistepScheduler"],
             "safety_checker": [None, None], "feature_extractor": [None, None]}
    for name in COMPONENTS:
        index[name] = ["diffusers", "X"]
        (root / name).mkdir()
        (root / name / "config.json").write_text("{}")
        weights = "model.safetensors" if name == "text_encoder" else "diffusion_pytorch_model.safetensors"
        save_file({"w": torch.randn(64)}, str(root / name / weights))
    (root / "tokenizer").mkdir()
    (root / "tokenizer" / "vocab.json").write_text("{}")
    (root / "scheduler").mkdir()
    (root / "scheduler" / "scheduler_config.json").write_text("{}")
    (root / "model_index.json").write_text(json.dumps(index))
    return root


def make_models_dir(root: Path) -> Path:
    make_diffusers_folder(root / "photo-background-generation")
    sam = root / "sam-vit_b"
    sam.mkdir()
    torch.save({"w": torch.zeros(4)}, sam / "sam_vit_b_01ec64.pth")
    return root
