"""CLIP score of a prompt against an image, where a CLIP model is on this machine.

CLIP is not needed by the app itself, so it is not in the model manifest and is never downloaded:
``find_clip_model`` looks, in order, at
1. a folder passed explicitly (``packshot eval --clip-model DIR``),
2. ``<models folder>/clip/`` and ``<Packshot download folder>/clip/`` (a transformers CLIP folder:
   config.json, model.safetensors, tokenizer files, preprocessor_config.json),
3. the Hugging Face cache, for the OpenAI CLIP checkpoints in ``HF_CACHE_REPOS`` (offline lookup).
With none found, evaluation reports "not computed" and why; it never makes a number up.

Score: 100 * max(cos(image embedding, text embedding), 0), the convention of torchmetrics'
CLIPScore (Hessel et al. 2021 without their 2.5 rescaling).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from packshot.core.errors import ModelMissingError

if TYPE_CHECKING:  # pragma: no cover
    from packshot.core.models.store import ModelStore

log = logging.getLogger(__name__)

CLIP_FOLDER_NAME = "clip"
HF_CACHE_REPOS = ("openai/clip-vit-large-patch14", "openai/clip-vit-base-patch32", "openai/clip-vit-base-patch16")


@dataclass(frozen=True)
class ClipLookup:
    """Where a CLIP model was found (``folder`` None: nowhere) and every place that was searched."""

    folder: Optional[Path]
    searched: tuple[str, ...]

    def describe(self) -> str:
        if self.folder is not None:
            return f"CLIP model: {self.folder}"
        return ("no CLIP model found, so no CLIP score was computed. Searched: " + "; ".join(self.searched)
                + f". To enable it, put a transformers CLIP folder (e.g. a copy of {HF_CACHE_REPOS[1]}) in "
                  f"<models folder>/{CLIP_FOLDER_NAME}/ or pass --clip-model DIR.")


def is_clip_folder(folder: Path) -> bool:
    """A transformers CLIP folder with safetensors or .bin weights."""
    config = folder / "config.json"
    if not config.is_file():
        return False
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, json.JSONDecodeError):
        return False
    weights = (folder / "model.safetensors").is_file() or (folder / "pytorch_model.bin").is_file()
    return model_type == "clip" and weights


def find_clip_model(store: Optional[ModelStore] = None, explicit: Optional[Path | str] = None) -> ClipLookup:
    """Locate a CLIP model without downloading anything (see module docstring for the order)."""
    if explicit is not None:
        folder = Path(explicit).expanduser()
        if not is_clip_folder(folder):
            raise ModelMissingError(f"--clip-model {folder}: not a transformers CLIP folder (needs config.json "
                                    "with model_type 'clip' and model.safetensors or pytorch_model.bin).")
        return ClipLookup(folder, (str(folder),))
    searched: list[str] = []
    roots = []
    if store is not None:
        roots = [r for r in (store.models_dir, store.download_dir) if r is not None]
    for root in roots:
        folder = Path(root) / CLIP_FOLDER_NAME
        searched.append(str(folder))
        if is_clip_folder(folder):
            return ClipLookup(folder, tuple(searched))
    if store is None or store.use_hf_cache:
        from huggingface_hub import snapshot_download

        for repo in HF_CACHE_REPOS:
            searched.append(f"Hugging Face cache: {repo}")
            try:
                folder = Path(snapshot_download(repo, local_files_only=True))
            except Exception:  # not cached (several error types), never a download: local_files_only
                continue
            if is_clip_folder(folder):
                return ClipLookup(folder, tuple(searched))
    return ClipLookup(None, tuple(searched))


def _features(out: Any) -> Any:
    # transformers 5 returns an output object with the projected embedding as pooler_output; 4.x a tensor.
    return getattr(out, "pooler_output", out)


class ClipScorer:
    """Loads a CLIP folder once and scores (image, prompt) pairs; text embeddings cached per prompt."""

    def __init__(self, folder: Path | str, device: str = "cpu") -> None:
        import torch
        from transformers import CLIPConfig, CLIPModel, CLIPProcessor

        self.folder = Path(folder)
        self.name = self.folder.name
        self.device = torch.device(device)
        if (self.folder / "model.safetensors").is_file():
            model = CLIPModel.from_pretrained(self.folder, local_files_only=True, use_safetensors=True)
        else:
            # .bin only: build from the config and load through the weights-only loader, never pickle code.
            from packshot.core.models.safe_load import load_state_dict

            model = CLIPModel(CLIPConfig.from_pretrained(self.folder, local_files_only=True))
            model.load_state_dict(load_state_dict(self.folder / "pytorch_model.bin"), strict=True)  # wrong file: error
        self.model = model.to(self.device).eval()
        self.processor = CLIPProcessor.from_pretrained(self.folder, local_files_only=True)
        self._text_cache: dict[str, Any] = {}

    def _text(self, prompt: str) -> Any:
        import torch

        if prompt not in self._text_cache:
            tok = self.processor.tokenizer([prompt], padding=True, truncation=True,
                                           max_length=self.model.config.text_config.max_position_embeddings,
                                           return_tensors="pt").to(self.device)
            with torch.inference_mode():
                emb = _features(self.model.get_text_features(**tok))
            self._text_cache[prompt] = torch.nn.functional.normalize(emb.float(), dim=-1)
        return self._text_cache[prompt]

    def score(self, image: np.ndarray, prompt: str) -> float:
        """100 * max(cosine similarity, 0) between ``image`` (H x W x 3 uint8) and ``prompt``."""
        import torch

        from packshot.core.quality.resegment import to_rgb8

        pixels = self.processor.image_processor(images=[to_rgb8(image)], return_tensors="pt")["pixel_values"]
        with torch.inference_mode():
            emb = _features(self.model.get_image_features(pixel_values=pixels.to(self.device)))
        img = torch.nn.functional.normalize(emb.float(), dim=-1)
        return float(100.0 * torch.clamp((img * self._text(prompt)).sum(dim=-1), min=0.0)[0])
